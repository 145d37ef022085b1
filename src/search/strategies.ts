// The search strategies of the paper's code (Bonnaerens et al., anchor_pruning), over sets of removed global base
// anchors: the Pareto tree of single-anchor removals, its layer-wise variant and the shared-levels variant. Pure
// control flow: evaluation (the oracle, the cost model, the budget, the cache of results) is behind `SearchDriver`.
//
// Pareto tree (one node = one removed set; root = the full model):
//   pop a node (depth first; of the children pushed together, the one with the best mAP first); its children remove
//   one more anchor each, evaluated in anchor order. The first child that scores better than its parent, or gives the
//   very same detections, is taken alone (the paper's shortcuts); otherwise the children at or above min mAP that are
//   Pareto-optimal among the siblings are kept. A kept child is pushed when it enters the global front in
//   (mAP max, head MACs min). Every node is expanded once.
// Layer-wise: the same, one level at a time (children remove anchors of that level only, at most `anchorsPerLevel`
//   per level); the front after level l seeds level l + 1.
// Shared levels (heads whose weights are shared across levels, e.g. RetinaNet): a child removes the same anchor index
//   on every level at once, or one whole level.

export interface Evaluated {
  /** Sorted removed global base anchors. */
  removed: number[];
  key: string;
  map: number;
  /** Identity of the detections (equal fingerprints = the same detections on every image). */
  fingerprint: string;
  headMacs: number;
  boxes: number;
  keptPerLevel: number[];
}

export interface SearchDriver {
  /** Base anchors per level of the full model. */
  counts: readonly number[];
  minMap: number;
  /** Layer-wise: most anchors removed from one level. */
  anchorsPerLevel: number;
  /** How many children to evaluate at once (parallelism). */
  chunk: number;
  /** Evaluate removed sets (memoised); undefined where the candidate budget ran out. */
  evaluate(removed: number[][]): Promise<(Evaluated | undefined)[]>;
  exhausted(): boolean;
}

export type StrategyName = 'pareto' | 'layerwise' | 'shared';
export const STRATEGIES: readonly StrategyName[] = ['pareto', 'layerwise', 'shared'];

export function removedKey(removed: readonly number[]): string {
  return removed.join(',');
}

/** Pareto front in (map: higher is better, headMacs: lower is better); the first of equal points stays. */
export class ParetoFront {
  points: Evaluated[] = [];

  /** Add `p` unless some point is at least as good in both; drops the points `p` is at least as good as. */
  offer(p: Evaluated): boolean {
    if (this.points.some((q) => q.map >= p.map && q.headMacs <= p.headMacs)) return false;
    this.points = this.points.filter((q) => !(q.map <= p.map && q.headMacs >= p.headMacs));
    this.points.push(p);
    return true;
  }
}

/** Index range of each level's base anchors. */
function levelRanges(counts: readonly number[]): [number, number][] {
  let o = 0;
  return counts.map((n) => {
    const r: [number, number] = [o, o + n];
    o += n;
    return r;
  });
}

function total(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

function withAdded(removed: readonly number[], add: Iterable<number>): number[] {
  return [...new Set([...removed, ...add])].sort((a, b) => a - b);
}

/** The children of the plain Pareto tree: one more anchor removed, anywhere. */
export function singleRemovals(counts: readonly number[], node: Pick<Evaluated, 'removed'>): number[][] {
  const gone = new Set(node.removed);
  const all = total(counts);
  const out: number[][] = [];
  for (let b = 0; b < all; b++) if (!gone.has(b) && gone.size + 1 < all) out.push(withAdded(node.removed, [b]));
  return out;
}

/** Layer-wise children on `level`: one more of its anchors, while fewer than `cap` are removed there. */
export function levelRemovals(
  counts: readonly number[],
  node: Pick<Evaluated, 'removed'>,
  level: number,
  cap: number,
): number[][] {
  const [lo, hi] = levelRanges(counts)[level]!;
  const gone = new Set(node.removed);
  const onLevel = node.removed.filter((b) => b >= lo && b < hi).length;
  if (onLevel >= cap) return [];
  const out: number[][] = [];
  for (let b = lo; b < hi; b++)
    if (!gone.has(b) && gone.size + 1 < total(counts)) out.push(withAdded(node.removed, [b]));
  return out;
}

/**
 * Shared-levels children: anchor index a removed on every level (a not yet removed on the first level that still has
 * anchors), or one whole level; never everything, never a no-op.
 */
export function sharedRemovals(counts: readonly number[], node: Pick<Evaluated, 'removed'>): number[][] {
  const ranges = levelRanges(counts);
  const A = counts[0]!;
  const gone = new Set(node.removed);
  const all = total(counts);
  const first = ranges.find(([lo, hi]) => {
    for (let b = lo; b < hi; b++) if (!gone.has(b)) return true;
    return false;
  });
  const out: number[][] = [];
  const push = (add: number[]) => {
    const next = withAdded(node.removed, add);
    if (next.length > node.removed.length && next.length < all && !out.some((o) => removedKey(o) === removedKey(next)))
      out.push(next);
  };
  if (first) {
    for (let a = 0; a < A; a++) if (!gone.has(first[0] + a)) push(ranges.map(([lo]) => lo + a));
  }
  ranges.forEach(([lo, hi]) => push(Array.from({ length: hi - lo }, (_, i) => lo + i)));
  return out;
}

/** Evaluate a node's children and pick the ones to continue with (see the header). */
async function chooseChildren(d: SearchDriver, node: Evaluated, children: number[][]): Promise<Evaluated[]> {
  const local = new ParetoFront();
  for (let i = 0; i < children.length; i += d.chunk) {
    const results = await d.evaluate(children.slice(i, i + d.chunk));
    for (const r of results) {
      if (!r) return local.points;
      if (r.map > node.map || r.fingerprint === node.fingerprint) return [r];
      if (r.map >= d.minMap) local.offer(r);
    }
  }
  return local.points;
}

/** Depth-first Pareto tree from `seeds`, children by `childrenOf`; `visited` is shared across calls of one stage. */
async function tree(
  d: SearchDriver,
  front: ParetoFront,
  seeds: Evaluated[],
  childrenOf: (n: Evaluated) => number[][],
  visited: Set<string>,
): Promise<void> {
  const stack = [...seeds].reverse();
  while (stack.length > 0 && !d.exhausted()) {
    const node = stack.pop()!;
    if (visited.has(node.key)) continue;
    visited.add(node.key);
    const chosen = await chooseChildren(d, node, childrenOf(node));
    const entered = chosen.filter((c) => front.offer(c));
    // Pushed last = popped first: best mAP, then fewest MACs.
    entered.sort((a, b) => a.map - b.map || b.headMacs - a.headMacs || (a.key < b.key ? 1 : -1));
    stack.push(...entered);
  }
}

/** Run a strategy from the evaluated full model; returns the final front (the root included if it stays optimal). */
export async function runStrategy(name: StrategyName, d: SearchDriver, root: Evaluated): Promise<ParetoFront> {
  const front = new ParetoFront();
  front.offer(root);
  switch (name) {
    case 'pareto':
      await tree(d, front, [root], (n) => singleRemovals(d.counts, n), new Set());
      break;
    case 'shared':
      await tree(d, front, [root], (n) => sharedRemovals(d.counts, n), new Set());
      break;
    case 'layerwise':
      for (let l = 0; l < d.counts.length && !d.exhausted(); l++) {
        const seeds = [...front.points].sort((a, b) => b.map - a.map || a.headMacs - b.headMacs);
        await tree(d, front, seeds, (n) => levelRemovals(d.counts, n, l, d.anchorsPerLevel), new Set());
      }
      break;
  }
  return front;
}
