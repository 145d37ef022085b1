// The evaluation side of a search as the strategies see it (SearchDriver): removed sets in, scored candidates out,
// memoised in the progress journal (so reruns replay without evaluating), bounded by the candidate budget, costs from
// the cost table, journal saved atomically every few seconds and at the end.
import type { CandidateScore } from './evaluator';
import { costOfCounts, type LevelCost } from './cost';
import { keptOf } from './output';
import type { EvaluationPool } from './pool';
import { saveJournal, type SearchJournal } from './state';
import { removedKey, type Evaluated, type SearchDriver } from './strategies';

/** How often (ms) the journal is written while candidates are being evaluated. */
const SAVE_EVERY_MS = 2000;

export interface DriverOptions {
  counts: number[];
  costs: LevelCost[];
  minMap: number;
  anchorsPerLevel: number;
  chunk: number;
  /** Most candidates in the journal (all runs together). */
  maxCandidates: number;
  pool: Pick<EvaluationPool, 'evaluate'>;
  journal: SearchJournal;
  journalPath: string;
  onEvaluated?: (total: number) => void;
}

export interface EvaluationDriver extends SearchDriver {
  /** Every candidate known (journal + this run), in the order first seen. */
  readonly all: Evaluated[];
  get(key: string): Evaluated | undefined;
  readonly evaluatedThisRun: number;
  readonly total: number;
  /** Write the journal now (adds the evaluation time since the last save). */
  save(): void;
}

export function evaluationDriver(o: DriverOptions): EvaluationDriver {
  const memo = new Map<string, Evaluated>();
  const all: Evaluated[] = [];
  let exhausted = false;
  let thisRun = 0;
  let pendingSeconds = 0;
  let lastSave = Date.now();
  const toEvaluated = (removed: number[], s: CandidateScore): Evaluated => {
    const c = costOfCounts(
      o.costs,
      keptOf(o.counts, removed).map((k) => k.length),
    );
    return {
      removed,
      key: removedKey(removed),
      map: s.map,
      fingerprint: s.fingerprint,
      headMacs: c.headMacs,
      boxes: c.boxes,
      keptPerLevel: c.keptPerLevel,
    };
  };
  const remember = (e: Evaluated) => {
    if (memo.has(e.key)) return;
    memo.set(e.key, e);
    all.push(e);
  };
  for (const [k, [map, fingerprint]] of Object.entries(o.journal.results))
    remember(toEvaluated(k === '' ? [] : k.split(',').map(Number), { map, fingerprint }));
  // Entries in the journal (all runs), kept in step with o.journal.results as candidates are added.
  let total = Object.keys(o.journal.results).length;
  const save = () => {
    o.journal.seconds += pendingSeconds;
    pendingSeconds = 0;
    saveJournal(o.journalPath, o.journal);
    lastSave = Date.now();
  };

  return {
    counts: o.counts,
    minMap: o.minMap,
    anchorsPerLevel: o.anchorsPerLevel,
    chunk: o.chunk,
    all,
    get: (key) => memo.get(key),
    get evaluatedThisRun() {
      return thisRun;
    },
    get total() {
      return total;
    },
    exhausted: () => exhausted,
    save,
    async evaluate(sets) {
      const todo: number[][] = [];
      const planned = new Set<string>();
      for (const r of sets) {
        const k = removedKey(r);
        if (memo.has(k) || planned.has(k)) continue;
        if (total + todo.length >= o.maxCandidates) {
          exhausted = true;
          continue;
        }
        planned.add(k);
        todo.push(r);
      }
      if (todo.length > 0) {
        const t0 = performance.now();
        const scores = await o.pool.evaluate(todo);
        pendingSeconds += (performance.now() - t0) / 1000;
        todo.forEach((r, i) => {
          const s = scores[i]!;
          const key = removedKey(r);
          if (!Object.prototype.hasOwnProperty.call(o.journal.results, key)) total++;
          o.journal.results[key] = [s.map, s.fingerprint];
          remember(toEvaluated(r, s));
        });
        thisRun += todo.length;
        if (Date.now() - lastSave > SAVE_EVERY_MS) save();
        o.onEvaluated?.(total);
      }
      return sets.map((r) => memo.get(removedKey(r)));
    },
  };
}
