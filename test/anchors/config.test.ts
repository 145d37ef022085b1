// Anchor configurations: the paper's SSD300 A-D and pruned RetinaNet resolve to the stated counts, agree with their
// remove lists and JSON forms, survive a baseline from a different generator, and fail with located one-line errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PrunedetError } from '../../src/errors';
import { keepAnchors, mmdetAnchors, mmdetSsdAnchors, totalAnchors, type FeatureMap } from '../../src/anchors/generate';
import {
  baselineFromMmdetConfig,
  baselineFromSet,
  parseRemoveList,
  readMmdetAnchorGenerator,
  removeListOf,
  resolveConfig,
  resolveRemoveList,
  type BaselineAnchors,
} from '../../src/anchors/config/index';

const SSD = 'configs/ssd300';
const RETINA = 'configs/retinanet';
const ssdBase = baselineFromMmdetConfig(`${SSD}/baseline.py`);
const retinaBase = baselineFromMmdetConfig(`${RETINA}/baseline.py`);
const tmp = mkdtempSync(join(tmpdir(), 'prunedet-cfg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

// _base_ files are read only from the config's own folder: the configs written below inherit from copies placed there.
file('ssd_baseline.py', readFileSync(`${SSD}/baseline.py`, 'utf8'));
file('retina_baseline.py', readFileSync(`${RETINA}/baseline.py`, 'utf8'));
file(
  'retina_pruned.py',
  readFileSync(`${RETINA}/pruned.py`, 'utf8').replace("'./baseline.py'", "'./retina_baseline.py'"),
);

function fails(f: () => unknown, code: string): PrunedetError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PrunedetError);
    expect((e as PrunedetError).code).toBe(code);
    return e as PrunedetError;
  }
  throw new Error('expected an error');
}

// Derived by hand from design.md: the global indices (level-major over 4+6+6+6+4+4 = 30 anchors) of removed pairs.
const PAPER = {
  config_a: { counts: [4, 4, 5, 3, 2, 1], remove: '5,7,13,16,17,19,22,25,26,27,28' },
  config_b: { counts: [2, 4, 5, 3, 2, 1], remove: '1,2,5,7,13,16,17,19,24,25,26,27,28' },
  config_c: { counts: [1, 3, 5, 3, 2, 1], remove: '1,2,3,5,7,8,13,16,17,19,22,25,26,27,28' },
  config_d: { counts: [0, 2, 5, 2, 2, 1], remove: '0,1,2,3,5,6,7,8,13,16,17,19,20,22,25,26,27,28' },
};

describe("the paper's SSD300 configurations", () => {
  it('baseline: 30 pairs, 4,6,6,6,4,4, centres at stride/2', () => {
    expect(ssdBase.counts).toEqual([4, 6, 6, 6, 4, 4]);
    expect(ssdBase.pairBase).toBe(300);
    expect(ssdBase.pairs![1]![4]!.ratio).toBeCloseTo(1 / 3, 15);
    expect(ssdBase.set.levels[4]!.base[0]!.x1 + ssdBase.set.levels[4]!.base[0]!.x2).toBeCloseTo(100, 12);
  });

  for (const [name, want] of Object.entries(PAPER)) {
    it(`${name} keeps ${want.counts.join(',')} and equals --remove ${want.remove}`, () => {
      const r = resolveConfig({ config: `${SSD}/${name}.py`, baseline: ssdBase });
      expect(r.name).toBe(name);
      expect(r.kept.map((k) => k.length)).toEqual(want.counts);
      expect(resolveConfig({ remove: want.remove, baseline: ssdBase }).kept).toEqual(r.kept);
      expect(removeListOf(r.kept, ssdBase).join(',')).toBe(want.remove);
      // the kept baseline pairs are the pairs the file lists (checked pair by pair, independent of the matcher)
      const listed = readMmdetAnchorGenerator(`${SSD}/${name}.py`).levels.map((l) => l.map((w) => w.pair));
      r.kept.forEach((k, l) => {
        const got = k.map((i) => ssdBase.pairs![l]![i]!);
        expect(got.length).toBe(listed[l]!.length);
        for (const p of listed[l]!)
          expect(got.some((g) => Math.abs(g.scale - p.scale) < 1e-9 && Math.abs(g.ratio - p.ratio) < 1e-9)).toBe(true);
      });
    });
  }

  it("the paper's printed form {5, 7, ...} and spaces are accepted", () => {
    const a = resolveConfig({ config: `${SSD}/config_a.py`, baseline: ssdBase });
    expect(resolveRemoveList('{5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28}', ssdBase).kept).toEqual(a.kept);
    expect(resolveRemoveList(' 5 7  13,16, 17 19 22 25 26 27 28 ', ssdBase).kept).toEqual(a.kept);
    expect(parseRemoveList('')).toEqual([]);
    expect(parseRemoveList('{}')).toEqual([]);
    expect(resolveRemoveList('', ssdBase).kept.map((k) => k.length)).toEqual([4, 6, 6, 6, 4, 4]);
  });

  it('JSON equivalents (keep, keepPairs, remove) give identical kept', () => {
    for (const name of Object.keys(PAPER)) {
      const r = resolveConfig({ config: `${SSD}/${name}.py`, baseline: ssdBase });
      const listed = readMmdetAnchorGenerator(`${SSD}/${name}.py`).levels.map((l) =>
        l.map((w) => [w.pair.scale, w.pair.ratio]),
      );
      const keep = file(`${name}-keep.json`, JSON.stringify({ levels: r.kept.map((k) => ({ keep: k })) }, null, 2));
      const pairs = file(`${name}-pairs.json`, JSON.stringify({ name, levels: listed.map((p) => ({ keepPairs: p })) }));
      const removed = ssdBase.counts.map((n, l) =>
        Array.from({ length: n }, (_, i) => i).filter((i) => !r.kept[l]!.includes(i)),
      );
      const remove = file(`${name}-remove.json`, JSON.stringify({ levels: removed.map((x) => ({ remove: x })) }));
      for (const p of [keep, pairs, remove])
        expect(resolveConfig({ config: p, baseline: ssdBase }).kept).toEqual(r.kept);
    }
    expect(resolveConfig({ config: `${SSD}/config_a.json`, baseline: ssdBase }).kept).toEqual(
      resolveConfig({ config: `${SSD}/config_a.py`, baseline: ssdBase }).kept,
    );
  });

  it("resolves against a baseline from mmdetection's SSDAnchorGenerator (other order, 0.2225 for 0.224)", () => {
    const set = mmdetSsdAnchors({
      strides: [8, 16, 32, 64, 100, 300],
      ratios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
      scaleMajor: false,
    });
    const base = baselineFromSet(set, 300);
    const r = resolveConfig({ config: `${SSD}/config_a.py`, baseline: base });
    expect(r.kept.map((k) => k.length)).toEqual([4, 4, 5, 3, 2, 1]);
    // level 2 in mmdetection order: (0.15,1) (0.2225,1) (0.15,1/2) (0.15,2) (0.15,1/3) (0.15,3); A keeps 1, 3, 1/3, big
    expect(r.kept[1]).toEqual([0, 1, 4, 5]);
  });
});

describe("the paper's pruned RetinaNet", () => {
  const MAPS: FeatureMap[] = [
    [100, 150],
    [50, 75],
    [25, 38],
    [13, 19],
    [7, 10],
  ];
  it('baseline 9 per level (180,153 boxes); pruned 0,8,8,8,8 (40,136 boxes), 1.26 matching 1.2599', () => {
    expect(retinaBase.counts).toEqual([9, 9, 9, 9, 9]);
    expect(totalAnchors(retinaBase.set, MAPS)).toBe(180153);
    const r = resolveConfig({ config: `${RETINA}/pruned.py`, baseline: retinaBase });
    expect(r.kept).toEqual([
      [],
      [0, 1, 2, 3, 4, 6, 7, 8],
      [0, 1, 2, 3, 4, 6, 7, 8],
      [0, 1, 2, 3, 4, 6, 7, 8],
      [0, 1, 2, 3, 4, 6, 7, 8],
    ]);
    expect(totalAnchors(keepAnchors(retinaBase.set, r.kept), MAPS)).toBe(40136);
    expect(resolveRemoveList('0,1,2,3,4,5,6,7,8,14,23,32,41', retinaBase).kept).toEqual(r.kept);
  });

  it("resolves the same against mmdetection's AnchorGenerator (octave scales relative to 512)", () => {
    const set = mmdetAnchors({
      strides: [8, 16, 32, 64, 128],
      ratios: [0.5, 1, 2],
      octaveBaseScale: 4,
      scalesPerOctave: 3,
    });
    const r = resolveConfig({ config: `${RETINA}/pruned.py`, baseline: baselineFromSet(set, 512) });
    expect(r).toEqual(resolveConfig({ config: `${RETINA}/pruned.py`, baseline: retinaBase }));
  });

  it('reads an AnchorGenerator config as a baseline and rescales pairs to a different base size', () => {
    const p = file(
      'retina_std.py',
      "model = dict(bbox_head=dict(anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128])))\n",
    );
    const b = baselineFromMmdetConfig(p);
    expect(b.pairBase).toBeCloseTo(512, 9);
    expect(b.counts).toEqual([9, 9, 9, 9, 9]);
    // the same pruned config written against base size 256: every scale doubles
    const half = file(
      'pruned256.py',
      "_base_ = ['./retina_pruned.py']\nmodel = dict(bbox_head=dict(anchor_generator=dict(anchor_base_size=256, scale_ratios=((), ((0.25, 1.0),), ((0.5, 1.0),), ((1.0, 1.0),), ((2.0, 1.0),)))))\n",
    );
    expect(resolveConfig({ config: half, baseline: b }).kept).toEqual([[], [3], [3], [3], [3]]);
  });
});

describe('errors (E_CONFIG_MISMATCH unless the file is malformed)', () => {
  const lvl = (l: string) =>
    `_base_ = ['./ssd_baseline.py']\nmodel = dict(bbox_head=dict(anchor_generator=dict(\n    scale_ratios=${l})))\n`;

  it('a level count that differs from the baseline', () => {
    const p = file('five.py', lvl('[(), (), (), (), [(0.69, 2.0)]]'));
    expect(fails(() => resolveConfig({ config: p, baseline: ssdBase }), 'E_CONFIG_MISMATCH').oneLine()).toBe(
      `prunedet: ${p}:3:18: config has 5 levels but the baseline (configs/ssd300/baseline.py) has 6; write one entry per level (6), finest first; an empty entry removes a whole level`,
    );
  });

  it('a pair the baseline lacks names level, pair, file:line:col and the baseline pairs', () => {
    const p = file('lacks.py', lvl('[(), [(0.15, 1.0),\n      (0.16, 1.0)], (), (), (), ()]'));
    const e = fails(() => resolveConfig({ config: p, baseline: ssdBase }), 'E_CONFIG_MISMATCH');
    expect(e.message).toBe(
      `${p}:4:7: level 1 pair (0.16, 1) is not one of the baseline's anchors on that level: (0.15, 1) (0.15, 2) (0.15, 3) (0.15, 0.5) (0.15, 0.333333) (0.224, 1)`,
    );
  });

  it('everything removed', () => {
    const p = file('none.py', lvl('[(), (), (), (), (), ()]'));
    expect(fails(() => resolveConfig({ config: p, baseline: ssdBase }), 'E_CONFIG_MISMATCH').message).toBe(
      `${p}: config none removes every anchor on every level`,
    );
    fails(() => resolveRemoveList(Array.from({ length: 30 }, (_, i) => i).join(','), ssdBase), 'E_CONFIG_MISMATCH');
    fails(
      () =>
        resolveConfig({
          config: file(
            'none.json',
            '{"levels": [{"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}]}',
          ),
          baseline: ssdBase,
        }),
      'E_CONFIG_MISMATCH',
    );
  });

  it('an emptied level alone is fine', () => {
    expect(
      resolveConfig({
        config: file(
          'd.json',
          '{"levels": [{"keep": []}, {"keep": [0]}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}]}',
        ),
        baseline: ssdBase,
      }).kept[1],
    ).toEqual([0]);
  });

  it('a remove index out of range names it and the valid range', () => {
    expect(fails(() => resolveRemoveList('5, 30', ssdBase), 'E_CONFIG_MISMATCH').message).toBe(
      '--remove: anchor index 30 is out of range; the baseline (configs/ssd300/baseline.py) has 30 base anchors, 0-29 (level 0 0-3, level 1 4-9, level 2 10-15, level 3 16-21, level 4 22-25, level 5 26-29)',
    );
    expect(fails(() => resolveRemoveList('5,x', ssdBase), 'E_CONFIG_PARSE').message).toBe(
      "--remove: 'x' is not an anchor index",
    );
  });

  it('a pair listed twice, and an ambiguous pair', () => {
    const p = file('twice.py', lvl('[[(0.07, 1.0), (0.0701, 1.0)], [], [], [], [], []]'));
    expect(fails(() => resolveConfig({ config: p, baseline: ssdBase }), 'E_CONFIG_MISMATCH').message).toMatch(
      /:3:33: level 0 pair \(0\.0701, 1\) names baseline anchor 0 \(0\.07, 1\) again \(first at .*:3:20\)/,
    );
    const dup: BaselineAnchors = {
      counts: [2],
      pairs: [
        [
          { scale: 0.1, ratio: 1 },
          { scale: 0.1, ratio: 1 },
        ],
      ],
    };
    const q = file('dup.json', '{"levels": [{"keepPairs": [[0.1, 1]]}]}');
    expect(fails(() => resolveConfig({ config: q, baseline: dup }), 'E_CONFIG_MISMATCH').message).toMatch(
      /dup\.json:1:28: level 0 pair \(0\.1, 1\) is ambiguous/,
    );
  });

  it('pairs against a baseline without known pairs', () => {
    expect(
      fails(
        () =>
          resolveConfig({
            config: `${SSD}/config_a.py`,
            baseline: { counts: [4, 6, 6, 6, 4, 4], source: 'model.onnx' },
          }),
        'E_CONFIG_MISMATCH',
      ).oneLine(),
    ).toMatch(
      /level 0 is given as \(scale, ratio\) pairs but the baseline \(model\.onnx\) has no known pairs.*--baseline-config/,
    );
  });

  it('JSON: level index out of range, unknown key, two keys in a level, count mismatch', () => {
    expect(
      fails(
        () =>
          resolveConfig({
            config: file(
              'r.json',
              '{"levels": [{"keep": [4]}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}]}',
            ),
            baseline: ssdBase,
          }),
        'E_CONFIG_MISMATCH',
      ).message,
    ).toMatch(/r\.json:1:23: level 0 anchor index 4 is out of range; the baseline has 4 anchors there \(0-3\)/);
    expect(
      fails(
        () =>
          resolveConfig({
            config: file(
              'k.json',
              '{"levels": [{"kep": [0]}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}]}',
            ),
            baseline: ssdBase,
          }),
        'E_CONFIG_PARSE',
      ).message,
    ).toMatch(/k\.json:1:21: levels\[0\] has no setting 'kep'/);
    fails(
      () =>
        resolveConfig({
          config: file(
            'two.json',
            '{"levels": [{"keep": [0], "remove": [1]}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}, {"keep": []}]}',
          ),
          baseline: ssdBase,
        }),
      'E_CONFIG_PARSE',
    );
    expect(
      fails(
        () => resolveConfig({ config: file('c.json', '{\n"levels": [{"keep": [0]}]}'), baseline: ssdBase }),
        'E_CONFIG_MISMATCH',
      ).message,
    ).toMatch(/c\.json:2:11: config has 1 level but the baseline/);
  });

  it('malformed or unsupported config files', () => {
    fails(() => resolveConfig({ config: file('x.yaml', 'a: 1'), baseline: ssdBase }), 'E_CONFIG_PARSE');
    fails(() => resolveConfig({ config: join(tmp, 'absent.py'), baseline: ssdBase }), 'E_FILE_NOT_FOUND');
    fails(() => resolveConfig({ config: `${SSD}/config_a.py`, remove: '1', baseline: ssdBase }), 'E_USAGE');
    expect(
      fails(
        () =>
          resolveConfig({
            config: file(
              'typo.py',
              "model = dict(bbox_head=dict(anchor_generator=dict(type='PreciseAnchorGenerator', strides=[8], scale_ratio=[[(0.1, 1.0)]], anchor_base_size=300)))\n",
            ),
            baseline: ssdBase,
          }),
        'E_CONFIG_PARSE',
      ).message,
    ).toMatch(/typo\.py:1:\d+: PreciseAnchorGenerator has no setting 'scale_ratio'/);
    expect(
      fails(
        () => resolveConfig({ config: file('nogen.py', 'model = dict(backbone=dict())\n'), baseline: ssdBase }),
        'E_CONFIG_PARSE',
      ).message,
    ).toMatch(/no model\.bbox_head\.anchor_generator found/);
    expect(
      fails(
        () => resolveConfig({ config: file('badpair.py', lvl('[[(0.07,)], [], [], [], [], []]')), baseline: ssdBase }),
        'E_CONFIG_PARSE',
      ).message,
    ).toMatch(/badpair\.py:3:20: scale_ratios\[0\]\[0\] must be a pair \(a, b\), found a tuple of 1/);
  });

  it('generator settings that do not fit together are reported at the generator', () => {
    const p = file(
      'strides.py',
      "model = dict(bbox_head=dict(anchor_generator=dict(type='PreciseAnchorGenerator', strides=[8, 16],\n    anchor_base_size=300, scale_ratios=[[(0.1, 1.0)]])))\n",
    );
    expect(
      fails(
        () => resolveConfig({ config: p, baseline: { counts: [1], pairs: [[{ scale: 0.1, ratio: 1 }]] } }),
        'E_CONFIG_PARSE',
      ).message,
    ).toBe(`${p}:1:46: anchor generator has 2 strides but 1 scale_ratios entries`);
  });

  it('None leaves an optional setting unset, except PreciseAnchorGenerator center_offset, which must be a number', () => {
    const ag = (s: string) => `model = dict(bbox_head=dict(anchor_generator=dict(${s})))\n`;
    const precise = "type='PreciseAnchorGenerator', strides=[8], anchor_base_size=300, scale_ratios=[[(0.1, 1.0)]]";
    const p = file('offset_none.py', ag(`${precise}, center_offset=None`));
    expect(fails(() => baselineFromMmdetConfig(p), 'E_CONFIG_PARSE').message).toBe(
      `${p}:1:160: center_offset must be a number, found None`,
    );
    expect(baselineFromMmdetConfig(file('centers_none.py', ag(`${precise}, centers=None`))).counts).toEqual([1]);
    const retina = baselineFromMmdetConfig(
      file(
        'retina_none.py',
        ag(
          "type='AnchorGenerator', strides=[8, 16], ratios=[0.5, 1.0], scales=[1, 2], base_sizes=None, scale_major=None, centers=None, center_offset=None, octave_base_scale=None, scales_per_octave=None",
        ),
      ),
    );
    expect(retina.counts).toEqual([4, 4]);
    const ssd = baselineFromMmdetConfig(
      file(
        'ssd_none.py',
        ag(
          "type='SSDAnchorGenerator', strides=[8, 16, 32, 64, 100, 300], ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]], input_size=None, basesize_ratio_range=None, min_sizes=None, max_sizes=None, scale_major=None",
        ),
      ),
    );
    expect(ssd.counts).toEqual([4, 6, 6, 6, 4, 4]);
    expect(ssd.pairBase).toBe(300);
  });

  it('a paper-style file (f-string _base_ into an absent mmdetection tree, _delete_=True) needs no base', () => {
    const p = file(
      'paper_style.py',
      [
        "mmdet_root = '/nonexistent/mmdetection/configs'",
        "_base_ = [f'{mmdet_root}/ssd/ssd300_coco.py']",
        'model = dict(bbox_head=dict(anchor_generator=dict(',
        "    _delete_=True, type='PreciseAnchorGenerator', strides=[8, 16, 32, 64, 100, 300], anchor_base_size=300,",
        '    centers=((4, 4), (8, 8), (16, 16), (32, 32), (50, 50), (150, 150)),',
        '    scale_ratios=((), ((0.15, 1.0), (0.224, 1.0)), ((0.33, 1.0),), ((0.51, 3.0),), ((0.69, 2.0),), ((0.9557, 1.0),)))))',
        '',
      ].join('\n'),
    );
    expect(resolveConfig({ config: p, baseline: ssdBase }).kept).toEqual([[], [0, 5], [0], [2], [1], [3]]);
  });

  it('no config and no remove list keeps everything', () => {
    expect(resolveConfig({ baseline: ssdBase })).toEqual({
      name: 'baseline',
      kept: [
        [0, 1, 2, 3],
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 3],
        [0, 1, 2, 3],
      ],
    });
  });
});
