// The search strategies on toy problems with known answers: a driver whose mAP is 1 minus a penalty per removed
// anchor and whose cost is a per-anchor + per-level MAC table, so the true Pareto front can be enumerated.
import { describe, expect, it } from 'vitest';
import {
  ParetoFront,
  levelRemovals,
  removedKey,
  runStrategy,
  sharedRemovals,
  singleRemovals,
  type Evaluated,
  type SearchDriver,
  type StrategyName,
} from '../../src/search/strategies';

interface Toy {
  counts: number[];
  /** mAP lost per removed anchor (0 = the anchor never fires: same detections). */
  penalty: number[];
  /** MACs per kept anchor, and per non-empty level. */
  anchorMacs: number[];
  towerMacs: number[];
}

function evaluateToy(t: Toy, removed: number[]): Evaluated {
  const gone = new Set(removed);
  let map = 1,
    macs = 0,
    boxes = 0,
    o = 0;
  const keptPerLevel = t.counts.map((n, l) => {
    let k = 0;
    for (let a = 0; a < n; a++) {
      if (gone.has(o + a)) map -= t.penalty[o + a]!;
      else {
        k++;
        macs += t.anchorMacs[o + a]!;
      }
    }
    if (k) macs += t.towerMacs[l]!;
    boxes += 10 * k;
    o += n;
    return k;
  });
  // removing a zero-penalty anchor leaves the detections unchanged
  const fingerprint = removed.filter((b) => t.penalty[b] !== 0).join(',');
  return {
    removed,
    key: removedKey(removed),
    map: Math.round(map * 1e9) / 1e9,
    fingerprint,
    headMacs: macs,
    boxes,
    keptPerLevel,
  };
}

function toyDriver(t: Toy, o: { minMap?: number; max?: number; anchorsPerLevel?: number; chunk?: number } = {}) {
  const memo = new Map<string, Evaluated>();
  const calls: number[][] = [];
  let exhausted = false;
  const d: SearchDriver = {
    counts: t.counts,
    minMap: o.minMap ?? 0,
    anchorsPerLevel: o.anchorsPerLevel ?? 99,
    chunk: o.chunk ?? 3,
    exhausted: () => exhausted,
    async evaluate(sets) {
      return sets.map((r) => {
        const k = removedKey(r);
        if (memo.has(k)) return memo.get(k)!;
        if (memo.size >= (o.max ?? Infinity)) {
          exhausted = true;
          return undefined;
        }
        calls.push(r);
        const e = evaluateToy(t, r);
        memo.set(k, e);
        return e;
      });
    },
  };
  return { d, memo, calls };
}

/** The exact front over every removed set that keeps at least one anchor. */
function exhaustiveFront(t: Toy, minMap = 0): Evaluated[] {
  const n = t.counts.reduce((a, b) => a + b, 0);
  const front = new ParetoFront();
  for (let mask = 0; mask < (1 << n) - 1; mask++) {
    const removed = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
    const e = evaluateToy(t, removed);
    if (e.map >= minMap) front.offer(e);
  }
  return front.points;
}

const keys = (ps: Evaluated[]) => ps.map((p) => p.key).sort();

const TOY: Toy = {
  counts: [3, 2, 2],
  penalty: [0.01, 0.2, 0, 0.05, 0.3, 0, 0.08],
  anchorMacs: [10, 10, 10, 40, 40, 90, 90],
  towerMacs: [30, 50, 200],
};

describe('ParetoFront', () => {
  const p = (key: string, map: number, headMacs: number) => ({
    removed: [],
    key,
    map,
    fingerprint: key,
    headMacs,
    boxes: 0,
    keptPerLevel: [],
  });
  it('keeps points nothing beats in both mAP and MACs; a point equal to one on the front is not added', () => {
    const f = new ParetoFront();
    expect(f.offer(p('a', 0.5, 100))).toBe(true);
    expect(f.offer(p('b', 0.4, 100))).toBe(false); // worse mAP, same MACs
    expect(f.offer(p('c', 0.6, 120))).toBe(true); // better mAP, more MACs: both stay
    expect(f.offer(p('d', 0.5, 100))).toBe(false); // equal to a
    expect(f.offer(p('e', 0.6, 90))).toBe(true); // dominates a and c
    expect(keys(f.points)).toEqual(['e']);
  });
});

describe('children of a node', () => {
  it('pareto: one more anchor anywhere, never all anchors', () => {
    expect(singleRemovals([2, 1], { removed: [] })).toEqual([[0], [1], [2]]);
    expect(singleRemovals([2, 1], { removed: [0, 2] })).toEqual([]);
    expect(singleRemovals([2, 1], { removed: [1] })).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });
  it('layer-wise: anchors of one level only, at most `cap` removed there', () => {
    expect(levelRemovals([3, 2], { removed: [] }, 1, 5)).toEqual([[3], [4]]);
    expect(levelRemovals([3, 2], { removed: [0] }, 0, 1)).toEqual([]);
    expect(levelRemovals([3, 2], { removed: [0] }, 0, 2)).toEqual([
      [0, 1],
      [0, 2],
    ]);
  });
  it("shared levels: the same index on every level, or a whole level (as the paper's AnchorPruningTreeSharedLayers)", () => {
    expect(sharedRemovals([3, 3], { removed: [] })).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(sharedRemovals([3, 3], { removed: [1, 4] })).toEqual([
      [0, 1, 3, 4],
      [1, 2, 4, 5],
      [0, 1, 2, 4],
      [1, 3, 4, 5],
    ]);
    // first level empty: indices come from the next level; removing the last anchors is not offered
    expect(sharedRemovals([3, 3], { removed: [0, 1, 2, 3] })).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 5],
    ]);
  });
});

async function run(name: StrategyName, t: Toy, o: Parameters<typeof toyDriver>[1] = {}) {
  const { d, memo, calls } = toyDriver(t, o);
  const [root] = await d.evaluate([[]]);
  const front = await runStrategy(name, d, root!);
  return { front: front.points, memo, calls, d };
}

describe('Pareto tree', () => {
  it('finds the exact front of an additive toy problem with fewer evaluations than enumeration', async () => {
    const { front, memo } = await run('pareto', TOY);
    expect(keys(front)).toEqual(keys(exhaustiveFront(TOY)));
    expect(memo.size).toBeLessThan(2 ** 7 - 1);
  });

  it('takes a child that gives the same detections alone (anchors 2 and 5 never fire)', async () => {
    const { calls } = await run('pareto', TOY, { chunk: 1 });
    // root's children in anchor order: {0}, {1}, {2}: {2} has the parent's detections, so the 4th call goes below it
    expect(calls.slice(0, 4).map(removedKey)).toEqual(['', '0', '1', '2']);
    expect(calls[4]).toContain(2);
  });

  it('takes a child that scores better than its parent alone', async () => {
    const t: Toy = { ...TOY, penalty: [0.01, -0.05, 0.02, 0.05, 0.3, 0.02, 0.08] };
    const { calls } = await run('pareto', t, { chunk: 1 });
    expect(calls.slice(0, 3).map(removedKey)).toEqual(['', '0', '1']);
    expect(calls.slice(3).every((r) => r.includes(1))).toBe(true); // everything after descends from {1}
  });

  it('stops branches below min mAP', async () => {
    const minMap = 0.85;
    const { front, calls } = await run('pareto', TOY, { minMap });
    expect(front.every((p) => p.map >= minMap)).toBe(true);
    expect(keys(front)).toEqual(keys(exhaustiveFront(TOY, minMap)));
    // every evaluated set is a child of an evaluated set at or above min mAP (nothing grows from below it)
    const ok = new Set(calls.filter((r) => evaluateToy(TOY, r).map >= minMap).map(removedKey));
    for (const r of calls.filter((x) => x.length > 0))
      expect(r.some((b) => ok.has(removedKey(r.filter((x) => x !== b))))).toBe(true);
    expect(calls.some((r) => evaluateToy(TOY, r).map < minMap)).toBe(true);
    expect(calls.length).toBeLessThan((await run('pareto', TOY)).calls.length);
  });

  it('stops at the candidate budget', async () => {
    const { memo, d } = await run('pareto', TOY, { max: 9 });
    expect(memo.size).toBe(9);
    expect(d.exhausted()).toBe(true);
  });

  it('is deterministic', async () => {
    const a = await run('pareto', TOY, { chunk: 2 });
    const b = await run('pareto', TOY, { chunk: 2 });
    expect(a.calls).toEqual(b.calls);
  });
});

describe('layer-wise and shared-levels', () => {
  it('layer-wise removes at most anchorsPerLevel anchors per level and explores levels in order', async () => {
    const { front, calls } = await run('layerwise', TOY, { anchorsPerLevel: 1 });
    for (const p of front) expect(p.keptPerLevel.every((k, l) => TOY.counts[l]! - k <= 1)).toBe(true);
    // level 0's removals are all evaluated before any set that removes from level 2
    const firstL2 = calls.findIndex((r) => r.some((b) => b >= 5));
    expect(firstL2).toBeGreaterThan(0);
    expect(calls.slice(firstL2).every((r) => r.some((b) => b >= 5))).toBe(true);
    expect(front.length).toBeGreaterThan(1);
  });

  it('shared levels only ever removes the same indices on every level, or whole levels', async () => {
    const t: Toy = {
      counts: [3, 3, 3],
      penalty: [0.01, 0.2, 0, 0.02, 0.1, 0, 0.05, 0.01, 0.03],
      anchorMacs: [5, 5, 5, 20, 20, 20, 80, 80, 80],
      towerMacs: [10, 40, 160],
    };
    const { front, calls } = await run('shared', t);
    for (const r of calls) {
      const perLevel = [0, 1, 2].map((l) => r.filter((b) => b >= 3 * l && b < 3 * l + 3).map((b) => b - 3 * l));
      const partial = perLevel.filter((x) => x.length > 0 && x.length < 3);
      // every partially pruned level removes the same indices
      expect(new Set(partial.map((x) => x.join(','))).size).toBeLessThanOrEqual(1);
    }
    expect(front.some((p) => p.removed.length > 0)).toBe(true);
  });
});
