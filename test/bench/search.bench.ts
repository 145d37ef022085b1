// Search throughput: candidates scored per second over the cached head outputs of Ultra-Light RFB-320 on the 24 face
// photos (fidelity mode), in this thread and on a pool of worker threads. Target: >= 50 candidates/s on 2 cores.
// The model runs once, in setup, into a temporary cache; only candidate evaluation is timed.
// Then search at dataset scale (issue 15, search-scale.ts): the SSD300 fixture with mmdet-ssd300 on seeded photos of
// COCO size: cache per image, peak RSS while evaluating, candidate-images per second (each search in its own process).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { CandidateEvaluator } from '../../src/search/evaluator';
import { prepareSearch, type PreparedSearch } from '../../src/search/index';
import { workerPool, type EvaluationPool } from '../../src/search/pool';
import { mulberry32 } from '../_support/prng';
import { FACES, hasShared, ultraface } from '../_support/shared';
import { formatScale, searchScale } from './search-scale';

const BATCH = 8;
const dir = mkdtempSync(join(tmpdir(), 'pd-bench-search-'));
let prepared: PreparedSearch | undefined;
let local: CandidateEvaluator | undefined;
let pool: EvaluationPool | undefined;
const workers = Math.max(2, availableParallelism());

/** Seeded random removed sets over the 10 base anchors (never all of them). */
function candidates(n: number, seed: number): number[][] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: 10 }, (_, i) => i).filter(() => r() < 0.4).slice(0, 9));
}

if (hasShared) {
  prepared = await prepareSearch({ model: ultraface('version-RFB-320.onnx'), images: FACES, postprocess: 'ultraface', outDir: dir });
  local = new CandidateEvaluator(prepared.data);
  pool = await workerPool(prepared.data, workers);
  // One plain measurement, printed once, next to vitest's per-iteration statistics.
  const sets = candidates(400, 1);
  let t = performance.now();
  for (const s of sets) local.evaluate(s);
  const one = sets.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < sets.length; i += BATCH) await pool.evaluate(sets.slice(i, i + BATCH));
  const many = sets.length / ((performance.now() - t) / 1000);
  const dets = prepared.data.tables.start[prepared.data.tables.images]!;
  console.log(`[search] RFB-320, 24 photos, ${dets} candidate pairs: ${one.toFixed(0)} candidates/s in one thread, ${many.toFixed(0)} candidates/s on ${workers} workers (batches of ${BATCH})`);
}

for (const model of ['plain', 'trained-like'] as const) {
  console.log(formatScale(searchScale({ images: 240, model, candidates: 100, workers: 2, postprocess: 'mmdet-ssd300' })));
}

afterAll(async () => {
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasShared)('RFB-320 on 24 face photos: score one candidate', () => {
  const sets = candidates(1000, 2);
  let i = 0;
  bench('one thread, per candidate', () => {
    local!.evaluate(sets[i++ % sets.length]!);
  }, { iterations: 300, warmupIterations: 20 });
  bench(`${workers} workers, per batch of ${BATCH} candidates`, async () => {
    await pool!.evaluate(Array.from({ length: BATCH }, () => sets[i++ % sets.length]!));
  }, { iterations: 60, warmupIterations: 5 });
});
