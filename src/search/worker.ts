// One evaluation worker: builds a CandidateEvaluator over the shared tables it is started with, then answers
// { id, batch } messages (lists of removed sets) with their scores. Started by pool.ts through worker-boot.mjs.
import { parentPort, workerData } from 'node:worker_threads';
import { CandidateEvaluator, type EvaluatorData } from './evaluator';

const evaluator = new CandidateEvaluator(workerData as EvaluatorData);
parentPort!.on('message', (m: { id: number; batch: number[][] }) => {
  try {
    parentPort!.postMessage({ id: m.id, results: m.batch.map((r) => evaluator.evaluate(r)) });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
  }
});
parentPort!.postMessage({ ready: true });
