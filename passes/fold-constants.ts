/*
 * fold-constants: replace nodes whose outputs are known before run time by initializers.
 *
 *   Before: Shape(x) -> Gather(0) -> Unsqueeze -> Concat([n, -1, K]) -> Reshape target   (x of static shape)
 *           Constant -> Mul(Constant) -> ...
 *   After:  the Reshape reads an int64 initializer [1, -1, K]; the arithmetic on constants is done once.
 *
 * What folds: any node whose outputs shape inference already knows element by element (small int shape tensors,
 * also when computed from a static Shape), and float ops of the layout interpreter whose inputs are all constant.
 * Float results are computed in float64 and rounded once to float32 (exp may differ from onnxruntime's by an ulp).
 * Shapes come from the model's declared input shapes (never from --input-shape or an assumed batch of 1), so a
 * dynamic dimension stays dynamic. Leaves alone: graph outputs, outputs much larger than their inputs (ConstantOfShape/Expand/Tile blow-ups), random
 * ops, values with symbolic dims.
 * A folded float value the runtime might compute differently (see EXACT) is recorded as a rounding change for verify.
 */
import type { Pass, RoundingChange } from '../src/pipeline';
import type { Node, Value } from '../src/ir/graph';
import { Tensor } from '../src/ir/tensor';
import { DataType, isFloatType } from '../src/ir/dtype';
import { removeDead } from '../src/ir/dce';
import { LAYOUT_OPS, evalNode, type Arr } from '../src/detector/layout-eval';
import { inferShapes, type ShapeResult } from '../src/shape/infer';
import { isStatic, numbersOf } from '../src/shape/types';

const FROM_VALUES = new Set<number>([
  DataType.FLOAT,
  DataType.INT64,
  DataType.INT32,
  DataType.DOUBLE,
  DataType.UINT8,
  DataType.BOOL,
  DataType.INT8,
]);
const NEVER = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'Constant',
]);
const MAX_GROWTH_BYTES = 1 << 20;
/**
 * Ops whose folded float32 result is bit for bit what the runtime computes: data movement, selection and clamping
 * (no rounding), integer-valued results (Floor, Ceil, Round, comparisons), and the operations IEEE-754 requires to be
 * correctly rounded (+ − × ÷ √ 1/x): each folded node is computed in float64 from float32 inputs and rounded once to
 * float32, which gives the correctly rounded result (float64 has more than 2·24 + 2 bits, so the double rounding is
 * innocuous). Exp, Log, Pow, Sigmoid, sums and the like depend on the runtime's implementation: those are recorded.
 */
const EXACT = new Set([
  'Reshape',
  'Slice',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Expand',
  'Tile',
  'Split',
  'Transpose',
  'Concat',
  'Identity',
  'Flatten',
  'Shape',
  'Size',
  'Cast',
  'Relu',
  'Clip',
  'Max',
  'Min',
  'Abs',
  'Neg',
  'Dropout',
  'ConstantOfShape',
  'Where',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Not',
  'And',
  'Or',
  'Xor',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'ReduceMax',
  'ReduceMin',
  'ArgMax',
  'ArgMin',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Sqrt',
  'Reciprocal',
]);
/** float32 and float64 folds follow the rule above; half-precision ones are always recorded. */
const FOLDED_EXACTLY = new Set<number>([DataType.FLOAT, DataType.DOUBLE]);

function isConst(v: Value | undefined): boolean {
  return v === undefined || v.constant() !== undefined;
}

/** The folded tensors of `n`'s outputs, or undefined when it should not fold. */
function foldNode(n: Node, shapes: ShapeResult): Tensor[] | undefined {
  const outs = n.outputs.filter((o): o is Value => o !== undefined);
  if (outs.length !== n.outputs.length || outs.some((o) => o.isGraphOutput || o.uses.length === 0)) return undefined;
  // 1) values shape inference tracked (int shape arithmetic, Shape of static shapes)
  const known = outs.map((o) => shapes.get(o));
  if (
    known.every((k) => k !== undefined && isStatic(k.shape) && numbersOf(k) !== undefined && FROM_VALUES.has(k.dtype))
  ) {
    return known.map((k) => Tensor.fromNumbers(k!.dtype, k!.shape as number[], numbersOf(k)!));
  }
  // 2) float layout/arithmetic ops on constants
  if (!n.inputs.every(isConst) || !LAYOUT_OPS.has(n.opType) || outs.length !== 1) return undefined;
  const info = shapes.get(outs[0]);
  if (info?.dtype !== DataType.FLOAT || !isStatic(info.shape)) return undefined;
  const inBytes = n.inputs.reduce((s, v) => s + (v?.constant()?.byteLength ?? 0), 0);
  const outBytes = info.shape.reduce((a, b) => a * b, 1) * 4;
  if (outBytes > MAX_GROWTH_BYTES && outBytes > 2 * inBytes) return undefined;
  if (
    n.inputs.some(
      (v) =>
        v &&
        v.constant()!.dataType !== DataType.FLOAT &&
        !['Reshape', 'Slice', 'Gather', 'Unsqueeze', 'Squeeze', 'Expand', 'Tile', 'Split', 'Clip'].includes(n.opType),
    )
  )
    return undefined;
  const env = new Map<Value, Arr>();
  const [res] = evalNode({ mode: 'value', shapes, env }, n);
  return res ? [Tensor.fromFloat32(res.shape, res.data as Float32Array)] : undefined;
}

export const foldConstants: Pass = {
  name: 'fold-constants',
  summary: 'Evaluate nodes whose outputs are known before run time and store them as initializers.',
  run(graph, ctx) {
    // The model's own declared shapes, not the analysis' (which may fix a symbolic batch to 1): a folded Shape must
    // hold for every input the exported model accepts.
    const shapes = inferShapes(ctx.model);
    let folded = 0;
    const rounding: RoundingChange[] = [];
    for (const n of graph.topoOrder()) {
      if (n.domain !== '' || NEVER.has(n.opType)) continue;
      const tensors = foldNode(n, shapes);
      if (!tensors) continue;
      n.outputs.forEach((o, i) => {
        const t = tensors[i]!.dataType;
        if (isFloatType(t) && !(EXACT.has(n.opType) && FOLDED_EXACTLY.has(t)))
          rounding.push({ value: o!.name, how: 'constant-folded' });
      });
      graph.removeNode(n);
      n.outputs.forEach((o, i) => {
        o!.initializer = tensors[i]!;
        graph.initializers.push(o!);
      });
      folded++;
    }
    if (!folded) return { changed: false, stats: { nodesFolded: 0 }, rounding, skipped: 'no node computes a constant' };
    const dce = removeDead(graph);
    return { changed: true, stats: { nodesFolded: folded, ...dce }, rounding, analysis: 'invalidated' };
  },
};
