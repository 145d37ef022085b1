// prunedet's post-training static quantizer: every float Conv with constant weights becomes quantized, in one of the
// two forms ONNX runtimes accept, from activation ranges measured by calibration (calibrate.ts).
//   qdq:       x -> QuantizeLinear -> DequantizeLinear -> Conv(DQ(int8 W, per-channel scales, axis 0), DQ(int32 B))
//              -> QuantizeLinear -> DequantizeLinear -> y   (runtimes fuse DQ -> Conv -> Q into an integer conv)
//   qoperator: x -> QuantizeLinear -> QLinearConv(int8 w, per-channel w_scale, int32 B) -> DequantizeLinear -> y
// Weights: symmetric int8 (zero point 0, scale max|w|/127 per output channel, or per tensor). Activations: asymmetric
// uint8 or int8 over [min(0, lo), max(0, hi)] (0 exactly representable, as ONNX requires for padding). Bias: int32 with
// scale x_scale * w_scale[c] and zero point 0, the scale an integer conv accumulates in. Everything else stays float.
import type { Model, Node, Value } from '../ir/graph';
import { A } from '../ir/builder';
import { Tensor } from '../ir/tensor';
import { DataType } from '../ir/dtype';
import { PrunedetError } from '../errors';
import { inferShapes } from '../shape/infer';
import { removeDead } from '../ir/dce';
import { upgradeToOpset13 } from './opset';
import { DEQUANTIZE, QLINEAR_CONV, QUANTIZE, roundHalfEven } from './ops';

export type QuantFormat = 'qdq' | 'qoperator';
export type ActivationType = 'uint8' | 'int8';

export interface QuantizeOptions {
  format: QuantFormat;
  /** Activation element type (default uint8). */
  activations?: ActivationType;
  /** Weight scales per output channel (default) or one per tensor. */
  perChannel?: boolean;
  /**
   * qoperator only: a Concat all of whose inputs are dequantized conv outputs (through Transpose/Reshape, as a
   * detection head concatenates its levels) becomes onnxruntime's com.microsoft QLinearConcat, as onnxruntime's own
   * QOperator quantizer writes it: QuantizeLinear per input (the conv's own scale), QLinearConcat, DequantizeLinear.
   */
  qlinearConcat?: boolean;
}

/** Observed [min, max] of a float value over the calibration inputs. */
export type Ranges = Map<string, [number, number]>;

export interface QuantizeStats {
  convsQuantized: number;
  format: QuantFormat;
  activations: ActivationType;
  perChannel: boolean;
  /** Concats turned into QLinearConcat (qoperator with qlinearConcat). */
  concatsQuantized: number;
}

/** The convs the quantizer converts: default-domain float Conv with constant float weight (and bias, when present). */
export function quantizableConvs(m: Model): Node[] {
  return m.graph.nodes.filter(
    (n) =>
      n.domain === '' &&
      n.opType === 'Conv' &&
      n.inputs[1]?.constant()?.dataType === DataType.FLOAT &&
      (!n.inputs[2] || n.inputs[2].constant()?.dataType === DataType.FLOAT),
  );
}

/** Values whose ranges calibration must observe: each quantizable conv's input and output. */
export function calibrationTargets(m: Model): string[] {
  const names = new Set<string>();
  for (const c of quantizableConvs(m)) {
    names.add(c.inputs[0]!.name);
    names.add(c.output().name);
  }
  return [...names];
}

interface Affine {
  scale: number;
  zeroPoint: number;
}

/** Asymmetric activation quantization of [lo, hi] (0 representable exactly). */
export function activationParams(lo: number, hi: number, type: ActivationType): Affine {
  const [qmin, qmax] = type === 'int8' ? [-128, 127] : [0, 255];
  const rmin = Math.min(0, lo);
  const rmax = Math.max(0, hi);
  let scale = Math.fround((rmax - rmin) / (qmax - qmin));
  if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
  const zeroPoint = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - rmin / scale)));
  return { scale, zeroPoint };
}

/** Symmetric int8 weights, per output channel (axis 0) or per tensor. */
function quantizeWeight(w: Tensor, perChannel: boolean): { q: Int8Array; scales: Float32Array } {
  const data = w.float32();
  const cout = w.dims[0]!;
  const inner = data.length / cout;
  const groups = perChannel ? cout : 1;
  const per = data.length / groups;
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    let m = 0;
    for (let i = g * per; i < (g + 1) * per; i++) m = Math.max(m, Math.abs(data[i]!));
    scales[g] = m > 0 ? Math.fround(m / 127) : 1;
  }
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const s = scales[perChannel ? Math.floor(i / inner) : 0]!;
    q[i] = Math.max(-127, Math.min(127, roundHalfEven(data[i]! / s)));
  }
  return { q, scales };
}

/** int32 bias with scale x_scale * w_scale[c] (zero point 0). */
function quantizeBias(b: Tensor, xScale: number, wScales: Float32Array): { q: number[]; scales: Float32Array } {
  const data = b.float32();
  const scales = Float32Array.from(data, (_, c) => Math.fround(xScale * wScales[wScales.length === 1 ? 0 : c]!));
  const q = Array.from(data, (v, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(v / scales[c]!))));
  return { q, scales };
}

/** Quantize `m` in place from calibration `ranges`; returns what it did. */
export function quantizeModel(m: Model, ranges: Ranges, o: QuantizeOptions): QuantizeStats {
  const act: ActivationType = o.activations ?? 'uint8';
  const perChannel = o.perChannel ?? true;
  const actType = act === 'int8' ? DataType.INT8 : DataType.UINT8;
  const convs = quantizableConvs(m);
  if (convs.length === 0)
    throw new PrunedetError(
      'E_OP_UNSUPPORTED',
      'the model has no float Conv with constant weights to quantize',
      'quantize a float export (its convs read constant float weights)',
    );
  upgradeToOpset13(m, inferShapes(m));
  const g = m.graph;
  const nodeName = nodeNamer(g);
  const params = new Map<string, Affine>();
  const paramsOf = (v: Value): Affine => {
    const hit = params.get(v.name);
    if (hit) return hit;
    const r = ranges.get(v.name);
    if (!r)
      throw new PrunedetError(
        'E_USAGE',
        `calibration did not observe ${v.name}`,
        'calibrate on the model being quantized (the same file)',
      );
    const p = activationParams(r[0], r[1], act);
    params.set(v.name, p);
    return p;
  };
  const scalar = (base: string, s: number) => g.addInitializer(base, Tensor.fromFloat32([], Float32Array.of(s)));
  const zp = (base: string, z: number) => g.addInitializer(base, Tensor.fromNumbers(actType, [], [z]));
  const qParams = new Map<string, [Value, Value]>();
  const qParamValues = (v: Value): [Value, Value] => {
    let hit = qParams.get(v.name);
    if (!hit) {
      const p = paramsOf(v);
      hit = [scalar(`${v.name}_scale`, p.scale), zp(`${v.name}_zero_point`, p.zeroPoint)];
      qParams.set(v.name, hit);
    }
    return hit;
  };
  // One QuantizeLinear (and in QDQ one DequantizeLinear) per quantized activation, shared by its readers.
  const quantized = new Map<Value, Value>();
  const dequantizedInputs = new Map<Value, Value>();
  const once = (memo: Map<Value, Value>, x: Value, op: string, input: () => Value, before: Node): Value => {
    let out = memo.get(x);
    if (!out) {
      const [s, z] = qParamValues(x);
      const from = input();
      out = g.newValue(`${x.name}_${op === QUANTIZE ? 'quantized' : 'dequantized'}`);
      g.addNode(op, [from, s, z], [out], { name: nodeName(`${x.name}_${op}`), before });
      memo.set(x, out);
    }
    return out;
  };
  const quantize = (x: Value, before: Node): Value => once(quantized, x, QUANTIZE, () => x, before);
  const qdqInput = (x: Value, before: Node): Value =>
    once(dequantizedInputs, x, DEQUANTIZE, () => quantize(x, before), before);
  const weights = new Map<Value, { w: Value; scale: Value; zero: Value; scales: Float32Array; dequantized?: Value }>();
  for (const conv of convs) {
    const name = conv.name || nodeName(`conv_${convs.indexOf(conv)}`);
    const x = conv.inputs[0]!;
    const y = conv.output();
    const wT = conv.inputs[1]!.constant()!;
    const bT = conv.inputs[2]?.constant();
    const xp = paramsOf(x);
    // one quantized weight per float weight: RetinaNet's levels share their head convs' weights, and keep sharing
    let qw = weights.get(conv.inputs[1]!);
    if (!qw) {
      const { q: wq, scales } = quantizeWeight(wT, perChannel);
      const wScaleDims = perChannel ? [wT.dims[0]!] : [];
      qw = {
        scales,
        w: g.addInitializer(
          `${name}.weight_quantized`,
          new Tensor(DataType.INT8, wT.dims, { kind: 'raw', bytes: new Uint8Array(wq.buffer) }),
        ),
        scale: g.addInitializer(`${name}.weight_scale`, Tensor.fromFloat32(wScaleDims, scales)),
        zero: g.addInitializer(
          `${name}.weight_zero_point`,
          Tensor.fromNumbers(DataType.INT8, wScaleDims, new Array(scales.length).fill(0)),
        ),
      };
      weights.set(conv.inputs[1]!, qw);
    }
    const { w, scale: wScale, zero: wZero, scales } = qw;
    const cout = wT.dims[0]!;
    const bias = bT ? quantizeBias(bT, xp.scale, scales) : undefined;
    const bq = bias && g.addInitializer(`${name}.bias_quantized`, Tensor.fromInt32([cout], bias.q));
    const yRaw = g.newValue(`${y.name}_${o.format === 'qdq' ? 'float' : 'quantized'}`);
    const [ys, yz] = qParamValues(y);
    if (o.format === 'qdq') {
      conv.setOutput(0, yRaw);
      conv.setInput(0, qdqInput(x, conv));
      if (!qw.dequantized) {
        qw.dequantized = g.newValue(`${name}.weight_dequantized`);
        g.addNode(DEQUANTIZE, [w, wScale, wZero], [qw.dequantized], {
          name: nodeName(`${name}.weight_DequantizeLinear`),
          attributes: perChannel ? [A.int('axis', 0)] : [],
          before: conv,
        });
      }
      conv.setInput(1, qw.dequantized);
      if (bias && bq) {
        const bs = g.addInitializer(
          `${name}.bias_scale`,
          Tensor.fromFloat32(perChannel ? [cout] : [], perChannel ? bias.scales : bias.scales.subarray(0, 1)),
        );
        const bz = g.addInitializer(
          `${name}.bias_zero_point`,
          Tensor.fromInt32(perChannel ? [cout] : [], perChannel ? new Array(cout).fill(0) : [0]),
        );
        const bf = g.newValue(`${name}.bias_dequantized`);
        g.addNode(DEQUANTIZE, [bq, bs, bz], [bf], {
          name: nodeName(`${name}.bias_DequantizeLinear`),
          attributes: perChannel ? [A.int('axis', 0)] : [],
          before: conv,
        });
        conv.setInput(2, bf);
      }
      const yq = g.newValue(`${y.name}_quantized`);
      g.addNode(QUANTIZE, [yRaw, ys, yz], [yq], { name: nodeName(`${y.name}_QuantizeLinear`), after: conv });
      g.addNode(DEQUANTIZE, [yq, ys, yz], [y], { name: nodeName(`${y.name}_DequantizeLinear`), after: yq.producer! });
      // the conv's quantized output is what its readers dequantize: a later conv re-quantizes with the same params
      quantized.set(y, yq);
    } else {
      const [xs, xz] = qParamValues(x);
      const xq = quantize(x, conv);
      const at = g.nodes[g.nodes.indexOf(conv) - 1];
      g.removeNode(conv);
      const qc = g.addNode(QLINEAR_CONV, [xq, xs, xz, w, wScale, wZero, ys, yz, ...(bq ? [bq] : [])], [yRaw], {
        name: conv.name || nodeName('QLinearConv'),
        attributes: conv.attributes.map((a) => ({ ...a })),
        ...(at ? { after: at } : {}),
      });
      g.addNode(DEQUANTIZE, [yRaw, ys, yz], [y], { name: nodeName(`${y.name}_DequantizeLinear`), after: qc });
      quantized.set(y, yRaw);
    }
  }
  const concats = o.format === 'qoperator' && o.qlinearConcat ? quantizeConcats(m, act) : 0;
  g.sortTopologically();
  removeDead(g); // the float weights and biases the quantized ones replace
  return { convsQuantized: convs.length, format: o.format, activations: act, perChannel, concatsQuantized: concats };
}

/** Fresh node names (unique among nodes and values) derived from a base. */
function nodeNamer(g: Model['graph']): (base: string) => string {
  const taken = new Set(g.nodes.map((n) => n.name).filter(Boolean));
  return (base) => {
    let n = base;
    for (let i = 1; taken.has(n) || g.values.has(n); i++) n = `${base}_${i}`;
    taken.add(n);
    return n;
  };
}

/** Ops that move values without changing them, between a conv's DequantizeLinear and a head Concat. */
const MOVES = new Set(['Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

/** The per-tensor DequantizeLinear `v` is a moved copy of, if any. */
function dequantizedSource(v: Value): Node | undefined {
  let p = v.producer;
  while (p && p.domain === '' && MOVES.has(p.opType)) p = p.inputs[0]?.producer;
  if (!p || p.domain !== '' || p.opType !== DEQUANTIZE) return undefined;
  return p.inputs[1]?.constant()?.size === 1 && p.inputs[2]?.constant()?.size === 1 ? p : undefined;
}

/** Concats of dequantized values -> Q per input, com.microsoft QLinearConcat, DequantizeLinear. Returns how many. */
function quantizeConcats(m: Model, act: ActivationType): number {
  const g = m.graph;
  const [qmin, qmax] = act === 'int8' ? [-128, 127] : [0, 255];
  const nodeName = nodeNamer(g);
  let count = 0;
  for (const n of [...g.nodes]) {
    if (n.domain !== '' || n.opType !== 'Concat' || n.inputs.length < 2) continue;
    const sources = n.inputs.map((x) => (x ? dequantizedSource(x) : undefined));
    if (sources.some((s) => !s)) continue;
    let lo = 0;
    let hi = 0;
    for (const s of sources) {
      const sc = s!.inputs[1]!.constant()!.float32()[0]!;
      const z = s!.inputs[2]!.constant()!.numbers()[0]!;
      lo = Math.min(lo, (qmin - z) * sc);
      hi = Math.max(hi, (qmax - z) * sc);
    }
    const y = n.output();
    const p = activationParams(lo, hi, act);
    const ys = g.addInitializer(`${y.name}_scale`, Tensor.fromFloat32([], Float32Array.of(p.scale)));
    const yz = g.addInitializer(
      `${y.name}_zero_point`,
      Tensor.fromNumbers(act === 'int8' ? DataType.INT8 : DataType.UINT8, [], [p.zeroPoint]),
    );
    const ins: Value[] = [ys, yz];
    n.inputs.forEach((x, i) => {
      const [s, z] = [sources[i]!.inputs[1]!, sources[i]!.inputs[2]!];
      const q = g.newValue(`${x!.name}_quantized`);
      g.addNode(QUANTIZE, [x, s, z], [q], { name: nodeName(`${x!.name}_QuantizeLinear`), before: n });
      ins.push(q, s, z);
    });
    const yq = g.newValue(`${y.name}_quantized`);
    const axis = n.getInt('axis', 0)!;
    const at = g.nodes[g.nodes.indexOf(n) - 1];
    g.removeNode(n);
    const qc = g.addNode('QLinearConcat', ins, [yq], {
      name: n.name || nodeName('QLinearConcat'),
      domain: 'com.microsoft',
      attributes: [A.int('axis', axis)],
      ...(at ? { after: at } : {}),
    });
    g.addNode(DEQUANTIZE, [yq, ys, yz], [y], { name: nodeName(`${y.name}_DequantizeLinear`), after: qc });
    count++;
  }
  if (count) {
    const list = m.extra.opset_import as { domain?: string; version?: unknown }[];
    if (!list.some((e) => e.domain === 'com.microsoft')) list.push({ domain: 'com.microsoft', version: 1 });
  }
  return count;
}
