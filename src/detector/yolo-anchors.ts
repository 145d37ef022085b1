// YOLO anchor sizes read from a decoded export's anchor_grid: the constant multiplying the activated (Pow of 2·σ, v5)
// or exponentiated (Exp, v3) wh columns of a level, shaped [1, A, 1, 1, 2] or [1, A, H, W, 2] with A the level's
// anchors per location. Found by shape and by the path back to the level's head conv, not by name.
import type { Node, Value } from '../ir/graph';
import type { DetectorSpec } from './spec';

/** Ops a wh column passes through between the head conv and the anchor_grid multiply. */
const PATH_OPS = new Set(['Reshape', 'Transpose', 'Slice', 'Split', 'Sigmoid', 'Mul', 'Pow', 'Exp', 'Gather']);

/** The head conv `v` descends from through PATH_OPS (first non-constant input at each step), if any. */
function convBehind(v: Value, convs: Set<Node>): Node | undefined {
  let cur: Value | undefined = v;
  for (let steps = 0; cur && steps < 16; steps++) {
    const p: Node | undefined = cur.producer;
    if (!p) return undefined;
    if (convs.has(p)) return p;
    if (!PATH_OPS.has(p.opType)) return undefined;
    cur = p.inputs.find((x) => x !== undefined && !x.constant());
  }
  return undefined;
}

/** Whether `v` is an activated / exponentiated wh column: produced by Pow or Exp (possibly times a scalar). */
function isSizeTerm(v: Value): boolean {
  const p = v.producer;
  return p !== undefined && (p.opType === 'Pow' || p.opType === 'Exp');
}

/**
 * The anchor sizes [w, h] per level and anchor from the graph's anchor_grid constants, when every level with anchors
 * has exactly one, uniform over its locations; else undefined (raw exports: the preset's anchors apply).
 */
export function yoloAnchorGrid(
  nodes: readonly Node[],
  spec: Pick<DetectorSpec, 'levels'>,
): DetectorSpec['yoloAnchors'] {
  const convOf = new Map<Node, number>();
  spec.levels.forEach((l, i) => l.convs.forEach((c) => convOf.set(c.node, i)));
  const found = new Map<number, { sizes: [number, number][]; name: string }>();
  for (const n of nodes) {
    if (n.opType !== 'Mul' || n.inputs.length !== 2) continue;
    const ci = n.inputs.findIndex((x) => x?.constant());
    if (ci < 0) continue;
    const grid = n.inputs[ci]!;
    const other = n.inputs[1 - ci]!;
    const t = grid.constant()!;
    const d = t.dims;
    if (d.length !== 5 || d[0] !== 1 || d[4] !== 2 || !isSizeTerm(other)) continue;
    const conv = convBehind(other, new Set(convOf.keys()));
    if (!conv) continue;
    const level = convOf.get(conv)!;
    const A = spec.levels[level]!.anchorsPerLocation;
    if (d[1] !== A) continue;
    const data = t.float32();
    const per = d[2]! * d[3]!;
    const sizes: [number, number][] = [];
    let uniform = true;
    for (let a = 0; a < A; a++) {
      const w = data[a * per * 2]!;
      const h = data[a * per * 2 + 1]!;
      for (let p = 1; p < per && uniform; p++)
        uniform = data[(a * per + p) * 2] === w && data[(a * per + p) * 2 + 1] === h;
      sizes.push([w, h]);
    }
    if (!uniform || found.has(level)) return undefined;
    found.set(level, { sizes, name: grid.name });
  }
  const live = spec.levels.map((_, i) => i).filter((i) => spec.levels[i]!.anchorsPerLocation > 0);
  if (live.length === 0 || live.some((i) => !found.has(i))) return undefined;
  return {
    sizes: spec.levels.map((_, i) => found.get(i)?.sizes ?? []),
    source: `the graph's anchor_grid constants (${live.map((i) => found.get(i)!.name).join(', ')})`,
  };
}
