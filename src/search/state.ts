// The progress journal OUTDIR/search-state.json: every evaluated candidate's score, keyed by what decides scores (model,
// photos, preprocessing, post-processing, metric). The strategies are deterministic, so a rerun replays the search
// from these results without re-evaluating and continues where an interrupted run stopped. Written atomically; a
// journal for other inputs (or unreadable) is set aside and the search starts over.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs';

export const JOURNAL_FORMAT = 1;

export interface SearchJournal {
  format: number;
  /** Hash of everything that decides a candidate's score. */
  key: string;
  /** Search seconds spent over all runs. */
  seconds: number;
  /** removed-set key ("" = full model, "3,7" ...) -> [map, detection fingerprint]. */
  results: Record<string, [number, string]>;
}

export interface LoadedJournal {
  journal: SearchJournal;
  /** Why an existing journal was not used, if one was there. */
  discarded?: string;
}

export function loadJournal(path: string, key: string): LoadedJournal {
  const fresh: SearchJournal = { format: JOURNAL_FORMAT, key, seconds: 0, results: {} };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { journal: fresh };
  }
  try {
    const j = JSON.parse(text) as Partial<SearchJournal>;
    if (j.format !== JOURNAL_FORMAT) return { journal: fresh, discarded: `format ${String(j.format)}` };
    if (j.key !== key)
      return {
        journal: fresh,
        discarded: 'it belongs to other inputs (model, images, preprocessing, post-processing or metric changed)',
      };
    if (typeof j.results !== 'object' || j.results === null) return { journal: fresh, discarded: 'no results' };
    const results: SearchJournal['results'] = {};
    for (const [k, v] of Object.entries(j.results)) {
      if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string' && /^(\d+(,\d+)*)?$/.test(k))
        results[k] = [v[0], v[1]];
    }
    return {
      journal: {
        format: JOURNAL_FORMAT,
        key,
        seconds: typeof j.seconds === 'number' && j.seconds >= 0 ? j.seconds : 0,
        results,
      },
    };
  } catch {
    return { journal: fresh, discarded: 'unreadable JSON' };
  }
}

export function saveJournal(path: string, j: SearchJournal): void {
  writeFileAtomic(path, JSON.stringify(j));
}
