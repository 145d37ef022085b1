// Rewriting the ops between the head convs and the outputs after their channels shrank: constant Reshape targets,
// Slice/Split/Gather bounds along a shrinking axis, Concat inputs that became empty, and constants combined
// element-wise with per-anchor values (the embedded anchor tables), all from the per-axis kept sets (keep.ts).
import type { Graph, Node, Value } from '../ir/graph';
import { Tensor } from '../ir/tensor';
import { PrunedetError } from '../errors';
import { numbersOf, sliceArgs } from '../shape/types';
import type { ShapeResult } from '../shape/infer';
import { keptCount, type ValueKeep } from './keep';
import type { SliceCache } from './slice-head';

export interface RewriteStats {
  reshapes: number;
  slices: number;
  concatInputsDropped: number;
  constantsSliced: number;
}

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']);

function newShapeOf(k: ValueKeep): number[] {
  return k.map(keptCount);
}

/** Position of `i` among the kept indices (how many kept indices precede it). */
function rank(kept: Int32Array, i: number): number {
  let lo = 0;
  let hi = kept.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (kept[m]! < i) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function constInts(g: Graph, base: string, values: number[]): Value {
  return g.addInitializer(base, Tensor.fromInt64([values.length], values));
}

/**
 * Numbers of a value fixed before run time: a constant, or what shape inference computed (level split points and
 * Reshape targets built from Shape ops). Values with symbolic sizes (a dynamic batch) stay computed at run time.
 */
type Numbers = (v: Value | undefined) => number[] | undefined;

export function rewriteRegion(
  g: Graph,
  nodes: Node[],
  keep: Map<Value, ValueKeep>,
  cache: SliceCache,
  shapes?: ShapeResult,
): RewriteStats {
  const stats: RewriteStats = { reshapes: 0, slices: 0, concatInputsDropped: 0, constantsSliced: 0 };
  const numbers: Numbers = (v) => v?.constant()?.numbers() ?? (v && shapes ? numbersOf(shapes.get(v)) : undefined);
  const changed = (v: Value | undefined) => v !== undefined && keep.get(v)?.some((a) => a.kept !== null) === true;
  for (const n of nodes) {
    const out = n.outputs[0];
    const ko = out ? keep.get(out) : undefined;
    if (!out || !ko) continue;
    // A value of an emptied level: its Concat drops it and eliminate-dead removes the chain, left as it was. (A slice
    // of a live tensor that comes out empty is rewritten: in-graph post-processing may still read it.)
    const emptied = (k: ValueKeep | undefined) => k?.some((a) => keptCount(a) === 0) === true;
    if (
      n.opType !== 'Concat' &&
      n.opType !== 'QLinearConcat' &&
      emptied(ko) &&
      (n.inputs[0] === undefined || emptied(keep.get(n.inputs[0])) || !keep.has(n.inputs[0]))
    )
      continue;
    switch (n.opType) {
      case 'Reshape': {
        if (!changed(out)) break;
        const old = numbers(n.inputs[1]);
        if (!old) break; // computed at run time from symbolic sizes: checked by shape inference after the pass
        const inKeep = keep.get(n.inputs[0]!);
        const want = newShapeOf(ko);
        // A target the graph computes (from Shape: torchvision's view(N, -1, K, H, W)) stays computed when its -1
        // absorbs every shrinking axis: it then keeps a dynamic batch dynamic.
        if (!n.inputs[1]!.constant() && ko.every((a, i) => a.kept === null || old[i] === -1)) break;
        const values = old.map((t, i) =>
          t === -1 ? -1 : t === 0 && inKeep && keptCount(inKeep[i]!) === want[i] ? 0 : want[i]!,
        );
        n.setInput(1, constInts(g, `${n.inputs[1]!.name}_pruned`, values));
        stats.reshapes++;
        break;
      }
      case 'Concat': {
        const axis = (n.getInt('axis', 0) + ko.length) % ko.length;
        for (let i = n.inputs.length - 1; i >= 0; i--) {
          const k = keep.get(n.inputs[i]!);
          if (k && keptCount(k[axis]!) === 0) {
            const rest = n.inputs.slice(i + 1);
            n.truncateInputs(i);
            rest.forEach((v) => n.addInput(v));
            stats.concatInputsDropped++;
          }
        }
        if (n.inputs.length === 0)
          throw new PrunedetError(
            'E_CONFIG_MISMATCH',
            `pruning leaves nothing for ${n.label()} to concatenate`,
            'keep at least one anchor',
          );
        break;
      }
      case 'QLinearConcat': {
        // (y_scale, y_zero_point, then x, x_scale, x_zero_point per input): an emptied x goes with its scale and zero point
        const axis = (n.getInt('axis', 0)! + ko.length) % ko.length;
        for (let i = n.inputs.length - 3; i >= 2; i -= 3) {
          const k = keep.get(n.inputs[i]!);
          if (k && keptCount(k[axis]!) === 0) {
            const rest = n.inputs.slice(i + 3);
            n.truncateInputs(i);
            rest.forEach((v) => n.addInput(v));
            stats.concatInputsDropped++;
          }
        }
        if (n.inputs.length <= 2)
          throw new PrunedetError(
            'E_CONFIG_MISMATCH',
            `pruning leaves nothing for ${n.label()} to concatenate`,
            'keep at least one anchor',
          );
        break;
      }
      case 'Slice':
        if (rewriteSlice(g, n, keep, numbers)) stats.slices++;
        break;
      case 'Split':
        if (rewriteSplit(g, n, keep)) stats.slices++;
        break;
      case 'Gather':
        if (rewriteGather(g, n, keep)) stats.slices++;
        break;
      case 'Expand': {
        if (!changed(out) || !numbers(n.inputs[1])) break;
        n.setInput(1, constInts(g, `${n.inputs[1]!.name}_pruned`, newShapeOf(ko)));
        stats.reshapes++;
        break;
      }
      default:
        if (ELEMENTWISE.has(n.opType) && changed(out)) stats.constantsSliced += sliceConstantOperands(n, ko, cache);
    }
  }
  return stats;
}

/** Constants broadcast against per-anchor values (anchor tables, variances) lose the rows of removed anchors. */
function sliceConstantOperands(n: Node, ko: ValueKeep, cache: SliceCache): number {
  let count = 0;
  n.inputs.forEach((v, i) => {
    const dims = v ? (v.constant()?.dims ?? cache.staticDims(v)) : undefined;
    if (!v || !dims) return;
    const t = { dims };
    const off = ko.length - t.dims.length;
    let cur = v;
    t.dims.forEach((d, j) => {
      const ax = ko[j + off];
      if (!ax || d === 1 || !ax.kept) return;
      if (d !== ax.size)
        throw new PrunedetError(
          'E_OP_UNSUPPORTED',
          `${n.label()} broadcasts constant ${v.name} of dims [${t.dims.join(',')}] against the anchor axis in a way prunedet cannot slice`,
          'pass --head-spec or simplify the model',
        );
      cur = cache.take(cur, j, Array.from(ax.kept), n);
    });
    if (cur !== v) {
      n.setInput(i, cur);
      count++;
    }
  });
  return count;
}

function rewriteSlice(g: Graph, n: Node, keep: Map<Value, ValueKeep>, numbers: Numbers): boolean {
  const ki = keep.get(n.inputs[0]!);
  if (!ki || !ki.some((a) => a.kept)) return false;
  const { fromAttr, starts, ends, axes: axesIn, steps } = sliceArgs(n, (i) => numbers(n.inputs[i]));
  const axes = (axesIn ?? starts?.map((_, i) => i))?.map((a) => (a + ki.length) % ki.length);
  if (!starts || !ends || !axes)
    throw new PrunedetError(
      'E_OP_UNSUPPORTED',
      `${n.label()} slices the anchor axis with bounds computed at run time`,
      'simplify the model (onnx-simplifier)',
    );
  let touched = false;
  const newStarts = [...starts];
  const newEnds = [...ends];
  axes.forEach((ax, i) => {
    const kept = ki[ax]!.kept;
    if (!kept) return;
    if ((steps?.[i] ?? 1) !== 1)
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `${n.label()} slices the anchor axis with step ${steps![i]}`,
        'simplify the model',
      );
    const d = ki[ax]!.size;
    const norm = (x: number) => Math.min(Math.max(x < 0 ? x + d : x, 0), d);
    newStarts[i] = rank(kept, norm(starts[i]!));
    newEnds[i] = rank(kept, norm(ends[i]!));
    touched = true;
  });
  if (!touched) return false;
  if (fromAttr) {
    n.setAttr('starts', { type: 'ints', value: newStarts });
    n.setAttr('ends', { type: 'ints', value: newEnds });
  } else {
    n.setInput(1, constInts(g, `${n.inputs[1]!.name}_pruned`, newStarts));
    n.setInput(2, constInts(g, `${n.inputs[2]!.name}_pruned`, newEnds));
    if (n.inputs[3] && !n.inputs[3].constant()) n.setInput(3, constInts(g, `${n.inputs[3].name}_pruned`, axesIn!));
    if (n.inputs[4] && !n.inputs[4].constant()) n.setInput(4, constInts(g, `${n.inputs[4].name}_pruned`, steps!));
  }
  return true;
}

function rewriteSplit(g: Graph, n: Node, keep: Map<Value, ValueKeep>): boolean {
  const ki = keep.get(n.inputs[0]!);
  if (!ki) return false;
  const axis = (n.getInt('axis', 0) + ki.length) % ki.length;
  if (!ki[axis]!.kept) return false;
  const sizes = n.outputs.map((o) => {
    const k = o ? keep.get(o) : undefined;
    if (!k)
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `${n.label()} splits the anchor axis into outputs prunedet did not trace`,
        'simplify the model',
      );
    return keptCount(k[axis]!);
  });
  if (n.getInts('split')) n.setAttr('split', { type: 'ints', value: sizes });
  else if (n.inputs[1] || n.getInt('num_outputs') !== undefined) {
    n.removeAttr('num_outputs');
    n.setInput(1, constInts(g, `${n.name || 'split'}_sizes`, sizes));
  } else n.setAttr('split', { type: 'ints', value: sizes });
  return true;
}

function rewriteGather(g: Graph, n: Node, keep: Map<Value, ValueKeep>): boolean {
  const ki = keep.get(n.inputs[0]!);
  const idx = n.inputs[1]?.constant();
  if (!ki || !idx) return false;
  const axis = (n.getInt('axis', 0) + ki.length) % ki.length;
  const kept = ki[axis]!.kept;
  if (!kept) return false;
  if (idx.dims.length > 1)
    throw new PrunedetError(
      'E_OP_UNSUPPORTED',
      `${n.label()} gathers along the anchor axis with ${idx.dims.length}-d indices`,
      'simplify the model',
    );
  const d = ki[axis]!.size;
  const keptSet = new Set(kept);
  const picked = idx
    .numbers()
    .map((i) => (i < 0 ? i + d : i))
    .filter((i) => keptSet.has(i))
    .map((i) => rank(kept, i));
  n.setInput(
    1,
    g.addInitializer(
      `${n.inputs[1]!.name}_pruned`,
      idx.dims.length === 0 ? Tensor.fromInt64([], picked) : Tensor.fromInt64([picked.length], picked),
    ),
  );
  return true;
}
