// Parallel candidate evaluation: N threads, each with its own evaluator built from the same plain data, or the
// evaluator in this thread when one worker is asked for. The streamed evaluator (over the cache folder) splits a batch
// by photos: this thread and N - 1 worker threads each score every candidate of the batch on a contiguous range of
// photos (so the per-photo work, reading, decoding and the batch's common walk, is done once), then each merges the
// parts of a share of the candidates (COCOeval's accumulate), and this thread chains the fingerprints. The dense one
// (over shared tables: SharedArrayBuffer, no copy per worker) gives N worker threads contiguous slices of candidates.
// Results come back in batch order.
import { Worker } from 'node:worker_threads';
import { PrunedetError, type ErrorCode } from '../errors';
import { CandidateEvaluator, type CandidateScore, type EvaluatorData } from './evaluator';
import type { AccumulatorRecords } from '../eval/coco-accumulate';
import { partOf, StreamEvaluator, type PartialBatch, type StreamData } from './stream-eval';

function recordBuffers(r: AccumulatorRecords): ArrayBuffer[] {
  return [r.imageRank.buffer, r.score.buffer, r.category.buffer, r.rank.buffer, r.codes.buffer] as ArrayBuffer[];
}

/** What an evaluator is built from. */
export type EvaluatorSource = { kind: 'stream'; data: StreamData } | { kind: 'dense'; data: EvaluatorData };

export interface BatchEvaluator {
  evaluateBatch(sets: readonly (readonly number[])[]): CandidateScore[];
}

export function makeEvaluator(source: EvaluatorSource): BatchEvaluator {
  return source.kind === 'stream' ? new StreamEvaluator(source.data) : new CandidateEvaluator(source.data);
}

export interface EvaluationPool {
  readonly workers: number;
  evaluate(batch: readonly number[][]): Promise<CandidateScore[]>;
  close(): Promise<void>;
}

/** Evaluation in the calling thread. */
export function localPool(source: EvaluatorSource): EvaluationPool {
  const ev = makeEvaluator(source);
  return {
    workers: 1,
    evaluate: async (batch) => ev.evaluateBatch(batch),
    close: async () => {},
  };
}

interface Reply {
  id?: number;
  ready?: boolean;
  results?: CandidateScore[] | PartialBatch | number[];
  error?: string;
  code?: ErrorCode;
  hint?: string;
}

/** Start `n` workers (n >= 2; use localPool for 1) and wait until each has built its evaluator. */
export async function workerPool(source: EvaluatorSource, n: number): Promise<EvaluationPool> {
  // The streamed evaluator works in this thread too (its JIT is warm from the calibration pass): n - 1 threads.
  const threads = source.kind === 'stream' ? n - 1 : n;
  const boot = new URL('./worker-boot.mjs', import.meta.url);
  const pending = new Map<
    number,
    { resolve: (r: CandidateScore[] | PartialBatch | number[]) => void; reject: (e: Error) => void }
  >();
  let nextId = 0;
  let closing = false;
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  const started: Worker[] = [];
  const ready = Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(boot, { workerData: source });
          started.push(w);
          w.on('message', (m: Reply) => {
            if (m.ready) return resolve(w);
            const p = pending.get(m.id!);
            if (!p) return;
            pending.delete(m.id!);
            if (m.error !== undefined && m.code) p.reject(new PrunedetError(m.code, m.error, m.hint));
            else if (m.error !== undefined) p.reject(new Error(`evaluation worker failed: ${m.error}`));
            else p.resolve(m.results!);
          });
          w.on('error', (e) => {
            reject(e);
            fail(e);
          });
          w.on('exit', (code) => {
            if (!closing) fail(new Error(`evaluation worker exited with code ${code}`));
          });
        }),
    ),
  );
  let workers: Worker[];
  try {
    workers = await ready;
  } catch (e) {
    closing = true;
    await Promise.all(started.map((w) => w.terminate()));
    throw e;
  }
  const call = <T extends CandidateScore[] | PartialBatch | number[]>(
    w: Worker,
    message: object,
    transfer: ArrayBuffer[] = [],
  ) =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = nextId++;
      pending.set(id, { resolve: resolve as (r: CandidateScore[] | PartialBatch | number[]) => void, reject });
      w.postMessage({ id, ...message }, transfer);
    });
  const merger = source.kind === 'stream' ? new StreamEvaluator(source.data) : undefined;
  const photos = source.kind === 'stream' ? source.data.photos.length : 0;
  return {
    workers: n,
    async evaluate(batch) {
      if (batch.length === 0) return [];
      if (merger) {
        // 1. Every thread scores the whole batch on its range of photos (this one the first range, after posting the rest).
        const per = Math.ceil(photos / n);
        const ranges = Array.from(
          { length: n },
          (_, i) => [Math.min(photos, i * per), Math.min(photos, (i + 1) * per)] as const,
        ).filter(([a, b]) => b > a);
        const theirs = ranges.slice(1).map(([from, to], i) => call<PartialBatch>(workers[i]!, { batch, from, to }));
        const mine = merger.partial(batch, ranges[0]![0], ranges[0]![1]);
        const parts = [mine, ...(await Promise.all(theirs))];
        // 2. Each candidate's accumulate() (the merge of its detections) on one thread; the fingerprints here.
        //    Candidates with the batch's common detections on every photo are one job, done here.
        const { npig } = merger.totals(parts);
        const same = (c: number) => parts.every((p) => p.parts[c]!.same);
        const own = Array.from({ length: batch.length }, (_, c) => c).filter((c) => !same(c));
        const share = Math.ceil(own.length / n);
        const shares = Array.from({ length: n }, (_, i) => own.slice(i * share, (i + 1) * share));
        const records = (c: number): AccumulatorRecords[] => parts.map((p) => partOf(p, c).records);
        const commonBuffers = new Set(parts.flatMap((p) => (p.common ? recordBuffers(p.common.records) : [])));
        const raws = new Map<number, number>();
        const theirRaws = shares.slice(1).map(async (cands, i) => {
          if (cands.length === 0) return;
          const r = cands.map(records);
          // their own arrays move to the worker; a common part (shared by several candidates) is copied
          const transfer = r
            .flat()
            .flatMap(recordBuffers)
            .filter((b) => !commonBuffers.has(b));
          const got = await call<number[]>(workers[i]!, { accumulate: r, npig }, transfer);
          cands.forEach((c, q) => raws.set(c, got[q]!));
        });
        for (const c of shares[0]!) raws.set(c, merger.rawMap(records(c), npig));
        const sameRaw =
          own.length < batch.length
            ? merger.rawMap(
                parts.map((p) => p.common!.records),
                npig,
              )
            : NaN;
        await Promise.all(theirRaws);
        const sameFingerprint =
          own.length < batch.length
            ? merger.fingerprint(
                parts,
                batch.findIndex((_, c) => same(c)),
              )
            : '';
        return batch.map((_, c) =>
          same(c) ? merger.score(sameRaw, sameFingerprint) : merger.score(raws.get(c)!, merger.fingerprint(parts, c)),
        );
      }
      const per = Math.ceil(batch.length / n);
      const parts = workers.map((w, i) =>
        i * per < batch.length
          ? call<CandidateScore[]>(w, { batch: batch.slice(i * per, (i + 1) * per) })
          : Promise.resolve([]),
      );
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closing = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** A pool of `n` workers; `n` = 1 evaluates in this thread. */
export async function startPool(source: EvaluatorSource, n: number): Promise<EvaluationPool> {
  return n <= 1 ? localPool(source) : workerPool(source, n);
}
