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
import { DEQUANTIZE, QLINEAR_CONV, dequantizedConstant } from '../quant/ops';

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

  /**
   * `v` = DequantizeLinear(data, scale, zero point) of constants, restricted to `indices` along axis 0: a new
   * DequantizeLinear of the sliced data, with per-channel scales and zero points sliced alike (per-tensor ones
   * untouched), so a QDQ conv stays a QDQ conv (the runtime fuses it into a quantized conv as before).
   */
  takeDequantized(v: Value, indices: readonly number[], user: Node): Value {
    const dq = dequantizedConstant(v)!;
    const perChannel = dq.q.axis !== undefined && dq.q.scale.size > 1;
    if (perChannel && dq.q.axis !== 0)
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `${dq.node.label()} quantizes ${user.label()}'s parameters per channel along axis ${dq.q.axis}, not along the output channels (axis 0)`,
        'quantize conv weights per output channel (axis 0) or per tensor',
      );
    const key = `dq\u0000${v.name}\u0000${indices.join(',')}`;
    let out = this.memo.get(key);
    if (!out) {
      const n = dq.node;
      const data = this.take(n.inputs[0]!, 0, indices, user);
      const scale = perChannel ? this.take(n.inputs[1]!, 0, indices, user) : n.inputs[1];
      const zp = perChannel && n.inputs[2] ? this.take(n.inputs[2], 0, indices, user) : n.inputs[2];
      if (data === n.inputs[0]) return v;
      out = this.graph.newValue(`${v.name}_pruned`);
      // node names are their own namespace: the new value's (unique) name, made unique among nodes
      const names = new Set(this.graph.nodes.map((x) => x.name));
      let name = out.name;
      for (let i = 1; names.has(name); i++) name = `${out.name}_${i}`;
      this.graph.addNode(DEQUANTIZE, [data, scale, ...(zp ? [zp] : [])], [out], {
        name,
        attributes: n.attributes.map((a) => ({ ...a })),
        before: user,
      });
      this.cloned++;
      this.memo.set(key, out);
    }
    return out;
  }

  /** A conv's weight or bias restricted to output channels `indices`: a constant, a static value, or a QDQ weight. */
  sliceParameter(node: Node, i: number, indices: readonly number[]): void {
    const v = node.inputs[i];
    if (!v) return;
    node.setInput(i, dequantizedConstant(v) ? this.takeDequantized(v, indices, node) : this.take(v, 0, indices, node));
  }

  /** Point input `i` of `node` at the slice (leaving the original for its other users). */
  sliceInput(node: Node, i: number, axis: number, indices: readonly number[]): void {
    const v = node.inputs[i];
    if (v) node.setInput(i, this.take(v, axis, indices, node));
  }
}

/** Keep output channels `channels` (in this order) of `conv`, and of its depthwise feeders. */
export function sliceConvOutputs(conv: Node, feeders: Node[], channels: number[], cache: SliceCache): void {
  sliceConvParameters(conv, channels, cache);
  if (feeders.length === 0) return;
  // A depthwise conv: its input channels are its output channels, so they shrink too (and `group` with them).
  conv.setAttr('group', { type: 'int', value: channels.length });
  for (const f of feeders) sliceChannelOp(f, channels, cache);
}

/**
 * Output channels `channels` of a conv's parameters. Conv: weight and bias (float constants or DequantizeLinear of
 * int8/int32 constants). QLinearConv: w, its per-channel w_scale / w_zero_point, the int32 bias; x and y
 * quantization is per tensor and stays.
 */
function sliceConvParameters(conv: Node, channels: number[], cache: SliceCache): void {
  if (conv.opType !== QLINEAR_CONV) {
    cache.sliceParameter(conv, 1, channels);
    cache.sliceParameter(conv, 2, channels);
    return;
  }
  cache.sliceInput(conv, 3, 0, channels);
  for (const i of [4, 5]) if ((conv.inputs[i]?.constant()?.size ?? 1) > 1) cache.sliceInput(conv, i, 0, channels);
  cache.sliceInput(conv, 8, 0, channels);
}

function sliceChannelOp(node: Node, channels: number[], cache: SliceCache): void {
  switch (node.opType) {
    case 'Conv':
    case QLINEAR_CONV:
      sliceConvParameters(node, channels, cache);
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
