// Names of everything the emitted C module exports: the sanitised stem, the `pd_<stem>_` symbols and `PD_<STEM>_`
// macros, and the clash checks. Every C identifier visible outside postprocess.c comes from here.
import { InternalError, PrunedetError } from '../../errors';

/** Lower-case, every run of characters outside [a-z0-9_] becomes one `_`, no leading/trailing `_`. */
export function sanitizeStem(name: string): string {
  const stem = name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  if (stem === '') {
    throw new PrunedetError('E_POSTPROCESS', `module name "${name}" has no letters or digits to build C names from`, 'pass a name such as ssd300');
  }
  return stem;
}

/** The module's header and source file names: `<stem>.h`, `<stem>.c` (stem `postprocess` unless compile --name gave one). */
export function cFileNames(stem = 'postprocess'): { header: string; source: string; object: string } {
  return { header: `${stem}.h`, source: `${stem}.c`, object: `${stem}.o` };
}

export interface CNames {
  stem: string;
  /** `pd_<stem>_` */
  prefix: string;
  /** `PD_<STEM>_` */
  macro: string;
  guard: string;
  run: string;
  workspaceSize: string;
  detection: string;
  status: string;
  ok: string;
  errArg: string;
  errWorkspace: string;
  numLevels: string;
  numAnchors: string;
  numClasses: string;
  numLabels: string;
  maxDetections: string;
  candidateCap: string;
  workspaceMacro: string;
}

/** All exported names of module `name`; throws InternalError if two of them coincide. */
export function cNames(name: string): CNames {
  const stem = sanitizeStem(name);
  const prefix = `pd_${stem}_`;
  const macro = `PD_${stem.toUpperCase()}_`;
  const names: CNames = {
    stem,
    prefix,
    macro,
    guard: `${macro}POSTPROCESS_H`,
    run: `${prefix}run`,
    workspaceSize: `${prefix}workspace_size`,
    detection: `${prefix}detection_t`,
    status: `${prefix}status_t`,
    ok: `${macro}OK`,
    errArg: `${macro}ERR_ARG`,
    errWorkspace: `${macro}ERR_WORKSPACE`,
    numLevels: `${macro}NUM_LEVELS`,
    numAnchors: `${macro}NUM_ANCHORS`,
    numClasses: `${macro}NUM_CLASSES`,
    numLabels: `${macro}NUM_LABELS`,
    maxDetections: `${macro}MAX_DETECTIONS`,
    candidateCap: `${macro}CANDIDATE_CAP`,
    workspaceMacro: `${macro}WORKSPACE_SIZE`,
  };
  const all = Object.entries(names).filter(([k]) => !['stem', 'prefix', 'macro'].includes(k));
  const seen = new Map<string, string>();
  for (const [key, value] of all) {
    const other = seen.get(value);
    if (other) throw new InternalError(`C name clash in module ${stem}: ${key} and ${other} are both ${value}`);
    seen.set(value, key);
  }
  return names;
}

/**
 * Refuse module names that become the same C stem (`ssd-300` and `ssd_300`), which would give two modules linked into
 * one program the same symbols.
 */
export function checkDistinctStems(names: string[]): void {
  const byStem = new Map<string, string>();
  for (const n of names) {
    const stem = sanitizeStem(n);
    const first = byStem.get(stem);
    if (first !== undefined && first !== n) {
      throw new PrunedetError('E_POSTPROCESS', `module names "${first}" and "${n}" both become C prefix pd_${stem}_`, 'rename one of the modules');
    }
    byStem.set(stem, n);
  }
}
