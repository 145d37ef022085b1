// Slicing a head conv's output channels (weights and bias), through a depthwise conv back into the conv feeding it
// (group rewritten), and the per-channel ops between them. Initializers shared by several nodes are never mutated:
// each distinct slice becomes a new initializer, memoised so identical slices stay shared. A value the graph computes
// before run time (an anchor grid built from feature-map sizes) is sliced by a Gather on it, so its numbers stay the
// ones the graph computes, bit for bit; unless its computation reads the shape of a tensor the pruning shrinks
// (torchvision splits the anchor grid by the head's anchors per level): then its original value becomes a constant.
import type { Graph, Node, Value } from '../ir/graph';
import { A } from '../ir/builder';
import { Tensor } from '../ir/tensor';
import { takeAlongAxis } from '../ir/slice';
import { PrunedetError } from '../errors';

export class SliceCache {
  private readonly memo = new Map<string, Value>();
  cloned = 0;
  /** Gathers inserted on computed static values. */
  gathered = 0;
  /** Computed static values stored as (sliced) constants. */
  frozen = 0;

  /** `isStatic`: values fixed before run time that are computed (not initializers), which `take` may gather from. */
  constructor(
    private readonly graph: Graph,
    private readonly isStatic: (v: Value) => boolean = () => false,
    private readonly dimsOf: (v: Value) => readonly number[] | undefined = () => undefined,
    /** The original value of a computed static value that pruning would change, as a constant to slice instead. */
    private readonly freeze: (v: Value) => Tensor | undefined = () => undefined,
  ) {}

  /** Dims of a computed static value (an operand `take` can slice), else undefined. */
  staticDims(v: Value): readonly number[] | undefined {
    return this.isStatic(v) ? this.dimsOf(v) : undefined;
  }

  /** `v` restricted to `indices` along `axis`: a (shared) new initializer, or a Gather of a computed static value. */
  take(v: Value, axis: number, indices: readonly number[], user: Node): Value {
    const t = v.constant() ?? (this.isStatic(v) ? this.freeze(v) : undefined);
    if (!t && !this.isStatic(v)) {
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `${user.label()} reads ${v.name}, which is computed at run time; prunedet slices only constant weights`,
        'export with constant weights (fold the graph with onnx-simplifier)',
      );
    }
    if (v.constant() && t!.dims[axis] === indices.length && indices.every((x, i) => x === i)) return v;
    const key = `${v.name}\u0000${axis}\u0000${indices.join(',')}`;
    let out = this.memo.get(key);
    if (!out) {
      if (t) {
        out = this.graph.addInitializer(`${v.name}_pruned`, takeAlongAxis(t, axis, indices));
        if (v.constant()) this.cloned++;
        else this.frozen++;
      } else {
        const idx = this.graph.addInitializer(`${v.name}_kept`, Tensor.fromInt64([indices.length], [...indices]));
        out = this.graph.newValue(`${v.name}_pruned`);
        this.graph.addNode('Gather', [v, idx], [out], {
          name: this.graph.uniqueName(`${v.name}_prune_gather`),
          attributes: [A.int('axis', axis)],
          ...(v.producer ? { after: v.producer } : { before: user }),
        });
        this.gathered++;
      }
      this.memo.set(key, out);
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
      if (slope && slope.size > 1)
        cache.sliceInput(node, 1, slope.dims.length === 3 ? 0 : slope.dims.length - 3, channels);
      return;
    }
    default:
      return; // element-wise activations (Relu, Clip, ...) carry no per-channel parameters
  }
}
