// Search throughput, two ways.
// 1. Ultra-Light RFB-320 on the 24 face photos (fidelity mode), candidates scored per second in this thread and on a
//    pool of worker threads, the streamed sparse path next to the dense one (every photo's candidate list in memory:
//    what search did before its cache was sparse), the same removed sets, side by side in one process. The model runs
//    once, in setup, into a temporary cache; only candidate evaluation is timed.
// 2. Search at dataset scale (issue 15, search-scale.ts): the SSD300 fixture with mmdet-ssd300 on seeded photos of COCO
//    size, 240 and 5,000 of them: cache per image, peak RSS while evaluating with 2 workers, candidate-images per
//    second (each run in its own process; the cache filled by 2 shard processes). Targets: <= 400 KB per image, 5,000
//    photos in <= 2 GB of cache and < 2 GiB peak RSS, >= 5x the candidate-images/s of commit 18dc0cd (dense cache).
//    PRUNEDET_BENCH_SCALE=240 skips the 5,000-photo runs (they take about 10 minutes each on 2 cores).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { prepareSearch, type PreparedSearch } from '../../src/jobs/search/index';
import { makeEvaluator, workerPool, type BatchEvaluator, type EvaluationPool } from '../../src/search/pool';
import { mulberry32 } from '../_support/prng';
import { FACES, hasShared, ultraface } from '../_support/shared';
import { formatScale, searchScale } from './search-scale';

const BATCH = 8;
const dir = mkdtempSync(join(tmpdir(), 'pd-bench-search-'));
let stream: PreparedSearch | undefined;
let local: BatchEvaluator | undefined;
let dense: BatchEvaluator | undefined;
let pool: EvaluationPool | undefined;
const workers = Math.max(2, availableParallelism());

/** Seeded random removed sets over the 10 base anchors (never all of them), in batches of children of one node. */
function candidates(n: number, seed: number): number[][] {
  const r = mulberry32(seed);
  const out: number[][] = [];
  while (out.length < n) {
    const node = Array.from({ length: 10 }, (_, i) => i)
      .filter(() => r() < 0.3)
      .slice(0, 7);
    for (let b = 0; b < 10 && out.length < n; b++) if (!node.includes(b)) out.push([...node, b].sort((x, y) => x - y));
  }
  return out;
}

/** Candidates per second over `sets`, evaluated BATCH at a time. */
async function rate(sets: number[][], evaluate: (batch: number[][]) => unknown): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < sets.length; i += BATCH) await evaluate(sets.slice(i, i + BATCH));
  return sets.length / ((performance.now() - t) / 1000);
}

if (hasShared) {
  const o = { model: ultraface('version-RFB-320.onnx'), images: FACES, postprocess: 'ultraface', outDir: dir };
  stream = await prepareSearch(o);
  local = makeEvaluator(stream.source);
  dense = makeEvaluator((await prepareSearch({ ...o, evaluation: 'dense' })).source);
  pool = await workerPool(stream.source, workers);
  // One plain measurement, printed once, next to vitest's per-iteration statistics.
  const sets = candidates(400, 1);
  const d = await rate(sets, (b) => dense!.evaluateBatch(b));
  const one = await rate(sets, (b) => local!.evaluateBatch(b));
  const many = await rate(sets, (b) => pool!.evaluate(b));
  console.log(
    `[search] RFB-320, 24 photos, ${stream.cache.pairs} pairs above the threshold (${(stream.cache.bytes / 24 / 1e3).toFixed(1)} KB of cache per photo): dense path ${d.toFixed(0)} candidates/s, streamed ${one.toFixed(0)} candidates/s in one thread (${(one / d).toFixed(1)}x), ${many.toFixed(0)} candidates/s on ${workers} workers (batches of ${BATCH})`,
  );
}

for (const images of [240, ...(process.env.PRUNEDET_BENCH_SCALE === '240' ? [] : [5000])]) {
  for (const model of ['trained-like', 'plain'] as const) {
    console.log(
      formatScale(await searchScale({ images, model, candidates: 100, workers: 2, postprocess: 'mmdet-ssd300' })),
    );
  }
}

afterAll(async () => {
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasShared)('RFB-320 on 24 face photos: score a batch of 8 candidates', () => {
  const sets = candidates(1000, 2);
  let i = 0;
  const next = () => {
    const b = sets.slice(i % (sets.length - BATCH), (i % (sets.length - BATCH)) + BATCH);
    i += BATCH;
    return b;
  };
  bench(
    'dense path, one thread',
    () => {
      dense!.evaluateBatch(next());
    },
    { iterations: 40, warmupIterations: 5 },
  );
  bench(
    'streamed sparse path, one thread',
    () => {
      local!.evaluateBatch(next());
    },
    { iterations: 40, warmupIterations: 5 },
  );
  bench(
    `streamed sparse path, ${workers} workers`,
    async () => {
      await pool!.evaluate(next());
    },
    { iterations: 40, warmupIterations: 5 },
  );
});
