// What shape inference knows about a value: element type, shape (sizes or symbols) and, for small tensors that
// feed shape computations (Shape -> Gather -> Concat -> Reshape), the element values themselves.
import type { Dim } from '../ir/graph';
import type { Node } from '../ir/graph';

export type { Dim };

export interface TensorInfo {
  dtype: number;
  /** undefined = rank unknown. */
  shape?: Dim[];
  /** Known element values (row-major) for small tensors; symbols stand for unknown sizes carried from a Shape op. */
  value?: Dim[];
}

/** Row-major element strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  return st;
}

/** Largest tensor whose values shape inference tracks. */
export const MAX_TRACKED_ELEMENTS = 1024;

export interface RuleContext {
  readonly node: Node;
  /** A fresh symbolic dimension, unique within one inference run. */
  fresh(): string;
  /** The opset version of the default domain. */
  readonly opset: number;
}

/** Infers the outputs of one node from its inputs' info (undefined for omitted optional inputs). */
export type ShapeRule = (ins: (TensorInfo | undefined)[], ctx: RuleContext) => TensorInfo[];

export class ShapeRuleError extends Error {}

export function isStatic(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function numel(shape: Dim[]): Dim {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return '?';
    n *= d;
  }
  return n;
}

/** Normalise a possibly negative axis against `rank`. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeRuleError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Require a known shape for input `i`. */
export function shapeOf(ins: (TensorInfo | undefined)[], i: number, what = `input ${i}`): Dim[] {
  const s = ins[i]?.shape;
  if (!s) throw new ShapeRuleError(`shape of ${what} is unknown`);
  return s;
}

/** Known numeric values of input `i`, or undefined. */
export function numbersOf(info: TensorInfo | undefined): number[] | undefined {
  if (!info?.value || !info.value.every((v) => typeof v === 'number')) return undefined;
  return info.value as number[];
}

/** Slice's bounds; `fromAttr` when they are attributes (Slice-1), else inputs 1-4 (Slice-10+). */
export interface SliceArgs {
  fromAttr: boolean;
  starts: number[] | undefined;
  ends: number[] | undefined;
  axes: number[] | undefined;
  /** Only the input form has steps. */
  steps: number[] | undefined;
}

/**
 * Slice's starts/ends/axes/steps, from its attributes or, when it has none, from inputs 1-4 through `readValues`
 * (undefined for an omitted or unknown input). Axes come back as given (negative axes are not normalised).
 */
export function sliceArgs(node: Node, readValues: (input: number) => number[] | undefined): SliceArgs {
  const starts = node.getInts('starts');
  if (starts !== undefined)
    return { fromAttr: true, starts, ends: node.getInts('ends'), axes: node.getInts('axes'), steps: undefined };
  return { fromAttr: false, starts: readValues(1), ends: readValues(2), axes: readValues(3), steps: readValues(4) };
}

/** Numpy-style broadcast of shapes; symbols broadcast against 1, equal symbols stay, others become fresh. */
export function broadcast(shapes: Dim[][], fresh: () => string): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        if (typeof d === 'number' && typeof e === 'number')
          throw new ShapeRuleError(`shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
        d = typeof d === 'number' ? d : typeof e === 'number' ? e : fresh();
      }
    }
    out.push(d);
  }
  return out;
}
