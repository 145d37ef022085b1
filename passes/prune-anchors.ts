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
 * Full exports (torchvision SSD/RetinaNet exported whole: preprocessing, head, per-level score filter, top-k, decode,
 * NMS in the graph): the tensors after the score filter have data-dependent sizes and need nothing; the anchor tables
 * the selected positions are looked up in (src/detector/post-region.ts) lose the removed anchors' rows, level split
 * points and Reshape targets the graph computes from shapes become the pruned constants, and a top-k with a fixed k
 * never asks for more than the pruned axis holds. Anchor grids the graph computes are sliced by a Gather on them.
 *
 * Preconditions: the detector analysis of the current graph; `kept` per level lists anchor indices within
 * 0..A_l-1, at least one overall. Leaves alone: towers and backbone (dead parts go in eliminate-dead).
 */
import type { Pass, PassResult } from '../src/pipeline';
import type { Graph, Node, Value } from '../src/ir/graph';
import { Tensor } from '../src/ir/tensor';
import { PrunedetError } from '../src/errors';
import { channelMasks, keptChannels, keptSets, type ValueKeep } from '../src/detector/keep';
import type { IndexSpace } from '../src/detector/post-region';
import { SliceCache, sliceConvOutputs } from '../src/detector/slice-head';
import { rewriteRegion } from '../src/detector/rewrite-region';
import type { DetectorSpec, PostprocessInGraph } from '../src/detector/spec';
import { levelName } from '../src/format/levels';

export interface PruneAnchorsOptions {
  /** Per level (finest first), the anchor indices to keep, ascending. */
  kept: number[][];
}

function validate(spec: DetectorSpec, kept: number[][]): void {
  if (kept.length !== spec.levels.length) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `the config has ${kept.length} levels, the model ${spec.levels.length}`,
      'give one entry per level, finest first',
    );
  }
  kept.forEach((k, i) => {
    const a = spec.levels[i]!.anchorsPerLocation;
    for (const x of k) {
      if (!Number.isInteger(x) || x < 0 || x >= a) {
        throw new PrunedetError(
          'E_CONFIG_MISMATCH',
          `${levelName(i)} keeps anchor ${x}, but the model has anchors 0..${a - 1} there`,
          'check the config against `prunedet inspect`',
        );
      }
    }
    if (new Set(k).size !== k.length || k.some((x, j) => j > 0 && x < k[j - 1]!)) {
      throw new PrunedetError(
        'E_CONFIG_MISMATCH',
        `${levelName(i)} lists kept anchors [${k.join(',')}] out of order or twice`,
        'list each kept anchor once, ascending',
      );
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
    if (!spec)
      throw new PrunedetError(
        'E_NOT_DETECTOR',
        'prune-anchors needs a detection head, and analysis found none',
        'run `prunedet inspect` on the model',
      );
    validate(spec, options.kept);
    if (options.kept.every((k, i) => k.length === spec.levels[i]!.anchorsPerLocation)) {
      return { changed: false, stats: {}, rounding: [], skipped: 'the config keeps every anchor' };
    }
    // The analysis of this graph state carries its head region and trace: no second walk.
    const { region, trace } = spec.head;
    const convShapes = region.convs.map((c) => ctx.shapes.requireStatic(c.output(), 'prune-anchors'));
    const masks = channelMasks(spec, options.kept);
    const keep = keptSets(trace, region.convs, convShapes, masks);
    const staticDims = (v: Value) => {
      const s = ctx.shapes.shape(v);
      return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
    };
    const cache = new SliceCache(
      graph,
      (v) => region.statics.isComputed(v),
      staticDims,
      (v) => (readsShrunkShape(v, keep) ? region.statics.tensor(v) : undefined),
    );
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
    const stats = rewriteRegion(graph, region.nodes, keep, cache, ctx.shapes);
    const post = spec.postprocess
      ? prunePostprocess(graph, spec.postprocess, keep, cache)
      : { tablesSliced: 0, topKRewritten: 0 };
    for (const conv of emptied) {
      for (const out of graph.outputs.filter((o) => keep.get(o) && isMapOf(o, conv))) {
        const dims = ctx.shapes.requireStatic(out, 'prune-anchors');
        emptyMapOutput(graph, out, [dims[0]!, 0, ...dims.slice(2)]);
      }
    }
    return {
      changed: true,
      analysis: 'invalidated',
      stats: {
        convsSliced,
        levelsEmptied,
        initializersSliced: cache.cloned,
        reshapesRewritten: stats.reshapes,
        slicesRewritten: stats.slices,
        concatInputsDropped: stats.concatInputsDropped,
        constantsSliced: stats.constantsSliced,
        staticValuesGathered: cache.gathered,
        staticValuesFrozen: cache.frozen,
        ...post,
      },
      // slicing channels, rows and constants changes no float arithmetic
      rounding: [],
    };
  },
};

/** Whether computing static `v` reads the shape of a tensor the pruning shrinks (its value would change at run time). */
function readsShrunkShape(v: Value, keep: Map<Value, ValueKeep>): boolean {
  const seen = new Set<Value>();
  const stack = [v];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x) || x.constant()) continue;
    seen.add(x);
    const p = x.producer;
    if (!p) continue;
    if (p.opType === 'Shape' || p.opType === 'Size') {
      if (keep.get(p.inputs[0]!)?.some((a) => a.kept !== null)) return true;
      continue;
    }
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return false;
}

/** Kept positions of an anchor index space: whole blocks of `divisor` positions along the axis (all-or-none). */
function keptPositions(keep: Map<Value, ValueKeep>, space: IndexSpace, size: number): number[] | null {
  const k = keep.get(space.of)?.[space.axis];
  if (!k || !k.kept) return null;
  const d = space.divisor;
  const mask = new Uint8Array(k.size);
  for (const i of k.kept) mask[i] = 1;
  const out: number[] = [];
  for (let p = 0; p < size; p++) {
    let n = 0;
    for (let j = 0; j < d; j++) n += mask[p * d + j]!;
    if (n === d) out.push(p);
    else if (n !== 0)
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `the in-graph post-processing reads ${space.of.name} in blocks of ${d} that do not line up with anchors`,
        'compile with --cut-head to drop the in-graph post-processing',
      );
  }
  return out;
}

/** The in-graph post-processing of a full export: anchor tables lose the removed rows, fixed top-k never exceeds the axis. */
function prunePostprocess(
  graph: Graph,
  post: PostprocessInGraph,
  keep: Map<Value, ValueKeep>,
  cache: SliceCache,
): { tablesSliced: number; topKRewritten: number } {
  let tablesSliced = 0;
  let topKRewritten = 0;
  for (const a of post.anchorIndexed) {
    const size = a.value.constant()?.dims[a.axis] ?? cache.staticDims(a.value)?.[a.axis];
    if (size === undefined) continue;
    if (a.node.inputs[a.input] !== a.value) continue;
    const kept = keptPositions(keep, a.space, size);
    // all kept: a constant stays; a computed table is still replaced when pruning would change it (frozen)
    if (!kept && (a.value.constant() || !readsShrunkShape(a.value, keep))) continue;
    a.node.setInput(a.input, cache.take(a.value, a.axis, kept ?? Array.from({ length: size }, (_, i) => i), a.node));
    tablesSliced++;
  }
  for (const t of post.topK) {
    const k = keep.get(t.space.of)?.[t.space.axis];
    if (!k?.kept || t.k <= k.kept.length) continue;
    const n = t.node;
    if (n.attr('k')) n.setAttr('k', { type: 'int', value: k.kept.length });
    else n.setInput(1, graph.addInitializer(`${n.name || 'topk'}_k_pruned`, Tensor.fromInt64([1], [k.kept.length])));
    topKRewritten++;
  }
  return { tablesSliced, topKRewritten };
}

/** Is graph output `o` conv's raw map (directly or through Identity nodes)? */
function isMapOf(o: Value, conv: Node): boolean {
  let v: Value | undefined = o;
  while (v?.producer && v.producer.opType === 'Identity') v = v.producer.inputs[0];
  return v?.producer === conv;
}
