// Opset-aware op constructors for the generated post-processing graph (src/emit/onnx): the few ops whose signature
// moved between opsets (axes as attribute or input), typed constants, and float32 helpers that reproduce the
// reference's arithmetic. Not a general ONNX builder: src/ir/builder.ts is that.
import { A, DataType, GraphBuilder, Tensor } from '../../ir/builder';
import type { Attribute, Value } from '../../ir/graph';
import { EXP_CONST } from '../../postprocess/float32';

/** Lowest opset the graph is written for: Unsqueeze/Squeeze/Split/ReduceSum take axes as inputs from 13 on. */
export const MIN_OPSET = 13;

/** The power-of-two table of expF covers 2^-64 .. 2^64: after the clamp, n1 and n - n1 lie in [-63, 64]. */
const POW2_RANGE = 64;

export class Ops {
  constructor(
    readonly b: GraphBuilder,
    readonly opset: number,
    /** Prefix of every node and value name (keeps an appended graph apart from the host model's names). */
    readonly prefix: string,
    /** true: expF is the reference's float exp built from float ops; false: the runtime's own Exp (faster, not bit-exact). */
    readonly exact = true,
  ) {}

  op(type: string, inputs: (Value | undefined)[], attrs: Attribute[] = [], name?: string): Value {
    return this.b.op(type, inputs, attrs, this.prefix + (name ?? type.toLowerCase()));
  }

  ops(type: string, inputs: (Value | undefined)[], attrs: Attribute[], name: string, outputs: number): Value[] {
    return this.b.node(type, inputs, attrs, this.prefix + name, outputs);
  }

  /** float32 constant: a scalar for a number, a 1-D tensor for an array, or `dims` when given. */
  f32(v: number | ArrayLike<number>, name: string, dims?: number[]): Value {
    const data = typeof v === 'number' ? Float32Array.of(v) : Float32Array.from(v);
    const shape = dims ?? (typeof v === 'number' ? [] : [data.length]);
    return this.b.init(this.prefix + name, Tensor.fromFloat32(shape, data));
  }

  /** int64 constant: a scalar for a number, a 1-D tensor for an array. */
  i64(v: number | number[], name: string): Value {
    return typeof v === 'number'
      ? this.b.init(this.prefix + name, Tensor.fromInt64([], [v]))
      : this.b.init(this.prefix + name, Tensor.fromInt64([v.length], v));
  }

  cast(x: Value, to: number, name = 'cast'): Value {
    return this.op('Cast', [x], [A.int('to', to)], name);
  }

  /** Reshape to constant dims; a 0 in `dims` copies the input's dimension (allowzero is opset 14), so use -1. */
  reshape(x: Value, dims: number[], name = 'reshape'): Value {
    return this.op('Reshape', [x, this.i64(dims, `${name}_shape`)], [], name);
  }

  squeeze(x: Value, axes: number[], name = 'squeeze'): Value {
    return this.op('Squeeze', [x, this.i64(axes, `${name}_axes`)], [], name);
  }

  unsqueeze(x: Value, axes: number[], name = 'unsqueeze'): Value {
    return this.op('Unsqueeze', [x, this.i64(axes, `${name}_axes`)], [], name);
  }

  /** ReduceSum takes axes as an input from opset 13, the other reductions from opset 18. */
  reduce(type: 'ReduceMax' | 'ReduceSum', x: Value, axes: number[], keepdims: boolean, name: string): Value {
    const asInput = type === 'ReduceSum' || this.opset >= 18;
    const keep = A.int('keepdims', keepdims ? 1 : 0);
    return asInput
      ? this.op(type, [x, this.i64(axes, `${name}_axes`)], [keep], name)
      : this.op(type, [x], [A.ints('axes', axes), keep], name);
  }

  /** x[..., start:end] along `axis` (constant bounds). */
  slice(x: Value, axis: number, start: number, end: number, name = 'slice'): Value {
    return this.op(
      'Slice',
      [x, this.i64([start], `${name}_starts`), this.i64([end], `${name}_ends`), this.i64([axis], `${name}_axes`)],
      [],
      name,
    );
  }

  gather(x: Value, indices: Value, axis = 0, name = 'gather'): Value {
    return this.op('Gather', [x, indices], [A.int('axis', axis)], name);
  }

  where(cond: Value, a: Value, b: Value, name = 'where'): Value {
    return this.op('Where', [cond, a, b], [], name);
  }

  /** [values, indices] of the k largest along axis 0, sorted descending; ties: lower index first (ONNX TopK-11). */
  topK(x: Value, k: Value, name: string): [Value, Value] {
    const [values, indices] = this.ops(
      'TopK',
      [x, k],
      [A.int('axis', 0), A.int('largest', 1), A.int('sorted', 1)],
      name,
      2,
    );
    return [values!, indices!];
  }

  /** The length of 1-D `x` as an int64 [1] tensor. */
  length(x: Value, name = 'length'): Value {
    return this.op('Shape', [x], [], name);
  }

  /**
   * The reference's float exp (float32.ts expF, the emitted C's pd_expf) operation for operation, so that the graph
   * agrees with it bit for bit: clamp to [lo, hi], n = round(x·log2e) by the 1.5·2^23 trick, r = x - n·ln2 (ln2 in
   * two parts), Horner on the degree-7 polynomial, then 2^n as 2^n1 · 2^(n - n1) with n1 = trunc(n / 2), each factor
   * read from a table of powers of two (exact), and the NaN / overflow / underflow selects. No runtime Exp: its
   * rounding is the runtime's (onnxruntime's float Exp is 1 ulp off the correctly rounded value for a few percent of
   * inputs). Every step is one IEEE float operation, a comparison or a select. With `exact` false: the runtime's Exp.
   */
  expF(x: Value, name = 'exp'): Value {
    if (!this.exact) return this.op('Exp', [x], [], name);
    const E = EXP_CONST;
    const k = (v: number, what: string) => this.f32(v, `${name}_${what}`);
    const lo = k(E.lo, 'lo');
    const hi = k(E.hi, 'hi');
    const inRange = this.where(this.op('LessOrEqual', [x, hi], [], `${name}_le_hi`), x, hi, `${name}_min`);
    const xc = this.where(this.op('GreaterOrEqual', [x, lo], [], `${name}_ge_lo`), inRange, lo, `${name}_clamped`);
    const round = k(E.round, 'round');
    const scaled = this.op(
      'Add',
      [this.op('Mul', [xc, k(E.log2e, 'log2e')], [], `${name}_log2`), round],
      [],
      `${name}_rounding`,
    );
    const n = this.op('Sub', [scaled, round], [], `${name}_n`);
    const rHi = this.op(
      'Sub',
      [xc, this.op('Mul', [n, k(E.ln2Hi, 'ln2_hi')], [], `${name}_n_ln2_hi`)],
      [],
      `${name}_r_hi`,
    );
    const r = this.op('Sub', [rHi, this.op('Mul', [n, k(E.ln2Lo, 'ln2_lo')], [], `${name}_n_ln2_lo`)], [], `${name}_r`);
    let p = k(E.poly[0]!, 'c0');
    E.poly.slice(1).forEach((c, i) => {
      p = this.op('Add', [this.op('Mul', [p, r], [], `${name}_horner`), k(c, `c${i + 1}`)], [], `${name}_poly`);
    });
    // n1 = trunc(n / 2) in float (exact: n is a whole number), then table indices; |n1|, |n - n1| <= 64 after the clamp
    const halfN = this.op('Mul', [n, k(0.5, 'half')], [], `${name}_half_n`);
    const n1 = this.where(
      this.op('GreaterOrEqual', [halfN, k(0, 'zero')], [], `${name}_half_n_pos`),
      this.op('Floor', [halfN], [], `${name}_floor`),
      this.op('Ceil', [halfN], [], `${name}_ceil`),
      `${name}_n1`,
    );
    const n2 = this.op('Sub', [n, n1], [], `${name}_n2`);
    const table = this.f32(
      Array.from({ length: 2 * POW2_RANGE + 1 }, (_, i) => 2 ** (i - POW2_RANGE)),
      `${name}_pow2`,
    );
    const pow2 = (e: Value, what: string) =>
      this.gather(
        table,
        this.cast(
          this.op('Add', [e, k(POW2_RANGE, 'pow2_bias')], [], `${name}_${what}_biased`),
          DataType.INT64,
          `${name}_${what}_index`,
        ),
        0,
        `${name}_${what}_pow2`,
      );
    const y = this.op(
      'Mul',
      [this.op('Mul', [p, pow2(n1, 'n1')], [], `${name}_scale1`), pow2(n2, 'n2')],
      [],
      `${name}_y`,
    );
    const under = this.where(this.op('Less', [x, lo], [], `${name}_under`), k(0, 'zero_out'), y, `${name}_y0`);
    const over = this.where(this.op('Greater', [x, hi], [], `${name}_over`), k(Infinity, 'inf'), under, `${name}_y1`);
    return this.where(
      this.op('Not', [this.op('Equal', [x, x], [], `${name}_not_nan`)], [], `${name}_is_nan`),
      x,
      over,
      name,
    );
  }
}
