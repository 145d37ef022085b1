// One entry point for every anchor-configuration form: a .py (mmdetection) or .json file, or a --remove list, resolved
// against the baseline anchors to the kept anchor indices per level.
import { extname } from 'node:path';
import { PrunedetError } from '../../errors';
import { resolveJsonConfig } from './json-config';
import { resolveMmdetConfig } from './mmdet-config';
import { resolveRemoveList } from './remove-list';
import type { BaselineAnchors, ResolvedConfig } from './types';

export { baselineFromMmdetConfig, readMmdetAnchorGenerator, resolveMmdetConfig } from './mmdet-config';
export { parseRemoveList, removeListOf, resolveRemoveList } from './remove-list';
export { resolveJsonConfig } from './json-config';
export { baselineFromSet, type BaselineAnchors, type ResolvedConfig } from './types';

export interface ResolveConfigOptions {
  /** A .py (mmdetection) or .json anchor config file. */
  config?: string;
  /** A global remove list, e.g. '5,7,13' or '{5, 7, 13}'. */
  remove?: string;
  baseline: BaselineAnchors;
}

/** Resolve whichever form was given; neither keeps every anchor (name 'baseline'). */
export function resolveConfig(o: ResolveConfigOptions): ResolvedConfig {
  if (o.config !== undefined && o.remove !== undefined) {
    throw new PrunedetError(
      'E_USAGE',
      `both a config (${o.config}) and --remove were given`,
      'pass one of --config and --remove',
    );
  }
  if (o.remove !== undefined) return resolveRemoveList(o.remove, o.baseline);
  if (o.config === undefined)
    return { kept: o.baseline.counts.map((n) => Array.from({ length: n }, (_, i) => i)), name: 'baseline' };
  const ext = extname(o.config).toLowerCase();
  if (ext === '.py') return resolveMmdetConfig(o.config, o.baseline);
  if (ext === '.json') return resolveJsonConfig(o.config, o.baseline);
  throw new PrunedetError(
    'E_CONFIG_PARSE',
    `config ${o.config} has extension '${ext || '(none)'}'`,
    'pass an mmdetection-style .py file or a .json anchor config',
  );
}
