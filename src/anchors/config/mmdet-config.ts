// mmdetection config files -> anchors: reads model.bbox_head.anchor_generator (PreciseAnchorGenerator, AnchorGenerator,
// SSDAnchorGenerator), builds its AnchorSet, and resolves a pruned config against a baseline by (scale, ratio) pairs.
import { basename, dirname, extname } from 'node:path';
import { PrunedetError } from '../../errors';
import { mmdetAnchors, mmdetSsdAnchors, preciseAnchors } from '../mmdet';
import type { AnchorSet, Stride } from '../types';
import { matchLevelPairs, type WantedPair } from './match-pairs';
import { loadPyConfig, lookup, stripDelete } from './py-config';
import { formatLoc, type PyValue } from './py-literal';
import {
  checkKeys,
  readBool,
  readInt,
  readNum,
  readNums,
  readPositive,
  readSeq,
  readStr,
  readStride,
  readTwo,
} from './py-read';
import { baselineFromSet, checkLevelCount, finishConfig, type BaselineAnchors, type ResolvedConfig } from './types';

export interface MmdetGenerator {
  /** Build the generator's AnchorSet (checks strides/centers against the levels; resolving by pairs needs neither). */
  build(): AnchorSet;
  /** Per level the pairs with their place in the file (generator settings for non-Precise types). */
  levels: WantedPair[][];
  /** The size pair scales are relative to (anchor_base_size, input_size, ...). */
  pairBase: number;
  /** Where the per-level list starts (scale_ratios, or the generator dict), for level-count messages. */
  levelsWhere: string;
}

type Dict = PyValue & { kind: 'dict' };
const PATH = ['model', 'bbox_head', 'anchor_generator'];

/**
 * Read the anchor generator of config `path`. The file alone is used when it states a complete generator (with `type`,
 * as the paper's files do with `_delete_=True`); otherwise its `_base_` files are loaded from its folder and merged.
 */
export function readMmdetAnchorGenerator(path: string): MmdetGenerator {
  const mod = loadPyConfig(path);
  let found = lookup(mod.vars, PATH);
  if (!(found?.kind === 'dict' && found.entries.has('type')) && mod.bases.length > 0) {
    found = lookup(loadPyConfig(path, { baseDir: dirname(path) }).vars, PATH);
  }
  if (found === undefined) {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${path}: no model.bbox_head.anchor_generator found`,
      "write model = dict(bbox_head=dict(anchor_generator=dict(type='PreciseAnchorGenerator', ...)))",
    );
  }
  if (found.kind !== 'dict')
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${formatLoc(found.loc)}: anchor_generator must be a dict`,
      'write anchor_generator=dict(type=..., ...)',
    );
  const ag = stripDelete(found) as Dict; // a file read on its own still carries its merge markers
  const type = ag.entries.get('type');
  if (!type)
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${formatLoc(ag.loc)}: anchor_generator has no type`,
      "add type='PreciseAnchorGenerator'",
    );
  const name = readStr(type, 'anchor_generator type');
  if (name === 'PreciseAnchorGenerator') return precise(ag);
  if (name === 'AnchorGenerator') {
    checkKeys(
      ag,
      [
        'type',
        'strides',
        'ratios',
        'scales',
        'base_sizes',
        'scale_major',
        'octave_base_scale',
        'scales_per_octave',
        'centers',
        'center_offset',
      ],
      name,
    );
    const set = located(ag, () =>
      mmdetAnchors({
        strides: readStrides(ag),
        ratios: readNums(need(ag, 'ratios'), 'ratios'),
        scales: optional(ag, 'scales', readNums),
        octaveBaseScale: optional(ag, 'octave_base_scale', readPositive),
        scalesPerOctave: optional(ag, 'scales_per_octave', readInt),
        baseSizes: optional(ag, 'base_sizes', readNums),
        scaleMajor: optional(ag, 'scale_major', readBool),
        centers: optional(ag, 'centers', readCenters),
        centerOffset: optional(ag, 'center_offset', readNum),
      }),
    );
    return derived(set, ag, pairBaseOf(set));
  }
  if (name === 'SSDAnchorGenerator') {
    checkKeys(
      ag,
      ['type', 'strides', 'ratios', 'basesize_ratio_range', 'input_size', 'min_sizes', 'max_sizes', 'scale_major'],
      name,
    );
    const inputSize = optional(ag, 'input_size', readPositive) ?? 300;
    const set = located(ag, () =>
      mmdetSsdAnchors({
        strides: readStrides(ag),
        ratios: readSeq(need(ag, 'ratios'), 'ratios').map((x, i) => readNums(x, `ratios[${i}]`)),
        basesizeRatioRange: optional(ag, 'basesize_ratio_range', readTwo),
        inputSize,
        minSizes: optional(ag, 'min_sizes', readNums),
        maxSizes: optional(ag, 'max_sizes', readNums),
        scaleMajor: optional(ag, 'scale_major', readBool),
      }),
    );
    return derived(set, ag, inputSize);
  }
  throw new PrunedetError(
    'E_CONFIG_PARSE',
    `${formatLoc(type.loc)}: anchor generator type ${name} is not supported`,
    'use PreciseAnchorGenerator, AnchorGenerator or SSDAnchorGenerator',
  );
}

/**
 * Resolve a pruned mmdetection config against `baseline`: per level, each listed (scale, ratio) pair is matched to a
 * baseline anchor (see match-pairs.ts); kept indices come out in baseline order whatever order the file lists them in.
 */
export function resolveMmdetConfig(path: string, baseline: BaselineAnchors): ResolvedConfig {
  const gen = readMmdetAnchorGenerator(path);
  checkLevelCount(gen.levels.length, baseline, gen.levelsWhere);
  gen.build(); // a config whose strides or centers do not fit its own levels is broken even if its pairs match
  // Pairs are relative to a base size; bring the config's onto the baseline's when both are known.
  const k = baseline.pairBase !== undefined ? gen.pairBase / baseline.pairBase : 1;
  const kept = gen.levels.map((wanted, l) =>
    matchLevelPairs(
      l,
      wanted.map((w) => ({ pair: { scale: w.pair.scale * k, ratio: w.pair.ratio }, where: w.where })),
      baseline,
      gen.levelsWhere,
    ),
  );
  return finishConfig(basename(path, extname(path)), kept, path);
}

/** The baseline a generator config describes (for --baseline-config): counts, pairs, pair base, and the set itself. */
export function baselineFromMmdetConfig(path: string): BaselineAnchors & { set: AnchorSet } {
  const gen = readMmdetAnchorGenerator(path);
  const set = gen.build();
  return { ...baselineFromSet(set, gen.pairBase), source: path, set };
}

function precise(ag: Dict): MmdetGenerator {
  checkKeys(
    ag,
    ['type', 'strides', 'scale_ratios', 'anchor_base_size', 'centers', 'center_offset'],
    'PreciseAnchorGenerator',
  );
  const sr = need(ag, 'scale_ratios');
  const levels: WantedPair[][] = readSeq(sr, 'scale_ratios').map((lv, l) =>
    readSeq(lv, `scale_ratios[${l}]`).map((p, j) => {
      const [scale, ratio] = readTwo(p, `scale_ratios[${l}][${j}]`);
      if (!(scale > 0 && ratio > 0))
        throw new PrunedetError(
          'E_CONFIG_PARSE',
          `${formatLoc(p.loc)}: pair (${scale}, ${ratio}) must have a positive scale and ratio`,
          'fix the pair',
        );
      return { pair: { scale, ratio }, where: formatLoc(p.loc) };
    }),
  );
  const baseSize = readPositive(need(ag, 'anchor_base_size'), 'anchor_base_size');
  const strides = readStrides(ag);
  const build = () =>
    located(ag, () =>
      preciseAnchors({
        strides,
        baseSize,
        scaleRatios: levels.map((lv) => lv.map((w) => w.pair)),
        centers: optional(ag, 'centers', readCenters),
        // center_offset=None is an error here (a number is required when the key is given), unlike in AnchorGenerator.
        centerOffset: optional(ag, 'center_offset', readNum, { noneIsUnset: false }),
      }),
    );
  return { build, levels, pairBase: baseSize, levelsWhere: formatLoc(sr.loc) };
}

/** Non-Precise generators: the pairs are the generated anchors' own (all of them; nothing is pruned). */
function derived(set: AnchorSet, ag: Dict, pairBase: number): MmdetGenerator {
  const at = formatLoc(ag.loc);
  const levels = set.levels.map((l) => l.base.map((b) => ({ pair: b.pair!, where: at })));
  return { build: () => set, levels, pairBase, levelsWhere: at };
}

/** The base size a generated set's pairs are relative to, recovered from one anchor: w = base*s/sqrt(r). */
function pairBaseOf(set: AnchorSet): number {
  const a = set.levels.find((l) => l.base.length > 0)!.base[0]!;
  return ((a.x2 - a.x1) * Math.sqrt(a.pair!.ratio)) / a.pair!.scale;
}

/** Generator settings that do not fit together are reported at the generator's place in the file. */
function located<T>(ag: Dict, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PrunedetError && e.code === 'E_CONFIG_PARSE' && !/^\S+:\d+:\d+: /.test(e.message)) {
      throw new PrunedetError(e.code, `${formatLoc(ag.loc)}: ${e.message}`, e.hint);
    }
    throw e;
  }
}

function need(ag: Dict, key: string): PyValue {
  const v = ag.entries.get(key);
  if (v === undefined)
    throw new PrunedetError('E_CONFIG_PARSE', `${formatLoc(ag.loc)}: anchor_generator has no ${key}`, `add ${key}=...`);
  return v;
}

/**
 * Optional setting `key` read with `read` (whose messages name it `key`); undefined when absent or, unless
 * `noneIsUnset` is false, None.
 */
function optional<T>(
  ag: Dict,
  key: string,
  read: (v: PyValue, what: string) => T,
  o: { noneIsUnset?: boolean } = {},
): T | undefined {
  const v = ag.entries.get(key);
  if (v === undefined || (v.kind === 'none' && o.noneIsUnset !== false)) return undefined;
  return read(v, key);
}

/** The required `strides` list: one number or (w, h) per level. */
function readStrides(ag: Dict): Stride[] {
  return readSeq(need(ag, 'strides'), 'strides').map((v, i) => readStride(v, `strides[${i}]`));
}

function readCenters(v: PyValue, what: string): [number, number][] {
  return readSeq(v, what).map((c, i) => readTwo(c, `${what}[${i}]`));
}
