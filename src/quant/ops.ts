// Quantized ONNX ops as the rest of prunedet sees them: QuantizeLinear / DequantizeLinear (QDQ form) and QLinearConv
// (QOperator form). Where a conv's weight, bias and their scales/zero points sit, what each quantization parameter
// must satisfy (positive finite scales, one scale and zero point per channel of the quantized axis, zero points of
// the quantized type), and the quantized ops prunedet does not handle. IR only: no runtime here.
import type { Node, Value } from '../ir/graph';
import type { Tensor } from '../ir/tensor';
import { DataType, dtypeName } from '../ir/dtype';
import { PrunedetError } from '../errors';
import type { ShapeResult } from '../shape/infer';
import { isStatic } from '../shape/types';

export const QUANTIZE = 'QuantizeLinear';
export const DEQUANTIZE = 'DequantizeLinear';
export const QLINEAR_CONV = 'QLinearConv';

/** Round half to even, as QuantizeLinear rounds. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go up: step back to the even neighbour
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Element types of quantized activations and weights prunedet follows. */
export const QUANT_TYPES = new Set<number>([DataType.INT8, DataType.UINT8]);

/**
 * Quantized ops prunedet does not follow or slice: met between the head convs and the outputs, analysis refuses them
 * by name (they would otherwise end the head region silently). Any op of the com.microsoft domain whose name starts
 * with QLinear or that is a Q/DQ is refused too, except QLinearConcat (followed like a Concat).
 */
export const UNHANDLED_QUANT_OPS = new Set([
  'ConvInteger',
  'MatMulInteger',
  'QLinearMatMul',
  'QLinearAdd',
  'QLinearMul',
  'QLinearSigmoid',
  'QLinearSoftmax',
  'QLinearLeakyRelu',
  'QLinearAveragePool',
  'QLinearGlobalAveragePool',
  'DynamicQuantizeLinear',
]);

export function isQuantDequant(n: Node): boolean {
  return n.domain === '' && (n.opType === QUANTIZE || n.opType === DEQUANTIZE);
}

/** Conv or QLinearConv of the default domain: the convs a detection head is made of. */
export function isConvLike(n: Node): boolean {
  return n.domain === '' && (n.opType === 'Conv' || n.opType === QLINEAR_CONV);
}

/** onnxruntime's QLinearConcat (com.microsoft): a Concat that requantizes each input to its output's scale. */
export function isQLinearConcat(n: Node): boolean {
  return n.domain === 'com.microsoft' && n.opType === 'QLinearConcat';
}

/** A quantized op prunedet does not handle (named in refusals). */
export function isUnhandledQuantOp(n: Node): boolean {
  if (isQLinearConcat(n)) return false;
  if (UNHANDLED_QUANT_OPS.has(n.opType)) return true;
  return n.domain !== '' && (n.opType.startsWith('QLinear') || n.opType === QUANTIZE || n.opType === DEQUANTIZE);
}

/** Input index of a conv's weight and bias: Conv (X, W, B), QLinearConv (x, xs, xz, w, ws, wz, ys, yz, B). */
export function convWeightIndex(n: Node): number {
  return n.opType === QLINEAR_CONV ? 3 : 1;
}
export function convBiasIndex(n: Node): number {
  return n.opType === QLINEAR_CONV ? 8 : 2;
}

/** The value a conv reads as its weight (a float initializer, a DequantizeLinear output, or QLinearConv's int8 w). */
export function convWeight(n: Node): Value | undefined {
  return n.inputs[convWeightIndex(n)];
}

/** One quantization: scale and zero point tensors, and the axis they run along when per-channel. */
export interface Quantization {
  scale: Tensor;
  zeroPoint?: Tensor;
  /** Axis of the quantized tensor the scales run along (per-channel), or undefined (per tensor). */
  axis?: number;
}

/** A DequantizeLinear of constant data: the weight (or bias) of a QDQ conv. */
export interface DequantizedConstant {
  node: Node;
  data: Tensor;
  q: Quantization;
}

/** `v` = DequantizeLinear(constant, constant scale, constant zero point), else undefined. */
export function dequantizedConstant(v: Value | undefined): DequantizedConstant | undefined {
  const p = v?.producer;
  if (!p || p.domain !== '' || p.opType !== DEQUANTIZE) return undefined;
  const data = p.inputs[0]?.constant();
  const scale = p.inputs[1]?.constant();
  if (!data || !scale) return undefined;
  const zp = p.inputs[2]?.constant();
  const rank = data.dims.length;
  const axis = scale.size > 1 || scale.dims.length === 1 ? (p.getInt('axis', 1)! + rank) % rank : undefined;
  return { node: p, data, q: { scale, ...(zp ? { zeroPoint: zp } : {}), ...(axis !== undefined ? { axis } : {}) } };
}

/** Float values of a conv's weight: a float constant, DequantizeLinear of constants, or QLinearConv's w dequantised. */
export function convWeightFloat(n: Node): { dims: number[]; data: Float32Array } | undefined {
  if (n.opType === QLINEAR_CONV) {
    const w = n.inputs[3]?.constant();
    const s = n.inputs[4]?.constant();
    if (!w || !s) return undefined;
    return dequantize(w, {
      scale: s,
      ...(n.inputs[5]?.constant() ? { zeroPoint: n.inputs[5]!.constant()! } : {}),
      axis: 0,
    });
  }
  const w = n.inputs[1];
  const t = w?.constant();
  if (t) return { dims: [...t.dims], data: t.float32() };
  const dq = dequantizedConstant(w);
  return dq ? dequantize(dq.data, dq.q) : undefined;
}

/** Float values of a conv's bias (QLinearConv: int32 times x_scale * w_scale[c]). */
export function convBiasFloat(n: Node): Float32Array | undefined {
  if (n.opType === QLINEAR_CONV) {
    const b = n.inputs[8]?.constant();
    const xs = n.inputs[1]?.constant()?.float32()[0];
    const ws = n.inputs[4]?.constant()?.float32();
    if (!b || xs === undefined || !ws) return undefined;
    const q = b.numbers();
    return Float32Array.from(q, (v, c) => v * Math.fround(xs * ws[ws.length === 1 ? 0 : c]!));
  }
  const v = n.inputs[2];
  const t = v?.constant();
  if (t) return t.float32();
  const dq = dequantizedConstant(v);
  return dq ? dequantize(dq.data, dq.q).data : undefined;
}

/** Dequantise `data` with `q` (float32 arithmetic as the op defines it: (x - zp) * scale). */
export function dequantize(data: Tensor, q: Quantization): { dims: number[]; data: Float32Array } {
  const x = data.numbers();
  const s = q.scale.float32();
  const z = q.zeroPoint?.numbers();
  const dims = [...data.dims];
  const inner = q.axis === undefined ? 1 : dims.slice(q.axis + 1).reduce((a, b) => a * b, 1);
  const len = q.axis === undefined ? 1 : dims[q.axis]!;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = q.axis === undefined ? 0 : Math.floor(i / inner) % len;
    out[i] = Math.fround((x[i]! - (z ? z[z.length === 1 ? 0 : c]! : 0)) * s[s.length === 1 ? 0 : c]!);
  }
  return { dims, data: out };
}

function bad(node: Node, what: string, fix: string): never {
  throw new PrunedetError('E_ONNX_INVALID', `${node.label()}: ${what}`, fix);
}

/**
 * Check one quantization's parameters against the tensor they quantize (`dims`, `dtype` of the quantized side):
 * scales positive and finite, one per channel of `axis` when per-channel, zero points of the quantized type and of
 * the scale's length.
 */
export function checkQuantization(
  node: Node,
  role: string,
  scale: Tensor | undefined,
  zeroPoint: Tensor | undefined,
  dims: readonly number[] | undefined,
  axis: number | undefined,
  quantType: number | undefined,
): void {
  if (!scale) return; // computed at run time: nothing to check statically
  if (scale.dataType !== DataType.FLOAT && scale.dataType !== DataType.FLOAT16 && scale.dataType !== DataType.DOUBLE)
    bad(node, `${role} scale is ${dtypeName(scale.dataType)}, not float`, 're-export the model with float scales');
  const s = scale.numbers();
  const i = s.findIndex((v) => !(v > 0) || !Number.isFinite(v));
  if (i >= 0)
    bad(
      node,
      `${role} scale${s.length > 1 ? `[${i}]` : ''} is ${s[i]}; a scale must be positive and finite`,
      're-quantize the model (calibrate on data that reaches this tensor)',
    );
  if (s.length > 1 || scale.dims.length === 1) {
    const d = dims && axis !== undefined ? dims[axis] : undefined;
    if (d !== undefined && s.length !== d && !(s.length === 1 && scale.dims.length === 1))
      bad(
        node,
        `${role} has ${s.length} per-channel scales, but axis ${axis} of the tensor it quantizes has ${d} channels`,
        'give one scale per channel (or one scale per tensor) and re-export the model',
      );
  }
  if (!zeroPoint) return;
  if (quantType !== undefined && zeroPoint.dataType !== quantType)
    bad(
      node,
      `${role} zero point is ${dtypeName(zeroPoint.dataType)}, but the tensor it quantizes is ${dtypeName(quantType)}`,
      'give the zero point the quantized tensor type (int8 or uint8; int32 for a bias)',
    );
  if (zeroPoint.size !== s.length)
    bad(
      node,
      `${role} has ${zeroPoint.size} zero point${zeroPoint.size === 1 ? '' : 's'} for ${s.length} scale${s.length === 1 ? '' : 's'}`,
      'give one zero point per scale and re-export the model',
    );
}

/**
 * Check every Q/DQ and QLinearConv of a graph whose parameters are constants (E_ONNX_INVALID naming the node), with
 * the static shapes and types of shape inference.
 */
export function checkQuantizedNodes(nodes: Iterable<Node>, shapes: ShapeResult): void {
  const dimsOf = (v: Value | undefined) => {
    const s = v ? shapes.shape(v) : undefined;
    return isStatic(s) ? s : undefined;
  };
  const dtypeOf = (v: Value | undefined) => (v ? shapes.get(v)?.dtype : undefined);
  for (const n of nodes) {
    if (n.domain !== '') continue;
    if (n.opType === QUANTIZE || n.opType === DEQUANTIZE) {
      const x = n.inputs[0];
      const dims = x?.constant()?.dims ?? dimsOf(x);
      const rank = dims?.length;
      const scale = n.inputs[1]?.constant();
      const axis = rank !== undefined ? (n.getInt('axis', 1)! + rank) % rank : undefined;
      const zp = n.inputs[2]?.constant();
      // a DequantizeLinear input typed float comes from an op shape inference could not type (ConvInteger, a
      // custom op): its type is unknown here, so only its scale and zero point lengths are checked
      const xType = n.opType === DEQUANTIZE ? (x?.constant()?.dataType ?? dtypeOf(x)) : undefined;
      const qType =
        n.opType === DEQUANTIZE ? (xType === DataType.FLOAT ? undefined : xType) : (zp?.dataType ?? DataType.UINT8);
      if (n.opType === QUANTIZE && zp && !QUANT_TYPES.has(zp.dataType))
        bad(
          n,
          `output zero point is ${dtypeName(zp.dataType)}; prunedet follows int8 and uint8 quantization`,
          'give the zero point type int8 or uint8',
        );
      checkQuantization(n, n.opType === QUANTIZE ? 'output' : 'input', scale, zp, dims, axis, qType);
    } else if (n.opType === QLINEAR_CONV) {
      const xType = dtypeOf(n.inputs[0]);
      const w = n.inputs[3]?.constant();
      checkQuantization(n, 'x', n.inputs[1]?.constant(), n.inputs[2]?.constant(), undefined, undefined, xType);
      checkQuantization(n, 'w', n.inputs[4]?.constant(), n.inputs[5]?.constant(), w?.dims, 0, w?.dataType);
      const yz = n.inputs[7]?.constant();
      checkQuantization(n, 'y', n.inputs[6]?.constant(), yz, undefined, undefined, yz?.dataType);
      const b = n.inputs[8]?.constant();
      if (b && w && (b.dataType !== DataType.INT32 || b.size !== w.dims[0]))
        bad(
          n,
          `bias is ${dtypeName(b.dataType)}[${b.size}], QLinearConv needs int32[${w.dims[0]}] (one per output channel)`,
          'quantize the bias to int32 with scale x_scale * w_scale',
        );
    }
  }
}

/** The quantization of a value produced by DequantizeLinear of a quantized tensor (per tensor, constant params). */
export interface OutputQuantization {
  /** 'int8' | 'uint8'. */
  type: string;
  scale: number;
  zeroPoint: number;
}

/** Ops that move a tensor's elements without changing them: a dequantized value keeps its parameters through them. */
const LAYOUT_OPS = new Set(['Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/**
 * The quantization behind head output `v`: DequantizeLinear of an int8/uint8 tensor with constant per-tensor scale
 * and zero point, reached through layout ops and Concats whose inputs all carry the same parameters (the concatenated
 * form of a per-level head). Undefined when the value is not such a dequantization.
 */
export function outputQuantization(
  v: Value,
  dtypeOf: (v: Value | undefined) => number | undefined,
  depth = 0,
): OutputQuantization | undefined {
  const p = v.producer;
  if (!p || p.domain !== '' || depth > 32) return undefined;
  if (LAYOUT_OPS.has(p.opType)) return p.inputs[0] && outputQuantization(p.inputs[0], dtypeOf, depth + 1);
  if (p.opType === 'Concat') {
    const all = p.inputs.map((i) => (i ? outputQuantization(i, dtypeOf, depth + 1) : undefined));
    const first = all[0];
    const same = all.every(
      (q) => q && first && q.type === first.type && q.scale === first.scale && q.zeroPoint === first.zeroPoint,
    );
    return same ? first : undefined;
  }
  if (p.opType !== DEQUANTIZE) return undefined;
  const t = dtypeOf(p.inputs[0]);
  const s = p.inputs[1]?.constant();
  const z = p.inputs[2]?.constant();
  if (t === undefined || !QUANT_TYPES.has(t) || !s || s.size !== 1 || (p.inputs[2] && (!z || z.size !== 1)))
    return undefined;
  return { type: dtypeName(t), scale: s.float32()[0]!, zeroPoint: z ? z.numbers()[0]! : 0 };
}

/** One parameter tensor of a conv: per output channel (axis 0) or per tensor. */
export interface ConvParameter {
  role: string;
  tensor: Tensor;
  perChannel: boolean;
}

/**
 * Every constant parameter of a conv that pruning may slice or must leave alone, in a fixed order: float Conv
 * (weight, bias), QDQ Conv (int8 weight, its scale and zero point, int32 bias, its scale and zero point), QLinearConv
 * (x, w and y quantization, w, int32 bias). Undefined when one of them is computed at run time.
 */
export function convParameters(conv: Node): ConvParameter[] | undefined {
  const out: ConvParameter[] = [];
  const add = (role: string, v: Value | undefined, perChannel: (t: Tensor) => boolean): boolean => {
    if (!v) return true;
    const t = v.constant();
    if (!t) return false;
    out.push({ role, tensor: t, perChannel: perChannel(t) });
    return true;
  };
  const byChannel = () => true;
  const ifVector = (t: Tensor) => t.size > 1 || t.dims.length === 1;
  const perTensor = () => false;
  if (conv.opType === QLINEAR_CONV) {
    const ok =
      add('x scale', conv.inputs[1], perTensor) &&
      add('x zero point', conv.inputs[2], perTensor) &&
      add('weights', conv.inputs[3], byChannel) &&
      add('weight scales', conv.inputs[4], ifVector) &&
      add('weight zero points', conv.inputs[5], ifVector) &&
      add('y scale', conv.inputs[6], perTensor) &&
      add('y zero point', conv.inputs[7], perTensor) &&
      add('bias', conv.inputs[8], byChannel);
    return ok ? out : undefined;
  }
  for (const [i, name] of [
    [1, 'weight'],
    [2, 'bias'],
  ] as const) {
    const v = conv.inputs[i];
    if (!v) continue;
    const dq = dequantizedConstant(v);
    if (dq) {
      const pc = dq.q.axis !== undefined && (dq.q.scale.size > 1 || dq.q.scale.dims.length === 1);
      out.push({ role: `${name}s`, tensor: dq.data, perChannel: true });
      out.push({ role: `${name} scales`, tensor: dq.q.scale, perChannel: pc });
      if (dq.q.zeroPoint) out.push({ role: `${name} zero points`, tensor: dq.q.zeroPoint, perChannel: pc });
    } else if (!add(i === 1 ? 'weights' : 'bias', v, byChannel)) return undefined;
  }
  return out;
}

/**
 * A conv computed in integer arithmetic: QLinearConv, or the QDQ node unit runtimes fuse into one (a Conv whose
 * input and weight are DequantizeLinear of int8/uint8 tensors, bias of int32, output read only by a QuantizeLinear).
 * Each output channel is an exact int32 sum requantized with its own scale, whatever the conv's channel count.
 */
export function isIntegerConv(conv: Node, dtypeOf: (v: Value | undefined) => number | undefined): boolean {
  if (conv.domain !== '') return false;
  if (conv.opType === QLINEAR_CONV) return true;
  if (conv.opType !== 'Conv') return false;
  const dqOf = (v: Value | undefined, types: number[]) => {
    const p = v?.producer;
    return !!p && p.opType === DEQUANTIZE && p.domain === '' && types.includes(dtypeOf(p.inputs[0]) ?? -1);
  };
  const q8 = [DataType.INT8, DataType.UINT8];
  const y = conv.output();
  return (
    dqOf(conv.inputs[0], q8) &&
    dqOf(conv.inputs[1], q8) &&
    (!conv.inputs[2] || dqOf(conv.inputs[2], [DataType.INT32])) &&
    !y.isGraphOutput &&
    y.uses.length === 1 &&
    y.uses[0]!.node.opType === QUANTIZE
  );
}
