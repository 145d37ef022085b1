// Parallel candidate evaluation: N worker threads, each with its own CandidateEvaluator over the same shared tables
// (SharedArrayBuffer: no copy per worker), or the evaluator in this thread when one worker is asked for. A batch is
// split into contiguous slices, one per worker, and the results come back in batch order.
import { Worker } from 'node:worker_threads';
import { CandidateEvaluator, type CandidateScore, type EvaluatorData } from './evaluator';

export interface EvaluationPool {
  readonly workers: number;
  evaluate(batch: readonly number[][]): Promise<CandidateScore[]>;
  close(): Promise<void>;
}

/** Evaluation in the calling thread. */
export function localPool(data: EvaluatorData): EvaluationPool {
  const ev = new CandidateEvaluator(data);
  return {
    workers: 1,
    evaluate: async (batch) => batch.map((r) => ev.evaluate(r)),
    close: async () => {},
  };
}

interface Reply {
  id?: number;
  ready?: boolean;
  results?: CandidateScore[];
  error?: string;
}

/** Start `n` workers (n >= 2; use localPool for 1) and wait until each has built its evaluator. */
export async function workerPool(data: EvaluatorData, n: number): Promise<EvaluationPool> {
  const boot = new URL('./worker-boot.mjs', import.meta.url);
  const pending = new Map<number, { resolve: (r: CandidateScore[]) => void; reject: (e: Error) => void }>();
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
    Array.from({ length: n }, () => new Promise<Worker>((resolve, reject) => {
      const w = new Worker(boot, { workerData: data });
      started.push(w);
      w.on('message', (m: Reply) => {
        if (m.ready) return resolve(w);
        const p = pending.get(m.id!);
        if (!p) return;
        pending.delete(m.id!);
        if (m.error !== undefined) p.reject(new Error(`evaluation worker failed: ${m.error}`));
        else p.resolve(m.results!);
      });
      w.on('error', (e) => {
        reject(e);
        fail(e);
      });
      w.on('exit', (code) => {
        if (!closing) fail(new Error(`evaluation worker exited with code ${code}`));
      });
    })),
  );
  let workers: Worker[];
  try {
    workers = await ready;
  } catch (e) {
    closing = true;
    await Promise.all(started.map((w) => w.terminate()));
    throw e;
  }
  const call = (w: Worker, batch: readonly number[][]) =>
    new Promise<CandidateScore[]>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      w.postMessage({ id, batch });
    });
  return {
    workers: n,
    async evaluate(batch) {
      if (batch.length === 0) return [];
      const per = Math.ceil(batch.length / n);
      const parts = workers.map((w, i) => (i * per < batch.length ? call(w, batch.slice(i * per, (i + 1) * per)) : Promise.resolve([])));
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closing = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** A pool of `n` workers; `n` = 1 evaluates in this thread. */
export async function startPool(data: EvaluatorData, n: number): Promise<EvaluationPool> {
  return n <= 1 ? localPool(data) : workerPool(data, n);
}
