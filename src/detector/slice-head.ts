// Slicing a head conv's output channels (weights and bias), through a depthwise conv back into the conv feeding it
// (group rewritten), and the per-channel ops between them. Initializers shared by several nodes are never mutated:
// each distinct slice becomes a new initializer, memoised so identical slices stay shared.
import type { Graph, Node, Value } from '../ir/graph';
import { takeAlongAxis } from '../ir/slice';
import { PrunedetError } from '../errors';

export class SliceCache {
  private readonly memo = new Map<string, Value>();
  cloned = 0;

  constructor(private readonly graph: Graph) {}

  /** `v` restricted to `indices` along `axis`, as a (shared) new initializer. */
  take(v: Value, axis: number, indices: readonly number[], user: Node): Value {
    const t = v.constant();
    if (!t) {
      throw new PrunedetError('E_OP_UNSUPPORTED', `${user.label()} reads ${v.name}, which is computed at run time; prunedet slices only constant weights`, 'export with constant weights (fold the graph with onnx-simplifier)');
    }
    if (t.dims[axis] === indices.length && indices.every((x, i) => x === i)) return v;
    const key = `${v.name}\u0000${axis}\u0000${indices.join(',')}`;
    let out = this.memo.get(key);
    if (!out) {
      out = this.graph.addInitializer(`${v.name}_pruned`, takeAlongAxis(t, axis, indices));
      this.memo.set(key, out);
      this.cloned++;
    }
    return out;
  }

  /** Point input `i` of `node` at the slice (leaving the original for its other users). */
  sliceInput(node: Node, i: number, axis: number, indices: readonly number[]): void {
    const v = node.inputs[i];
    if (v) node.setInput(i, this.take(v, axis, indices, node));
  }
}

/** Keep output channels `channels` (in this order) of `conv`, and of its depthwise feeders. */
export function sliceConvOutputs(conv: Node, feeders: Node[], channels: number[], cache: SliceCache): void {
  cache.sliceInput(conv, 1, 0, channels);
  cache.sliceInput(conv, 2, 0, channels);
  if (feeders.length === 0) return;
  // A depthwise conv: its input channels are its output channels, so they shrink too (and `group` with them).
  conv.setAttr('group', { type: 'int', value: channels.length });
  for (const f of feeders) sliceChannelOp(f, channels, cache);
}

function sliceChannelOp(node: Node, channels: number[], cache: SliceCache): void {
  switch (node.opType) {
    case 'Conv':
      cache.sliceInput(node, 1, 0, channels);
      cache.sliceInput(node, 2, 0, channels);
      return;
    case 'BatchNormalization':
      for (let i = 1; i <= 4; i++) cache.sliceInput(node, i, 0, channels);
      return;
    case 'PRelu': {
      const slope = node.inputs[1]?.constant();
      if (slope && slope.size > 1) cache.sliceInput(node, 1, slope.dims.length === 3 ? 0 : slope.dims.length - 3, channels);
      return;
    }
    default:
      return; // element-wise activations (Relu, Clip, ...) carry no per-channel parameters
  }
}
