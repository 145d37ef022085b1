// Tolerances that follow from what the passes did (design.md, "What a proof must say").
//
// Slicing and removal change no arithmetic: verify checks the sliced parameters bit for bit (parameters.ts), and an
// output that neither a recorded rounding change (StepReport.rounding) nor a sliced conv reaches must equal the
// original bit for bit. A sliced conv computes each kept channel with the same weights, but onnxruntime chooses its
// conv kernel by channel count (a classifier cut from 2 channels to 1 sums in another order at the 'extended' level,
// an ultraface head at 'all'), so its outputs may differ by the summation order: that is its own rounding below,
// with no input difference. Where a change reaches the head, the tolerance is derived per element, per input:
//
//  1. Features. A budget per value, walked over the compiled graph in topological order, in float32 ulps
//     (u = 2^-24) of the value's largest magnitude: 0 where no change reaches. A node reading a value with a budget,
//     or one computing with re-rounded constants (a folded conv), adds its own rounding: a dot product of n terms
//     (Conv, Gemm, MatMul, pooling, Softmax, reductions) evaluated on inputs or weights that differ rounds
//     differently by about sqrt(n) ulps of sum|w·x| on each side (the probabilistic rounding-error model of Higham &
//     Mary, SIAM J. Sci. Comput. 41(5), 2019), so 2·sqrt(n) + 2 (the +2: the re-rounded weights and bias); other
//     arithmetic adds 2; data movement, Relu, Clip, Max/Min nothing. Independent rounding errors add in quadrature
//     (s² = s_in² + own²; Add/Sub/Mul/Div sum their operands' s²), and the tolerance of a feature map the head reads
//     is LAMBDA·s·u·max|x|. Its one assumption: a layer does not amplify normwise relative error (trained networks
//     with normalisation keep to it; the measured margins are in the README).
//  2. Head convs. With the compiled and original activations x', x the head conv reads (both computed, so no
//     assumption is needed), per input channel i: D_i = max|x'_i − x_i| and X_i = max(|x'_i|, |x_i|); per kept output
//     channel c:  tol_c = sum_i ‖W_ci‖₁·(D_i + u·dot(n)·X_i) + 2u·|b_c|,  dot(n) = 2·LAMBDA·sqrt(n) + 2:
//     the input difference through the weights, plus both evaluations' rounding (Higham–Mary with confidence LAMBDA).
//  3. Head region. From the head convs to the outputs (layout ops, activations, in-graph decoding), an interval
//     evaluation: every element carries its value and a radius, moved by layout ops and grown by each arithmetic op
//     as the op's worst case over the interval (Add: ra + rb; Mul: |a|rb + |b|ra + ra·rb; monotone functions at the
//     interval ends; Softmax: p·(e^{2R} − 1), R the row's largest radius), plus the op's own rounding (2 ulps of the
//     result; 4 for exp-like functions; 2(k + 2) for a k-way Softmax). The result is the output's tolerance.
// A user's --atol/--rtol replaces the derived tolerance (|got − expected| <= atol + rtol·|expected|).
import { convBiasFloat, convWeightFloat } from '../../quant/ops';
import type { Graph, Node, Value } from '../../ir/graph';
import type { ShapeResult } from '../../shape/infer';
import type { RoundingChange } from '../../pipeline';
import { nodesFor, type Region } from '../../detector/region';
import {
  LayoutEvalError,
  UNARY,
  broadcastShape,
  broadcastTo,
  evalNode,
  input as regionInput,
  type Arr,
  type EvalContext,
} from '../../detector/layout-eval';

/** float32 unit roundoff. */
export const U = 2 ** -24;
/** Confidence parameter of the probabilistic rounding bounds (steps 1 and 2): a bound fails with probability ~ e^(-LAMBDA²/2). */
export const LAMBDA = 8;
/** ulps a value computed once by prunedet (float64, rounded once) may differ from the runtime's float32 chain. */
export const CONSTANT_FOLD_ULPS = 4;
const ELEMENTWISE_ULPS = 2;

/** ulps (of sum|w·x|) two float32 evaluations of an n-term dot product on differing inputs or weights may differ by. */
export function dotUlps(n: number): number {
  return 2 * LAMBDA * Math.sqrt(n) + 2;
}

/** Ops that move, select or clamp values: no rounding, 1-Lipschitz. */
const MOVES = new Set([
  'Identity',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Transpose',
  'Concat',
  'Slice',
  'Split',
  'Gather',
  'Expand',
  'Tile',
  'Pad',
  'MaxPool',
  'GlobalMaxPool',
  'Relu',
  'Clip',
  'Max',
  'Min',
  'Abs',
  'Neg',
  'Dropout',
  'Cast',
  'DepthToSpace',
  'SpaceToDepth',
  'ReduceMax',
  'ReduceMin',
  'Shape',
  'Size',
]);
/** Ops whose result's error combines both operands' errors. */
const SUMS = new Set(['Add', 'Sub', 'Sum', 'Mul', 'Div', 'Mean']);

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Terms per output element of a dot-product-like op (undefined: an elementwise op). */
function fanIn(node: Node, shapes: ShapeResult): number | undefined {
  const dims = (i: number) => {
    const s = shapes.shape(node.inputs[i]);
    return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
  };
  switch (node.opType) {
    case 'Conv':
    case 'ConvTranspose': {
      const w = dims(1);
      return w ? prod(w.slice(1)) * (node.opType === 'ConvTranspose' ? w[0]! / Math.max(1, w[1]!) : 1) : 1;
    }
    case 'Gemm': {
      const a = dims(0);
      return a ? a[node.getInt('transA', 0) ? 0 : 1] : 1;
    }
    case 'MatMul':
      return dims(0)?.at(-1) ?? 1;
    case 'AveragePool':
      return prod(node.getInts('kernel_shape', [1]) ?? [1]);
    case 'GlobalAveragePool':
      return prod(dims(0)?.slice(2) ?? [1]);
    case 'Softmax':
    case 'LogSoftmax': {
      const s = dims(0);
      return s ? (s.at(node.getInt('axis', -1)!) ?? 1) : 1;
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceL2':
    case 'LayerNormalization':
    case 'InstanceNormalization':
    case 'LRN': {
      const i = dims(0);
      const o = shapes.shape(node.outputs[0]);
      return i && o && o.every((d) => typeof d === 'number')
        ? Math.max(1, prod(i) / Math.max(1, prod(o as number[])))
        : 1;
    }
    default:
      return undefined;
  }
}

/** What the passes' rounding changes mean for a compiled graph: a budget per value (step 1). */
export class RoundingPlan {
  /** s² per value (ulps², quadrature sum of the roundings that reach it); absent = 0. */
  private readonly s2 = new Map<Value, number>();
  private readonly foldedConsts = new Set<Value>();
  private readonly foldedNodes = new Set<Node>();
  /** Nodes whose own constants a pass re-rounded (or may have: unresolved and unrecorded changes). */
  private readonly reRounded = new Set<Node>();
  /** Changes whose value is no longer in the graph (renamed by a later pass): every conv is then counted as folded. */
  readonly unresolved: number;

  constructor(
    readonly graph: Graph,
    private readonly shapes: ShapeResult,
    readonly changes: readonly RoundingChange[],
    /** Passes that changed the graph without saying what they re-rounded (an older report.json): every conv counts. */
    readonly unrecorded: readonly string[] = [],
    /**
     * Convs whose output channels prune-anchors sliced: same arithmetic per kept channel (verify checks their
     * parameters bit for bit), but onnxruntime picks conv kernels by channel count, so the order of the sums may change.
     */
    readonly sliced: readonly Node[] = [],
  ) {
    let unresolved = unrecorded.length;
    for (const c of changes) {
      const v = graph.values.get(c.value);
      if (!v) unresolved++;
      else if (c.how === 'constant-folded' || !v.producer) this.foldedConsts.add(v);
      else this.foldedNodes.add(v.producer);
    }
    this.unresolved = unresolved - unrecorded.length;
    for (const n of this.foldedNodes) this.reRounded.add(n);
    for (const n of sliced) this.foldedNodes.add(n);
    for (const node of graph.topoOrder()) {
      if (unresolved > 0 && node.opType === 'Conv') {
        // conservative: any conv may have been re-rounded
        this.foldedNodes.add(node);
        this.reRounded.add(node);
      }
      const bin = this.inputS2(node);
      if (bin === 0 && !this.foldedNodes.has(node)) continue;
      const own = this.ownUlps(node);
      for (const o of node.outputs) if (o) this.s2.set(o, bin + own * own);
    }
  }

  private inputS2(node: Node): number {
    const ins = node.inputs.map((v) =>
      v ? (this.s2.get(v) ?? (this.foldedConsts.has(v) ? CONSTANT_FOLD_ULPS ** 2 : 0)) : 0,
    );
    return SUMS.has(node.opType) ? ins.reduce((a, b) => a + b, 0) : Math.max(0, ...ins);
  }

  /** Budget s of `v` (ulps of its largest magnitude, before LAMBDA); 0: bit for bit. */
  budget(v: Value | undefined): number {
    if (!v) return 0;
    return Math.sqrt(this.s2.get(v) ?? (this.foldedConsts.has(v) ? CONSTANT_FOLD_ULPS ** 2 : 0));
  }

  /** Whether a pass re-rounded `node`'s own constants (a folded conv; any conv when changes went unrecorded). */
  parametersChanged(node: Node): boolean {
    return this.reRounded.has(node);
  }

  /** Whether `node` itself may round differently: a folded conv, or one whose channels were sliced. */
  folded(node: Node): boolean {
    return this.foldedNodes.has(node);
  }

  /** Whether `node`'s result can differ from the original's: an input differs or its own constants were re-rounded. */
  differs(node: Node): boolean {
    return this.folded(node) || node.inputs.some((v) => this.budget(v) > 0);
  }

  /** The rounding `node` adds when its inputs or constants differ. */
  private ownUlps(node: Node): number {
    if (MOVES.has(node.opType) && !this.foldedNodes.has(node)) return 0;
    const n = fanIn(node, this.shapes);
    return n === undefined ? ELEMENTWISE_ULPS : 2 * Math.sqrt(n) + 2;
  }

  /**
   * One line: what the passes changed, e.g. "fold-batchnorm re-rounded 35 convs"; with `of`, only the changes that reach
   * those values (what an output or feature map depends on).
   */
  describe(of?: readonly Value[]): string {
    const up = of ? ancestors(of) : undefined;
    const reaches = (name: string) => !up || up.has(this.graph.values.get(name)!);
    const bn = this.changes.filter((c) => c.how === 'batchnorm-folded' && reaches(c.value)).length;
    const fc = this.changes.filter((c) => c.how === 'constant-folded' && reaches(c.value)).length;
    const sl = this.sliced.filter((n) => !up || up.has(n.output())).length;
    return [
      sl
        ? `prune-anchors sliced ${sl} conv${sl === 1 ? '' : 's'} (the runtime may sum the kept channels in another order)`
        : '',
      bn ? `fold-batchnorm re-rounded ${bn} conv${bn === 1 ? '' : 's'}` : '',
      fc ? `fold-constants computed ${fc} float value${fc === 1 ? '' : 's'}` : '',
      this.unresolved ? `${this.unresolved} renamed later (every conv counted)` : '',
      this.unrecorded.length
        ? `${this.unrecorded.join(', ')} recorded no rounding changes (report.json of an older prunedet: every conv counted)`
        : '',
    ]
      .filter(Boolean)
      .join(', ');
  }
}

/** Every value `of` depends on (themselves included). */
function ancestors(of: readonly Value[]): Set<Value> {
  const seen = new Set<Value>();
  const stack = [...of];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const i of v.producer?.inputs ?? []) if (i) stack.push(i);
  }
  return seen;
}

/** Per-channel max |v| of an NCHW tensor (batch 0) of `channels` channels. */
function channelMax(data: Float32Array, channels: number, map?: Int32Array): Float64Array {
  const out = new Float64Array(map ? map.length : channels);
  const per = data.length / channels;
  out.forEach((_, c) => {
    const base = (map ? map[c]! : c) * per;
    let m = 0;
    for (let i = base; i < base + per; i++) {
      const a = Math.abs(data[i]!);
      if (!(a <= m)) m = a !== a ? Infinity : a;
    }
    out[c] = m;
  });
  return out;
}

/** The feature map a head conv reads, in both models: channel `map[c]` of the original's is channel c of the compiled's. */
export interface HeadInput {
  conv: Node;
  /** The compiled value (the original's has the same name). */
  value: Value;
  /** Compiled input channel -> original input channel, when the input itself was sliced (depthwise head convs). */
  map?: Int32Array;
}

/** How one feature map compares: the compiled and the original values (original read through `index`) and the tolerance. */
export interface FeatureComparison {
  value: string;
  got: Float32Array;
  want: Float32Array;
  index: (i: number) => number;
  /** Absolute tolerance (step 1). */
  tolerance: number;
  /** Budget in ulps of max|x| (LAMBDA·s). */
  ulps: number;
}

type Tapped = Record<string, { data: Float32Array; dims: readonly number[] }>;

/**
 * Step 2: the tolerance of each output channel of head conv `h.conv` on one input, from the compiled and original
 * activations it reads (`orig` undefined: the original's are not comparable, and step 1's budget stands in for the
 * difference); undefined when its weights are not constants (the user gives --atol/--rtol).
 */
export function headConvTolerance(
  plan: RoundingPlan,
  h: HeadInput,
  comp: Float32Array,
  orig: Float32Array | undefined,
): Float64Array | undefined {
  // float weights, or a QDQ conv's dequantized ones (a quantized conv that runs in float: no Q after it)
  const w = convWeightFloat(h.conv);
  if (!w) return undefined;
  const cout = w.dims[0]!;
  const out = new Float64Array(cout);
  if (!plan.differs(h.conv)) return out;
  const cin = w.dims[1]!;
  const group = h.conv.getInt('group', 1)!;
  const channels = cin * group;
  const perIn = prod(w.dims.slice(2));
  const n = cin * perIn;
  const X = channelMax(comp, channels);
  let D: Float64Array;
  if (orig) {
    const diff = new Float32Array(comp.length);
    const per = comp.length / channels;
    for (let i = 0; i < comp.length; i++) {
      const c = Math.floor(i / per);
      const j = (h.map ? h.map[c]! : c) * per + (i % per);
      diff[i] = comp[i]! - orig[j]!;
    }
    D = channelMax(diff, channels);
    const Xo = channelMax(orig, orig.length / per, h.map);
    Xo.forEach((v, i) => (X[i] = Math.max(X[i]!, v)));
  } else {
    const s = LAMBDA * plan.budget(h.value) * U * Math.max(...X);
    D = new Float64Array(channels).fill(s);
  }
  const own = U * dotUlps(n);
  const wd = w.data;
  const bias = convBiasFloat(h.conv);
  const outPerGroup = cout / group;
  for (let c = 0; c < cout; c++) {
    const g = Math.floor(c / outPerGroup);
    let t = 0;
    for (let i = 0; i < cin; i++) {
      let l1 = 0;
      for (let k = 0; k < perIn; k++) l1 += Math.abs(wd[(c * cin + i) * perIn + k]!);
      const ic = g * cin + i;
      t += l1 * (D[ic]! + own * X[ic]!);
    }
    out[c] = t + 2 * U * Math.abs(bias?.[c] ?? 0);
  }
  return out;
}

/** Radius (absolute tolerance) per element of each output on one input; a string says why none could be derived. */
export type OutputRadii = Map<string, Float32Array | string>;

const fill = (shape: number[], v = 0): Arr => ({ shape, data: new Float32Array(prod(shape)).fill(v) });

/** The derived tolerances of a compiled model: its rounding plan, its head region and, per input, steps 1 to 3. */
export class ToleranceModel {
  /** The feature maps the head convs a rounding change reaches read. */
  readonly heads: HeadInput[];

  constructor(
    readonly plan: RoundingPlan,
    readonly shapes: ShapeResult,
    readonly region: Region,
    readonly outputs: readonly Value[],
    /** Compiled input channel -> original input channel of a head conv whose input was sliced. */
    inputMap: (conv: Node) => Int32Array | undefined,
  ) {
    this.heads = region.boundaries
      .filter((b) => b.kind === 'conv' && plan.differs(b.node!))
      .map((b) => ({
        conv: b.node!,
        value: b.node!.inputs[0]!,
        ...(inputMap(b.node!) ? { map: inputMap(b.node!)! } : {}),
      }));
  }

  /** Whether every output is bit for bit (no rounding change reaches any of the region's inputs). */
  get exact(): boolean {
    return this.region.boundaries.every((b) => this.plan.budget(b.value) === 0);
  }

  /** Where output `name`'s tolerance comes from, in one line; undefined when it is compared bit for bit. */
  origin(name: string): string | undefined {
    const o = this.outputs.find((v) => v.name === name);
    if (!o) return undefined;
    const nodes = nodesFor(this.region, [o]);
    const reads = new Set<Value>([o, ...nodes.flatMap((n) => n.inputs.filter((v): v is Value => v !== undefined))]);
    const heads = this.region.boundaries.filter((b) => reads.has(b.value) && this.plan.budget(b.value) > 0);
    if (heads.length === 0) return undefined;
    const ops = [...new Set(nodes.map((n) => n.opType).filter((t) => !MOVES.has(t)))];
    const at = heads.some((b) => b.kind === 'conv')
      ? 'per head-conv channel, ‖W‖₁·(input difference + rounding)'
      : "from the head values' budget";
    return `${this.plan.describe([o])}: ${at}${ops.length ? `, through ${ops.join(', ')}` : ''}`;
  }

  /** Values the tolerance needs from the compiled model's run besides its outputs (and, by name, from the original's). */
  taps(): Value[] {
    if (this.exact) return [];
    const out = new Set<Value>();
    for (const b of this.region.boundaries) if (b.kind !== 'input') out.add(b.value);
    for (const h of this.heads) out.add(h.value);
    return [...out];
  }

  /** Step 1 on one input: each head feature map, compiled against original, with its tolerance. */
  features(comp: Tapped, orig: Tapped): FeatureComparison[] {
    return this.heads.flatMap((h) => {
      if (this.plan.budget(h.value) === 0) return []; // the head reads what the original computes, bit for bit
      const got = comp[h.value.name];
      const want = orig[h.value.name];
      if (!got || !want) return [];
      const channels = got.dims[1] ?? 1;
      const per = got.data.length / channels;
      const map = h.map;
      if (!map && want.data.length !== got.data.length) return [];
      let X = 0;
      for (const v of want.data) X = Math.max(X, Math.abs(v));
      const ulps = LAMBDA * this.plan.budget(h.value);
      return [
        {
          value: h.value.name,
          got: got.data,
          want: want.data,
          index: (i: number) => (map ? map[Math.floor(i / per)]! * per + (i % per) : i),
          tolerance: ulps * U * X,
          ulps,
        },
      ];
    });
  }

  /** Steps 2 and 3 on one input: the tolerance of every output element. */
  radii(comp: Tapped, orig: Tapped): OutputRadii {
    const result: OutputRadii = new Map();
    if (this.exact) return result;
    const values = new Map<Value, Arr>();
    const radii = new Map<Value, Arr | undefined>();
    const failed = new Map<Value, string>();
    for (const b of this.region.boundaries) {
      const t = comp[b.value.name];
      if (b.kind === 'input') continue;
      if (!t) {
        failed.set(b.value, `${b.value.name} was not computed`);
        continue;
      }
      const shape = [...t.dims];
      values.set(b.value, { shape, data: t.data });
      if (b.kind === 'conv') {
        const h = this.heads.find((x) => x.conv === b.node);
        const x = h ? comp[h.value.name] : undefined;
        const xo = h ? orig[h.value.name] : undefined;
        const tol = !h
          ? new Float64Array(shape[1] ?? 1)
          : x
            ? headConvTolerance(
                this.plan,
                h,
                x.data,
                xo && (h.map || xo.data.length === x.data.length) ? xo.data : undefined,
              )
            : undefined;
        if (!tol) {
          failed.set(b.value, `head conv ${b.node!.label()} has no constant weights to derive a tolerance from`);
          continue;
        }
        const hw = prod(shape.slice(2));
        const r = fill(shape);
        tol.forEach((v, c) => r.data.fill(v, c * hw, (c + 1) * hw));
        radii.set(b.value, tol.some((v) => v > 0) ? r : undefined);
      } else {
        const budget = LAMBDA * this.plan.budget(b.value);
        let m = 0;
        for (const v of t.data) m = Math.max(m, Math.abs(v));
        radii.set(b.value, budget > 0 ? fill(shape, U * budget * m) : undefined);
      }
    }
    const ctx: EvalContext = { mode: 'value', shapes: this.shapes, env: values };
    for (const node of this.region.nodes) {
      const why = node.inputs.map((v) => (v ? failed.get(v) : undefined)).find(Boolean);
      if (why) {
        for (const o of node.outputs) if (o) failed.set(o, why);
        continue;
      }
      try {
        const outs = evalNode(ctx, node);
        node.outputs.forEach((o, i) => o && outs[i] && values.set(o, outs[i]!));
        const rs = propagate(ctx, node, radii);
        node.outputs.forEach((o, i) => o && radii.set(o, rs?.[i]));
      } catch (e) {
        if (!(e instanceof LayoutEvalError)) throw e;
        for (const o of node.outputs)
          if (o) failed.set(o, `cannot follow the tolerance through ${node.label()}: ${e.message}`);
      }
    }
    for (const o of this.outputs) {
      const why = failed.get(o);
      if (why) {
        result.set(o.name, why);
        continue;
      }
      const r = radii.get(o);
      const n = values.get(o)?.data.length ?? prod((this.shapes.shape(o) as number[] | undefined) ?? [0]);
      result.set(o.name, r ? (r.data as Float32Array) : new Float32Array(n));
    }
    return result;
  }
}

const TRANSCENDENTAL = new Set(['Exp', 'Log', 'Sqrt', 'Sigmoid', 'Tanh', 'Pow']);

/** Step 3 for one node: the radii of its outputs (undefined = 0 everywhere) from its inputs' values and radii. */
function propagate(ctx: EvalContext, node: Node, radii: Map<Value, Arr | undefined>): (Arr | undefined)[] | undefined {
  const ins = node.inputs.map((v) => (v ? radii.get(v) : undefined));
  if (ins.every((r) => r === undefined)) return undefined;
  const val = (i: number) => regionInput(ctx, node, i)!;
  const rad = (i: number): Arr => ins[i] ?? fill(val(i).shape);
  const op = node.opType;
  if (MOVES.has(op) && !['Relu', 'Clip', 'Max', 'Min', 'Abs', 'Neg'].includes(op)) {
    // data movement: move the radii as the values move (inputs without a radius move zeros)
    const env = new Map<Value, Arr>();
    node.inputs.forEach((v, i) => v && (ins[i] || regionInput(ctx, node, i) !== undefined) && env.set(v, rad(i)));
    return evalNode({ mode: 'value', shapes: ctx.shapes, env }, node);
  }
  const out = evalNode(ctx, node)[0]!;
  const n = out.data.length;
  const r = new Float32Array(n);
  const rounding = (k: number) => {
    for (let i = 0; i < n; i++) r[i] = r[i]! + k * U * Math.abs(out.data[i]!);
  };
  const bin = (f: (a: number, b: number, ra: number, rb: number) => number) => {
    const shape = broadcastShape(val(0).shape, val(1).shape);
    const [A, B, RA, RB] = [
      broadcastTo('value', val(0), shape),
      broadcastTo('value', val(1), shape),
      broadcastTo('value', rad(0), shape),
      broadcastTo('value', rad(1), shape),
    ];
    for (let i = 0; i < n; i++) r[i] = f(A.data[i]!, B.data[i]!, RA.data[i]!, RB.data[i]!);
  };
  switch (op) {
    case 'Relu':
    case 'Clip':
    case 'Abs':
    case 'Neg':
      r.set(rad(0).data);
      break;
    case 'Max':
    case 'Min':
      bin((_a, _b, ra, rb) => Math.max(ra, rb));
      break;
    case 'Add':
    case 'Sub':
      bin((_a, _b, ra, rb) => ra + rb);
      rounding(ELEMENTWISE_ULPS);
      break;
    case 'Mul':
      bin((a, b, ra, rb) => Math.abs(a) * rb + Math.abs(b) * ra + ra * rb);
      rounding(ELEMENTWISE_ULPS);
      break;
    case 'Div':
      bin((a, b, ra, rb) =>
        Math.abs(b) > rb ? (Math.abs(a) * rb + Math.abs(b) * ra) / (Math.abs(b) * (Math.abs(b) - rb)) : Infinity,
      );
      rounding(ELEMENTWISE_ULPS);
      break;
    case 'Pow':
      bin((a, b, ra, rb) =>
        rb > 0 || (a - ra < 0 && !Number.isInteger(b)) ? Infinity : monotoneRadius((x) => x ** b, a, ra),
      );
      rounding(4);
      break;
    case 'Softmax':
    case 'LogSoftmax': {
      const k = out.shape.at(-1)!;
      const ra = rad(0).data;
      for (let o = 0; o < n; o += k) {
        let R = 0;
        for (let i = o; i < o + k; i++) R = Math.max(R, ra[i]!);
        for (let i = o; i < o + k; i++) r[i] = op === 'Softmax' ? out.data[i]! * Math.expm1(2 * R) : 2 * R;
      }
      rounding(2 * (k + 2));
      break;
    }
    default: {
      const f = UNARY[op];
      if (!f) throw new LayoutEvalError(node, `no tolerance rule for ${op}`);
      const a = val(0).data;
      const ra = rad(0).data;
      for (let i = 0; i < n; i++) r[i] = monotoneRadius(f, a[i]!, ra[i]!);
      rounding(TRANSCENDENTAL.has(op) ? 4 : ELEMENTWISE_ULPS);
    }
  }
  return [{ shape: out.shape, data: r }];
}

/** Largest |f(a ± r) − f(a)| of a function monotone on [a − r, a + r] (Infinity across a pole or outside its domain). */
function monotoneRadius(f: (v: number) => number, a: number, r: number): number {
  if (r === 0) return 0;
  const [lo, c, hi] = [f(a - r), f(a), f(a + r)];
  const monotone = (lo <= c && c <= hi) || (lo >= c && c >= hi);
  const d = Math.max(Math.abs(hi - c), Math.abs(lo - c));
  return monotone && Number.isFinite(d) ? d : Infinity;
}
