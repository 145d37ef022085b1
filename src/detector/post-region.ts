// In-graph post-processing after the head (torchvision's full exports: per-level score filter, top-k, decode against
// the anchors, batched NMS). Its tensors have data-dependent sizes, so nothing there needs rewriting when anchors go,
// except what is indexed by anchor position without being computed from the head: the anchor tables the selected
// indices are looked up in. This module finds them by following index values: NonZero and TopK over a head tensor give
// positions along its axes; Div by the class count turns (anchor, class) positions into anchor positions (torch's
// floor division is Div + a Where correction); Gather/GatherND with such indices into a static tensor mark that
// tensor's axis as indexed by the same anchors.
import type { Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { isStatic, numbersOf } from '../shape/types';
import type { Region } from './region';
import { forEachSubgraphNode } from '../onnx/subgraphs';

/** Positions along `axis` of region value `of`, grouped by `divisor` (position p = elements p*d .. p*d+d-1). */
export interface IndexSpace {
  of: Value;
  axis: number;
  divisor: number;
}

/** A static tensor read by `node` (input `input`) at positions of an anchor space along `axis`. */
export interface AnchorIndexed {
  node: Node;
  input: number;
  value: Value;
  axis: number;
  space: IndexSpace;
}

/** A TopK over a head tensor whose k is fixed: it must not exceed the pruned axis. */
export interface FixedTopK {
  node: Node;
  k: number;
  space: IndexSpace;
}

export interface PostRegion {
  anchorIndexed: AnchorIndexed[];
  topK: FixedTopK[];
  /** Op types of the post-processing, for reports. */
  ops: string[];
}

interface Coords {
  spaces: (IndexSpace | null)[];
  /** The axis along which the coordinates of one element are listed (0 for NonZero's [rank, n]). */
  axis: number;
}

const sameSpace = (a: IndexSpace | undefined, b: IndexSpace | undefined) =>
  !!a && !!b && a.of === b.of && a.axis === b.axis && a.divisor === b.divisor;
const PASS = new Set(['Identity', 'Cast', 'Squeeze', 'Unsqueeze', 'Reshape', 'Flatten']);
/** Element-wise tests of head values against constants (the score threshold): their output lines up with the input. */
const ALIGNED = new Set([
  'Greater',
  'Less',
  'Equal',
  'GreaterOrEqual',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'Cast',
  'Identity',
]);

export function analyzePostRegion(
  region: Region,
  shapes: ShapeResult,
  traced: ReadonlyMap<Value, unknown>,
): PostRegion {
  const idx = new Map<Value, IndexSpace>();
  const coords = new Map<Value, Coords>();
  // post values element-for-element like a region value (a thresholded score map), by that region value
  const aligned = new Map<Value, Value>();
  const base = (v: Value | undefined) => (v === undefined ? undefined : traced.has(v) ? v : aligned.get(v));
  const anchorIndexed: AnchorIndexed[] = [];
  const topK: FixedTopK[] = [];
  const statics = region.statics;
  const scalar = (v: Value | undefined): number | undefined => {
    if (!v || !statics.has(v)) return undefined;
    const vals = numbersOf(shapes.get(v)) ?? (v.constant()?.size === 1 ? v.constant()!.numbers() : undefined);
    return vals && vals.length === 1 ? vals[0] : undefined;
  };
  const dims = (v: Value) => shapes.shape(v);
  const record = (node: Node, input: number, axis: number, space: IndexSpace) => {
    const v = node.inputs[input];
    if (!v || !statics.has(v)) return;
    const d = dims(v);
    const of = dims(space.of);
    if (!isStatic(d) || !isStatic(of) || axis >= d.length || d[axis]! * space.divisor !== of[space.axis]!) return;
    anchorIndexed.push({ node, input, value: v, axis, space });
  };
  for (const n of region.post) {
    const out = n.outputs[0];
    if (!out) continue;
    const [a, b] = [n.inputs[0], n.inputs[1]];
    const ia = a ? idx.get(a) : undefined;
    const ca = a ? coords.get(a) : undefined;
    if (ALIGNED.has(n.opType)) {
      const ins = n.inputs.filter((v): v is Value => v !== undefined);
      const from = ins.map(base).find((v) => v !== undefined);
      const outShape = dims(out);
      if (
        from &&
        ins.every((v) => base(v) === from || statics.has(v)) &&
        isStatic(outShape) &&
        outShape.join() === dims(from)?.join()
      )
        aligned.set(out, from);
    }
    switch (n.opType) {
      case 'NonZero': {
        const x = base(a);
        if (x && isStatic(dims(x)))
          coords.set(out, { spaces: dims(x)!.map((_, d) => ({ of: x, axis: d, divisor: 1 })), axis: 0 });
        break;
      }
      case 'TopK': {
        if (!a || !traced.has(a) || !isStatic(dims(a))) break;
        const r = dims(a)!.length;
        const axis = (n.getInt('axis', -1) + r) % r;
        const space = { of: a, axis, divisor: 1 };
        if (n.outputs[1]) idx.set(n.outputs[1], space);
        const k = n.getInt('k') ?? scalar(b);
        if (k !== undefined) topK.push({ node: n, k, space });
        break;
      }
      case 'Transpose':
        if (ca) {
          const perm = n.getInts('perm', dims(a!)?.map((_, i, s) => s.length - 1 - i) ?? []);
          coords.set(out, { spaces: ca.spaces, axis: perm.indexOf(ca.axis) });
        } else if (ia) idx.set(out, ia);
        break;
      case 'Split':
        if (ca) {
          const axis = n.getInt('axis', 0);
          let start = 0;
          n.outputs.forEach((o) => {
            const s = o ? dims(o) : undefined;
            if (!o || !s) return;
            if (axis !== ca.axis) coords.set(o, ca);
            else if (typeof s[axis] === 'number')
              coords.set(o, { spaces: ca.spaces.slice(start, start + (s[axis] as number)), axis: ca.axis });
            start += typeof s[axis] === 'number' ? (s[axis] as number) : 0;
          });
        } else if (ia) n.outputs.forEach((o) => o && idx.set(o, ia));
        break;
      case 'Gather': {
        const axis = n.getInt('axis', 0);
        const j = scalar(b);
        if (ca && axis === ca.axis && j !== undefined && ca.spaces[j]) idx.set(out, ca.spaces[j]!);
        else if (b && idx.get(b)) {
          record(n, 0, (axis + (dims(a!)?.length ?? 1)) % (dims(a!)?.length ?? 1), idx.get(b)!);
          if (ia) idx.set(out, ia);
        } else if (ia) idx.set(out, ia);
        break;
      }
      case 'GatherND': {
        const cb = b ? coords.get(b) : undefined;
        const rb = b ? dims(b)?.length : undefined;
        if (cb && rb !== undefined && cb.axis === rb - 1) cb.spaces.forEach((s, j) => s && record(n, 0, j, s));
        if (ia) idx.set(out, ia);
        break;
      }
      case 'Div': {
        const c = scalar(b);
        if (ia && c !== undefined && Number.isInteger(c) && c > 0) idx.set(out, { ...ia, divisor: ia.divisor * c });
        break;
      }
      case 'Add':
      case 'Sub':
        if (ia && scalar(b) !== undefined) idx.set(out, ia);
        break;
      case 'Where': {
        const [x, y] = [n.inputs[1], n.inputs[2]].map((v) => (v ? idx.get(v) : undefined));
        if (sameSpace(x, y)) idx.set(out, x!);
        break;
      }
      default:
        if (PASS.has(n.opType)) {
          if (ia) idx.set(out, ia);
          else if (ca && n.opType === 'Squeeze' && ca.spaces.length === 1) idx.set(out, ca.spaces[0]!);
          else if (ca && (n.opType === 'Identity' || n.opType === 'Cast')) coords.set(out, ca);
        }
    }
  }
  return { anchorIndexed, topK, ops: [...new Set(region.post.flatMap((n) => [n.opType, ...subgraphOps(n)]))] };
}

/** Op types inside a node's subgraphs (torchvision's batched NMS runs inside an If), recursively. */
function subgraphOps(n: Node): string[] {
  const out: string[] = [];
  forEachSubgraphNode(n, (m) => m.op_type && out.push(m.op_type));
  return out;
}
