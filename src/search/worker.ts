// One evaluation worker: builds an evaluator from the data it is started with (pool.ts makeEvaluator), then answers
// { id, batch } messages (lists of removed sets) with their scores, or { id, batch, from, to } with the streamed
// evaluator's part over those photos (its arrays transferred, not copied). Started by pool.ts through worker-boot.mjs.
import { parentPort, workerData } from 'node:worker_threads';
import { isPrunedetError } from '../errors';
import { makeEvaluator, type EvaluatorSource } from './pool';
import type { AccumulatorRecords } from '../eval/coco-accumulate';
import { StreamEvaluator } from './stream-eval';

const evaluator = makeEvaluator(workerData as EvaluatorSource);
parentPort!.on(
  'message',
  (m: {
    id: number;
    batch: number[][];
    from?: number;
    to?: number;
    accumulate?: AccumulatorRecords[][];
    npig?: Int32Array;
  }) => {
    try {
      if (m.accumulate && evaluator instanceof StreamEvaluator) {
        parentPort!.postMessage({ id: m.id, results: m.accumulate.map((parts) => evaluator.rawMap(parts, m.npig!)) });
        return;
      }
      if (m.from !== undefined && m.to !== undefined && evaluator instanceof StreamEvaluator) {
        const part = evaluator.partial(m.batch, m.from, m.to);
        const all = [...part.parts, ...(part.common ? [part.common] : [])].flatMap((p) => [
          p.counts.buffer,
          p.entries.buffer,
          p.records.imageRank.buffer,
          p.records.score.buffer,
          p.records.category.buffer,
          p.records.rank.buffer,
          p.records.codes.buffer,
        ]);
        // every array is the part's own (empty ones are shared and stay)
        const transfer = [...new Set(all)].filter((b) => b.byteLength > 0) as ArrayBuffer[];
        parentPort!.postMessage({ id: m.id, results: part }, transfer);
        return;
      }
      parentPort!.postMessage({ id: m.id, results: evaluator.evaluateBatch(m.batch) });
    } catch (e) {
      // A user-facing error (e.g. the cache changed under the search) crosses as its code, message and hint.
      if (isPrunedetError(e)) parentPort!.postMessage({ id: m.id, error: e.message, code: e.code, hint: e.hint });
      else
        parentPort!.postMessage({ id: m.id, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
    }
  },
);
parentPort!.postMessage({ ready: true });
