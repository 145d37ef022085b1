// What a detector's head says about its quantization: which form its head convs take (QDQ, QOperator), the element
// types of their activations, whether weight scales are per channel; and, per head output computed by
// DequantizeLinear of an int8/uint8 tensor, that tensor's quantization (what an int8-input post-processing module
// must be given: type, scale, zero point, per tensor).
import type { Node, Value } from '../ir/graph';
import { dtypeName } from '../ir/dtype';
import { DEQUANTIZE, QLINEAR_CONV, convParameters, outputQuantization, type OutputQuantization } from './ops';

export interface HeadQuantization {
  /** How the head convs are quantized: all QDQ, all QLinearConv, or both. */
  form: 'qdq' | 'qoperator' | 'mixed';
  /** Quantized head convs, of `of`. */
  convs: number;
  of: number;
  /** Element types of the head convs' quantized inputs (e.g. ['uint8']). */
  activations: string[];
  /** Weight scales: one per output channel, one per conv, or both kinds. */
  weights: 'per-channel' | 'per-tensor' | 'mixed';
  /**
   * Per head output (graph output name) that DequantizeLinear computes from an int8/uint8 tensor, with per-tensor
   * constant scale and zero point: the quantized tensor's type, scale and zero point (real = (q - zeroPoint) * scale).
   */
  outputs: Record<string, OutputQuantization>;
}

type DtypeOf = (v: Value | undefined) => number | undefined;

function qdqConv(conv: Node): boolean {
  return conv.opType === 'Conv' && conv.inputs[1]?.producer?.opType === DEQUANTIZE;
}

/** The head's quantization, or undefined for a float head. */
export function headQuantization(
  convs: readonly Node[],
  outputs: readonly Value[],
  dtypeOf: DtypeOf,
): HeadQuantization | undefined {
  const quantized = convs.filter((c) => c.opType === QLINEAR_CONV || qdqConv(c));
  const outs: Record<string, OutputQuantization> = {};
  for (const o of outputs) {
    const q = outputQuantization(o, dtypeOf);
    if (q) outs[o.name] = q;
  }
  if (quantized.length === 0 && Object.keys(outs).length === 0) return undefined;
  const forms = new Set(quantized.map((c) => (c.opType === QLINEAR_CONV ? 'qoperator' : 'qdq')));
  const acts = new Set<string>();
  const scales = new Set<string>();
  for (const c of quantized) {
    const x = c.opType === QLINEAR_CONV ? c.inputs[0] : c.inputs[0]?.producer?.inputs[0];
    const t = dtypeOf(x);
    if (t !== undefined) acts.add(dtypeName(t));
    const ws = convParameters(c)?.find((p) => p.role === 'weight scales');
    if (ws) scales.add(ws.perChannel ? 'per-channel' : 'per-tensor');
  }
  return {
    form: forms.size === 1 ? ([...forms][0] as 'qdq' | 'qoperator') : 'mixed',
    convs: quantized.length,
    of: convs.length,
    activations: [...acts].sort(),
    weights: scales.size === 1 ? ([...scales][0] as 'per-channel' | 'per-tensor') : 'mixed',
    outputs: outs,
  };
}

/** One line for inspect: "quantized head: QDQ, 8 of 8 convs, uint8 activations, int8 weights per-channel". */
export function describeHeadQuantization(q: HeadQuantization): string {
  const form =
    q.form === 'qdq'
      ? 'QDQ (QuantizeLinear/DequantizeLinear around Conv)'
      : q.form === 'qoperator'
        ? 'QOperator (QLinearConv)'
        : 'QDQ and QLinearConv';
  const outs = Object.entries(q.outputs).map(([n, o]) => `${n} ${o.type} scale ${o.scale} zero point ${o.zeroPoint}`);
  return `quantized head: ${form}, ${q.convs} of ${q.of} head convs, ${q.activations.join('/') || 'unknown'} activations, int8 weights ${q.weights}${outs.length ? `; outputs dequantized from ${outs.join(', ')}` : ''}`;
}
