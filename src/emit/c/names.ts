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
    throw new PrunedetError(
      'E_POSTPROCESS',
      `module name "${name}" has no letters or digits to build C names from`,
      'pass a name such as ssd300',
    );
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
  /**
   * postprocess.c's private file-scope names (static functions and tables, types, macros), prefixed like the exported
   * ones so that modules with different prefixes can share one translation unit. `local.cand_t` is `pd_<stem>_cand_t`,
   * `local.KEPT_PAD` is `PD_<STEM>_KEPT_PAD`; the private macros are #undef'd at the end of postprocess.c.
   */
  local: LocalNames;
}

/** File-scope statics and types of postprocess.c, by their unprefixed names. */
export const LOCAL_IDENTIFIERS = [
  'expf',
  'expf_neg',
  'level_offset',
  'level_h',
  'level_w',
  'level_a',
  'anchors',
  'anchor_at',
  'anchor_level',
  'anchor_stride',
  'anchor_base',
  'yolo_anchor',
  'level_stride',
  'cand_t',
  'cand_key',
  'cand_score',
  'float_key',
  'keep_best',
  'pool_t',
  'bar_score',
  'bar_reject',
  'reject_for',
  'pool_offer',
  'pool_finish',
  'pool_reset',
  'bit16',
  'ctz_debruijn',
  'heap_sift_down',
  'block_label',
  'block_rejects',
  'score_anchor',
  'row_bound',
  'row_rejects',
  'score_inf_row',
  'score_batch',
  'score_range',
  'decode_box',
  'suppressed_by_kept',
  'kept_suppresses',
  'decode_candidate',
  'nms',
] as const;
/** Macros postprocess.c defines for itself (HOT and PREFETCH take the user's PD_HOT / PD_PREFETCH when given). */
export const LOCAL_MACROS = [
  'HOT',
  'PREFETCH',
  'NO_CAND',
  'LOWEST_BIT64',
  'BLOCK_ROWS',
  'KEPT_PAD',
  'LEVEL_K',
] as const;
export type LocalNames = Record<(typeof LOCAL_IDENTIFIERS)[number] | (typeof LOCAL_MACROS)[number], string>;

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
    local: Object.fromEntries([
      ...LOCAL_IDENTIFIERS.map((n) => [n, `${prefix}${n}`]),
      ...LOCAL_MACROS.map((n) => [n, `${macro}${n}`]),
    ]) as LocalNames,
  };
  const all = [
    ...Object.entries(names).filter(([k]) => !['stem', 'prefix', 'macro', 'local'].includes(k)),
    ...Object.entries(names.local).map(([k, v]) => [`local ${k}`, v] as [string, string]),
  ];
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
      throw new PrunedetError(
        'E_POSTPROCESS',
        `module names "${first}" and "${n}" both become C prefix pd_${stem}_`,
        'rename one of the modules',
      );
    }
    byStem.set(stem, n);
  }
}
