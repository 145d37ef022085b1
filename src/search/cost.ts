// Head cost of a pruned-anchor candidate without compiling it: exact head MACs and box count under the paper's MAC
// convention (src/cost/macs.ts), for the search loop and its report. Not a general cost model (that is src/cost).
//
// Rule (what compile's report says after prune-anchors + eliminate-dead):
// - a kept level loses, per removed anchor, the output channels of that anchor in every anchor-carrying conv
//   (K = valuesPerAnchor of A·K) and in that conv's depthwise feeders; conv MACs are proportional to output channels,
//   so each such conv costs exactly MACs_full / A per anchor. Towers (convs before the output convs) do not shrink.
// - a level with no kept anchor loses its whole head: towers, feeders and output convs (level.headMacs).
import { convWeight, dequantizedConstant, isConvLike } from '../quant/ops';
import type { Node } from '../ir/graph';
import { nodeMacs } from '../cost/macs';
import type { ShapeResult } from '../shape/infer';
import type { DetectorSpec, LevelSpec } from '../detector/spec';
import { InternalError } from '../errors';

export interface CandidateCost {
  headMacs: number;
  boxes: number;
  /** Kept anchors per location, per level. */
  keptPerLevel: number[];
}

/** Per level: the full head MACs and the MACs one anchor costs in the anchor-carrying convs. */
export interface LevelCost {
  headMacs: number;
  perAnchorMacs: number;
  anchors: number;
  locations: number;
}

/** MACs of a conv from its weight dims and the level's map, when no shape inference result is at hand. */
function convMacsFromWeights(node: Node, level: LevelSpec, batch: number): number {
  if (!isConvLike(node)) return 0;
  const w = convWeight(node)?.constant() ?? dequantizedConstant(convWeight(node))?.data;
  if (!w) throw new InternalError(`head conv ${node.label()} has no constant weight; pass shapes to candidateCost`);
  const [cout, ...rest] = w.dims;
  const [h, wd] = level.featureMap;
  return batch * h * wd * cout! * rest.reduce((a, b) => a * b, 1);
}

/** The per-level cost table of a detector (computed once per search). */
export function levelCosts(spec: DetectorSpec, shapes?: ShapeResult): LevelCost[] {
  const batch = spec.input.shape[0] && spec.input.shape[0] > 0 ? spec.input.shape[0] : 1;
  return spec.levels.map((level) => {
    const A = level.anchorsPerLocation;
    let perAnchor = 0;
    for (const conv of level.convs) {
      for (const n of [...conv.feeders, conv.node]) {
        const m = shapes ? nodeMacs(n, shapes) : convMacsFromWeights(n, level, batch);
        if (m === undefined) throw new InternalError(`MACs of head node ${n.label()} are unknown`);
        if (m % A !== 0) throw new InternalError(`MACs of ${n.label()} (${m}) are not a multiple of its ${A} anchors`);
        perAnchor += m / A;
      }
    }
    return {
      headMacs: level.headMacs,
      perAnchorMacs: perAnchor,
      anchors: A,
      locations: level.featureMap[0] * level.featureMap[1],
    };
  });
}

/** Cost from a precomputed table and the number of kept anchors per level. */
export function costOfCounts(table: readonly LevelCost[], keptCounts: readonly number[]): CandidateCost {
  let headMacs = 0;
  let boxes = 0;
  table.forEach((l, i) => {
    const k = keptCounts[i]!;
    if (k === 0) return;
    headMacs += l.headMacs - (l.anchors - k) * l.perAnchorMacs;
    boxes += l.locations * k;
  });
  return { headMacs, boxes, keptPerLevel: [...keptCounts] };
}

/**
 * Head MACs and boxes of the model once only `kept[l]` (anchor indices within level l) remain. `shapes` (from
 * analyzeModel/loadDetector) gives the MACs of each conv through the cost model; without it they are computed from
 * the weights and the level's feature map, which is the same number for the heads prunedet analyses.
 */
export function candidateCost(
  spec: DetectorSpec,
  kept: readonly (readonly number[])[],
  shapes?: ShapeResult,
): CandidateCost {
  return costOfCounts(
    levelCosts(spec, shapes),
    kept.map((k) => k.length),
  );
}
