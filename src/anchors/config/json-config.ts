// JSON anchor configurations. Schema (one entry per baseline level, finest first; each entry has exactly one key):
//   { "name": "optional label", "levels": [ { "keep": [0, 2, 3] }, { "keepPairs": [[0.15, 1], [0.224, 1]] },
//     { "remove": [1] }, { "keep": [] } ] }   keep/remove: anchor indices within the level; keepPairs: (scale, ratio)
//   pairs matched to the baseline as in .py configs. An optional top-level "comment" string is ignored.
import { basename, extname } from 'node:path';
import { PrunedetError } from '../../errors';
import { matchLevelPairs } from './match-pairs';
import { readConfigText } from './py-config';
import { formatLoc, parsePyExpression, type PyValue } from './py-literal';
import { checkKeys, readInt, readSeq, readStr, readTwo, typeError } from './py-read';
import { checkLevelCount, finishConfig, type BaselineAnchors, type ResolvedConfig } from './types';
import { levelName } from '../../format/levels';

const LEVEL_KEYS = ['keep', 'keepPairs', 'remove'];

export function resolveJsonConfig(path: string, baseline: BaselineAnchors): ResolvedConfig {
  const doc = parsePyExpression(readConfigText(path), path, { jsonNames: true });
  if (doc.kind !== 'dict') throw typeError(doc, 'a JSON anchor config', 'an object {"levels": [...]}');
  checkKeys(doc, ['name', 'levels', 'comment'], 'a JSON anchor config');
  const levelsV = doc.entries.get('levels');
  if (!levelsV)
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${formatLoc(doc.loc)}: JSON anchor config has no "levels"`,
      'write {"levels": [{"keep": [...]}, ...]} with one entry per level',
    );
  const levels = readSeq(levelsV, '"levels"');
  checkLevelCount(levels.length, baseline, formatLoc(levelsV.loc));
  const kept = levels.map((lv, l) => resolveLevel(lv, l, baseline));
  const nameV = doc.entries.get('name');
  const name = nameV ? readStr(nameV, '"name"') : basename(path, extname(path));
  return finishConfig(name, kept, path);
}

function resolveLevel(lv: PyValue, l: number, baseline: BaselineAnchors): number[] {
  const what = `levels[${l}]`;
  if (lv.kind !== 'dict') throw typeError(lv, what, 'an object like {"keep": [0, 1]}');
  checkKeys(lv, LEVEL_KEYS, what);
  if (lv.entries.size !== 1) {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${formatLoc(lv.loc)}: ${what} must have exactly one of "keep", "keepPairs", "remove"`,
      'give one of them per level',
    );
  }
  const [key, v] = [...lv.entries][0]!;
  if (key === 'keepPairs') {
    const wanted = readSeq(v, `${what}.keepPairs`).map((p, j) => {
      const [scale, ratio] = readTwo(p, `${what}.keepPairs[${j}]`);
      return { pair: { scale, ratio }, where: formatLoc(p.loc) };
    });
    return matchLevelPairs(l, wanted, baseline, formatLoc(v.loc));
  }
  const n = baseline.counts[l]!;
  const seen = new Set<number>();
  for (const [j, x] of readSeq(v, `${what}.${key}`).entries()) {
    const i = readInt(x, `${what}.${key}[${j}]`);
    if (i >= n) {
      throw new PrunedetError(
        'E_CONFIG_MISMATCH',
        `${formatLoc(x.loc)}: ${levelName(l)} anchor index ${i} is out of range; the baseline has ${n} anchor${n === 1 ? '' : 's'} there (${n === 0 ? 'none' : `0-${n - 1}`})`,
        'use indices within the level, counted from 0',
      );
    }
    if (seen.has(i))
      throw new PrunedetError(
        'E_CONFIG_PARSE',
        `${formatLoc(x.loc)}: ${levelName(l)} lists anchor ${i} twice`,
        'list each anchor once',
      );
    seen.add(i);
  }
  const all = Array.from({ length: n }, (_, i) => i);
  return key === 'keep' ? all.filter((i) => seen.has(i)) : all.filter((i) => !seen.has(i));
}
