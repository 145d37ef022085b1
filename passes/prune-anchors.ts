/*
 * prune-anchors: remove anchors from a detection head, as the anchor-pruning paper does, on the deployed graph.
 *
 *   Before: conv_l -> [N, A*K, H, W] -> Transpose -> Reshape [N, H*W*A, K] -> Concat -> (Softmax) -> (decode with
 *           anchor constants [1, N_all, 2]) -> outputs [N, N_all, K]
 *   After:  conv_l keeps the channels a*K + k of its kept anchors a (anchor-major; k*A + a for value-major heads);
 *           Reshape targets, Slice/Split/Gather bounds and the anchor constants lose the removed anchors' positions;
 *           a level with no anchor left drops out of the Concat (eliminate-dead then removes its head, towers and
 *           level-only FPN path). Outputs keep their names, order and layout; only the anchor axis shrinks.
 *
 * How: the head region is traced (every output element knows the head-conv element it came from), so the kept
 * positions of every value follow from the kept channels, and each rewrite is a slice (src/detector/keep.ts,
 * rewrite-region.ts). Depthwise head convs shrink together with the 1x1 conv feeding them (group rewritten).
 * Initializers shared by several convs (RetinaNet's shared towers/output convs) are never mutated: each level gets
 * the slice it needs (src/detector/slice-head.ts).
 *
 * Preconditions: the detector analysis of the current graph; `kept` per level lists anchor indices within
 * 0..A_l-1, at least one overall. Leaves alone: towers and backbone (dead parts go in eliminate-dead).
 */
import type { Pass, PassResult } from '../src/pipeline';
import type { Graph, Node, Value } from '../src/ir/graph';
import { Tensor } from '../src/ir/tensor';
import { PrunedetError } from '../src/errors';
import { findRegion, traceRegion } from '../src/detector/region';
import { channelMasks, keptChannels, keptSets } from '../src/detector/keep';
import { SliceCache, sliceConvOutputs } from '../src/detector/slice-head';
import { rewriteRegion } from '../src/detector/rewrite-region';
import type { DetectorSpec } from '../src/detector/spec';

export interface PruneAnchorsOptions {
  /** Per level (finest first), the anchor indices to keep, ascending. */
  kept: number[][];
}

function validate(spec: DetectorSpec, kept: number[][]): void {
  if (kept.length !== spec.levels.length) {
    throw new PrunedetError('E_CONFIG_MISMATCH', `the config has ${kept.length} levels, the model ${spec.levels.length}`, 'give one entry per level, finest first');
  }
  kept.forEach((k, i) => {
    const a = spec.levels[i]!.anchorsPerLocation;
    for (const x of k) {
      if (!Number.isInteger(x) || x < 0 || x >= a) {
        throw new PrunedetError('E_CONFIG_MISMATCH', `level ${i + 1} keeps anchor ${x}, but the model has anchors 0..${a - 1} there`, 'check the config against `prunedet inspect`');
      }
    }
    if (new Set(k).size !== k.length || k.some((x, j) => j > 0 && x < k[j - 1]!)) {
      throw new PrunedetError('E_CONFIG_MISMATCH', `level ${i + 1} lists kept anchors [${k.join(',')}] out of order or twice`, 'list each kept anchor once, ascending');
    }
  });
  if (kept.every((k) => k.length === 0)) {
    throw new PrunedetError('E_CONFIG_MISMATCH', 'the config removes every anchor', 'keep at least one anchor');
  }
}

/** A raw per-level output whose conv lost every channel becomes an empty tensor of the same rank. */
function emptyMapOutput(g: Graph, out: Value, dims: number[]): void {
  const empty = g.addInitializer(`${out.name}_empty`, Tensor.fromFloat32(dims, new Float32Array(0)));
  const p = out.producer;
  if (p && p.opType === 'Identity') {
    p.setInput(0, empty);
    return;
  }
  if (p) p.setOutput(p.outputs.indexOf(out), g.newValue(`${out.name}_unused`));
  g.addNode('Identity', [empty], [out], { name: g.uniqueName(`${out.name}_empty_identity`) });
}

export const pruneAnchors: Pass<PruneAnchorsOptions> = {
  name: 'prune-anchors',
  summary: 'Remove anchors from the head convs, the layout ops after them and the embedded anchor tables.',
  run(graph, ctx, options): PassResult {
    const spec = ctx.spec;
    if (!spec) throw new PrunedetError('E_NOT_DETECTOR', 'prune-anchors needs a detection head, and analysis found none', 'run `prunedet inspect` on the model');
    validate(spec, options.kept);
    if (options.kept.every((k, i) => k.length === spec.levels[i]!.anchorsPerLocation)) {
      return { changed: false, stats: {}, rounding: [], skipped: 'the config keeps every anchor' };
    }
    const region = findRegion(graph, ctx.shapes);
    const convShapes = region.convs.map((c) => ctx.shapes.requireStatic(c.output(), 'prune-anchors'));
    const masks = channelMasks(spec, options.kept);
    const keep = keptSets(traceRegion(region, ctx.shapes), region.convs, convShapes, masks);
    const cache = new SliceCache(graph);
    let convsSliced = 0;
    let levelsEmptied = 0;
    const emptied: Node[] = [];
    spec.levels.forEach((level, li) => {
      const kept = options.kept[li]!;
      if (kept.length === level.anchorsPerLocation) return;
      if (kept.length === 0) levelsEmptied++;
      for (const conv of level.convs) {
        const channels = keptChannels(conv, level.anchorsPerLocation, kept);
        if (channels.length === 0) emptied.push(conv.node);
        else sliceConvOutputs(conv.node, conv.feeders, channels, cache);
        convsSliced++;
      }
    });
    const stats = rewriteRegion(graph, region.nodes, keep, cache);
    for (const conv of emptied) {
      for (const out of graph.outputs.filter((o) => keep.get(o) && isMapOf(o, conv))) {
        const dims = ctx.shapes.requireStatic(out, 'prune-anchors');
        emptyMapOutput(graph, out, [dims[0]!, 0, ...dims.slice(2)]);
      }
    }
    return {
      changed: true,
      stats: { convsSliced, levelsEmptied, initializersSliced: cache.cloned, reshapesRewritten: stats.reshapes, slicesRewritten: stats.slices, concatInputsDropped: stats.concatInputsDropped, constantsSliced: stats.constantsSliced },
      // slicing channels, rows and constants changes no float arithmetic
      rounding: [],
    };
  },
};

/** Is graph output `o` conv's raw map (directly or through Identity nodes)? */
function isMapOf(o: Value, conv: Node): boolean {
  let v: Value | undefined = o;
  while (v?.producer && v.producer.opType === 'Identity') v = v.producer.inputs[0];
  return v?.producer === conv;
}
