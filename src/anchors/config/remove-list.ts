// `--remove 5,7,13,16`: global base-anchor indices (level-major over the baseline's per-cell anchors, as the paper's
// search prints them, `{5, 7, 13}` accepted) turned into the kept anchors per level.
import { PrunedetError } from '../../errors';
import { finishConfig, type BaselineAnchors, type ResolvedConfig } from './types';
import { levelName } from '../../format/levels';

/** The indices of a remove list; `''`, `{}` and whitespace mean none. Separators: commas and/or spaces. */
export function parseRemoveList(text: string): number[] {
  const body = text.trim().replace(/^[{[(]\s*([^]*?)\s*[}\])]$/, '$1');
  if (/[{}[\]()]/.test(body)) {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `--remove ${JSON.stringify(text)} has unbalanced or nested brackets`,
      'write the indices as 5,7,13 or {5, 7, 13}',
    );
  }
  const parts = body.split(/[\s,]+/).filter((p) => p !== '');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) {
      throw new PrunedetError(
        'E_CONFIG_PARSE',
        `--remove: '${p}' is not an anchor index`,
        'write whole numbers >= 0 separated by commas, e.g. --remove 5,7,13',
      );
    }
    return Number(p);
  });
}

/** Kept anchors per level after removing the global indices in `text` from `baseline`. */
export function resolveRemoveList(text: string, baseline: BaselineAnchors): ResolvedConfig {
  const removed = new Set(parseRemoveList(text));
  const total = baseline.counts.reduce((a, b) => a + b, 0);
  const ranges: string[] = [];
  let offset = 0;
  const kept = baseline.counts.map((n, l) => {
    ranges.push(n === 0 ? `${levelName(l)} none` : `${levelName(l)} ${offset}-${offset + n - 1}`);
    const k: number[] = [];
    for (let i = 0; i < n; i++) if (!removed.has(offset + i)) k.push(i);
    offset += n;
    return k;
  });
  const bad = [...removed].filter((i) => i >= total).sort((a, b) => a - b);
  if (bad.length > 0) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `--remove: anchor index ${bad.join(', ')} is out of range; the baseline${baseline.source ? ` (${baseline.source})` : ''} has ${total} base anchors, 0-${total - 1} (${ranges.join(', ')})`,
      'use indices from that range',
    );
  }
  const sorted = [...removed].sort((a, b) => a - b);
  return finishConfig(`remove {${sorted.join(', ')}}`, kept, '--remove');
}

/** The inverse: the paper's global remove list of a resolved config (for reports and tests). */
export function removeListOf(kept: number[][], baseline: BaselineAnchors): number[] {
  const out: number[] = [];
  let offset = 0;
  baseline.counts.forEach((n, l) => {
    const k = new Set(kept[l] ?? []);
    for (let i = 0; i < n; i++) if (!k.has(i)) out.push(offset + i);
    offset += n;
  });
  return out;
}
