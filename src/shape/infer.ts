// Shape inference over a whole graph: the op -> rule table and the driver. Lenient by design: an op it cannot infer
// leaves its outputs unknown (or as declared in value_info) and is recorded; `require()` then names that node when a
// caller actually needs a shape it hid.
import { dequantizeLinear, qlinearConcat, qlinearConv, quantizeLinear } from './rules/quant';
import type { Graph, Model, Node, Value } from '../ir/graph';
import { declaredType } from '../onnx/value-info';
import { PrunedetError } from '../errors';
import {
  MAX_TRACKED_ELEMENTS,
  ShapeRuleError,
  isStatic,
  type Dim,
  type RuleContext,
  type ShapeRule,
  type TensorInfo,
} from './types';
import { conv, convTranspose, globalPool, pool } from './rules/conv-pool';
import { batchNorm, broadcastOp, cast, dropout, identity, reduce, sameAsInput } from './rules/elementwise';
import {
  concat,
  constantOfShape,
  depthToSpace,
  expand,
  flatten,
  gather,
  pad,
  range,
  reshape,
  resize,
  shape,
  size,
  slice,
  split,
  squeeze,
  tile,
  transpose,
  unsqueeze,
} from './rules/tensor-ops';
import { gatherElements, gatherNd, gemm, ifRule, matmul, nonMaxSuppression, nonZero, topk } from './rules/linalg-misc';
import { foldValues } from './fold';

const UNARY = [
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Clip',
  'Sigmoid',
  'Exp',
  'HardSwish',
  'HardSigmoid',
  'Tanh',
  'Log',
  'Sqrt',
  'Neg',
  'Abs',
  'Erf',
  'Reciprocal',
  'Elu',
  'Selu',
  'Softplus',
  'Softsign',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Mish',
  'Gelu',
  'InstanceNormalization',
  'LRN',
  'LpNormalization',
  'LayerNormalization',
  'Celu',
  'ThresholdedRelu',
  'Sin',
  'Cos',
];

/** onnxruntime's contrib ops (com.microsoft) prunedet follows on a head path. */
const MICROSOFT_RULES: Readonly<Record<string, ShapeRule>> = { QLinearConcat: qlinearConcat };

/** The op table: ONNX op type (default domain) -> shape rule. */
const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  ...Object.fromEntries(UNARY.map((op) => [op, sameAsInput])),
  Softmax: sameAsInput,
  LogSoftmax: sameAsInput,
  Hardmax: sameAsInput,
  Constant: (_ins, ctx) => [constantNodeInfo(ctx.node) ?? { dtype: 1 }],
  Identity: identity,
  Dropout: dropout,
  BatchNormalization: batchNorm,
  Cast: cast,
  Add: broadcastOp(false),
  Sub: broadcastOp(false),
  Mul: broadcastOp(false),
  Div: broadcastOp(false),
  Pow: broadcastOp(false),
  Max: broadcastOp(false),
  Min: broadcastOp(false),
  Sum: broadcastOp(false),
  Mean: broadcastOp(false),
  Where: broadcastOp(false),
  Mod: broadcastOp(false),
  Equal: broadcastOp(true),
  Less: broadcastOp(true),
  Greater: broadcastOp(true),
  LessOrEqual: broadcastOp(true),
  GreaterOrEqual: broadcastOp(true),
  And: broadcastOp(true),
  Or: broadcastOp(true),
  Xor: broadcastOp(true),
  Not: (ins) => [{ dtype: 9, shape: ins[0]?.shape && [...ins[0].shape] }],
  Conv: conv,
  QLinearConv: qlinearConv,
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  ReduceMean: reduce,
  ReduceSum: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  ReduceL1: reduce,
  ReduceL2: reduce,
  ReduceSumSquare: reduce,
  ReduceLogSumExp: reduce,
  ArgMax: reduce,
  ArgMin: reduce,
  Shape: shape,
  Size: size,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Concat: concat,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Slice: slice,
  Split: split,
  Gather: gather,
  ConstantOfShape: constantOfShape,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  Range: range,
  DepthToSpace: depthToSpace,
  SpaceToDepth: depthToSpace,
  Gemm: gemm,
  MatMul: matmul,
  TopK: topk,
  NonMaxSuppression: nonMaxSuppression,
  NonZero: nonZero,
  GatherND: gatherNd,
  GatherElements: gatherElements,
  ScatterND: sameAsInput,
  ScatterElements: sameAsInput,
  If: ifRule,
};

export interface ShapeFailure {
  node: Node;
  reason: string;
  /** true: no rule for this op; false: the rule rejected the inputs. */
  unsupported: boolean;
}

export interface InferOptions {
  /** Override input shapes, e.g. `{ input: [1, 3, 300, 300] }` (from --input-shape). */
  inputShapes?: Record<string, Dim[]>;
}

export class ShapeResult {
  constructor(
    readonly info: Map<Value, TensorInfo>,
    readonly failures: ShapeFailure[],
  ) {}

  get(v: Value | undefined): TensorInfo | undefined {
    return v ? this.info.get(v) : undefined;
  }

  shape(v: Value | undefined): Dim[] | undefined {
    return this.get(v)?.shape;
  }

  /** The static shape of `v`, or an error naming the node whose op hid it. */
  requireStatic(v: Value, purpose: string): number[] {
    const s = this.shape(v);
    if (isStatic(s)) return s;
    const culprit = this.culprit(v);
    if (culprit) {
      throw new PrunedetError(
        culprit.unsupported ? 'E_OP_UNSUPPORTED' : 'E_SHAPE',
        `${purpose} needs the shape of ${v.name}, which depends on node ${culprit.node.label()}: ${culprit.reason}`,
        culprit.unsupported
          ? 'export without this op (e.g. run onnx-simplifier) or pass --head-spec'
          : 'check the model with onnx.checker, or pass --input-shape',
      );
    }
    throw new PrunedetError(
      'E_SHAPE',
      `${purpose} needs the shape of ${v.name}, which is ${s ? `[${s.join(',')}]` : 'unknown'}`,
      'pass --input-shape 1,3,H,W for models with a dynamic input size',
    );
  }

  /** The first failed node upstream of `v`. */
  culprit(v: Value): ShapeFailure | undefined {
    const failed = new Map(this.failures.map((f) => [f.node, f]));
    const seen = new Set<Value>();
    const stack = [v];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      const p = x.producer;
      if (!p) continue;
      const f = failed.get(p);
      if (f) return f;
      for (const i of p.inputs) if (i) stack.push(i);
    }
    return undefined;
  }
}

function constantInfo(t: { dataType: number; dims: readonly number[]; size: number; numbers(): number[] }): TensorInfo {
  const info: TensorInfo = { dtype: t.dataType, shape: [...t.dims] };
  if (t.size <= MAX_TRACKED_ELEMENTS && t.dataType !== 8) {
    try {
      info.value = t.numbers();
    } catch {
      // types without a numeric view (complex, 4-bit) simply carry no value
    }
  }
  return info;
}

/** Constant nodes carry their value in one of several attributes (value, value_float, value_ints, ...). */
function constantNodeInfo(n: Node): TensorInfo | undefined {
  const t = n.getTensor('value');
  if (t) return constantInfo(t);
  const f = n.getFloat('value_float');
  if (f !== undefined) return { dtype: 1, shape: [], value: [f] };
  const fs = n.getFloats('value_floats');
  if (fs) return { dtype: 1, shape: [fs.length], value: fs };
  const i = n.getInt('value_int');
  if (i !== undefined) return { dtype: 7, shape: [], value: [i] };
  const is = n.getInts('value_ints');
  if (is) return { dtype: 7, shape: [is.length], value: is };
  return undefined;
}

export function inferShapes(model: Model | Graph, opts: InferOptions = {}): ShapeResult {
  const graph = 'graph' in model ? model.graph : model;
  const opset = 'graph' in model ? (model.opset('') ?? 13) : 13;
  const info = new Map<Value, TensorInfo>();
  const failures: ShapeFailure[] = [];
  let counter = 0;
  const fresh = () => `unk__${++counter}`;

  for (const v of graph.initializers) info.set(v, constantInfo(v.initializer!));
  for (const v of graph.inputs) {
    if (v.initializer) continue;
    const d = declaredType(v);
    const override = opts.inputShapes?.[v.name];
    info.set(v, { dtype: d?.dtype ?? 1, shape: override ? [...override] : d?.shape?.map((x) => x) });
  }
  for (const node of graph.topoOrder()) {
    const ins = node.inputs.map((v) => (v ? info.get(v) : undefined));
    let outs: TensorInfo[] | undefined;
    const rule =
      node.domain === ''
        ? SHAPE_RULES[node.opType]
        : node.domain === 'com.microsoft'
          ? MICROSOFT_RULES[node.opType]
          : undefined;
    if (!rule) {
      failures.push({
        node,
        reason: `no shape rule for op ${node.domain ? `${node.domain}::` : ''}${node.opType}`,
        unsupported: true,
      });
    } else {
      try {
        const ctx: RuleContext = { node, fresh, opset };
        outs = rule(ins, ctx);
        foldValues(node, ins, outs);
      } catch (e) {
        if (!(e instanceof ShapeRuleError) && !(e instanceof TypeError) && !(e instanceof RangeError)) throw e;
        failures.push({ node, reason: e.message, unsupported: false });
      }
    }
    node.outputs.forEach((v, i) => {
      if (!v) return;
      const o = outs?.[i];
      if (o && o.shape) {
        info.set(v, o);
        return;
      }
      const declared = declaredType(v);
      if (declared?.shape) info.set(v, { dtype: o?.dtype ?? declared.dtype, shape: declared.shape });
      else info.set(v, o ?? { dtype: declared?.dtype ?? 1 });
    });
  }
  return new ShapeResult(info, failures);
}
