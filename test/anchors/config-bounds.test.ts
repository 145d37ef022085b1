// Bounds of the config readers (src/limits.ts), each on a crafted file: literal size built by operators (and through
// names), nesting depth, file size; `_base_` files outside the config's folder are never opened (their content never
// reaches a message), while a config written like the paper's (absolute mmdetection _base_, complete generator) works.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PrunedetError } from '../../src/errors';
import { LIMITS } from '../../src/limits';
import { parsePyConfig } from '../../src/anchors/config/py-literal';
import { configFiles } from '../../src/anchors/config/py-config';
import { baselineFromMmdetConfig, resolveConfig } from '../../src/anchors/config/index';
import { loadHeadSpec } from '../../src/detector/head-spec';

const dir = mkdtempSync(join(tmpdir(), 'pd-cfg-bounds-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const ssdBase = baselineFromMmdetConfig('configs/ssd300/baseline.py');

function parseFails(text: string, pattern: RegExp): void {
  const t0 = performance.now();
  let err: unknown;
  try {
    parsePyConfig(text, 'c.py');
  } catch (e) {
    err = e;
  }
  expect(err, 'accepted').toBeInstanceOf(PrunedetError);
  expect((err as PrunedetError).code).toBe('E_CONFIG_PARSE');
  expect((err as PrunedetError).message).toMatch(pattern);
  expect(performance.now() - t0, 'refused before building the value').toBeLessThan(5000);
}

describe('config literal size and nesting are bounded', () => {
  it('a list repeated past the value budget is refused before it is built', () => {
    parseFails(
      'x = [0] * 10**9\n',
      /c\.py:1:9: this expression builds 1,000,000,000 values, taking the config past the 1,000,000 values it may build/,
    );
    parseFails('x = [0] * 10**5 * 10**5\n', /taking the config past the 1,000,000 values it may build/);
    parseFails('x = (1,) * 2**31\n', /builds 2,147,483,648 values/);
  });

  it('doubling by names, lists or strings runs out of budget', () => {
    parseFails(
      ['a = [0] * 1000', ...Array.from({ length: 30 }, () => 'a = a + a')].join('\n'),
      /past the 1,000,000 values it may build/,
    );
    parseFails(
      ['s = "xxxxxxxxxx"', ...Array.from({ length: 40 }, () => 's = s + s')].join('\n'),
      /past the 1,000,000 values it may build/,
    );
    // no operator at all: each line holds two references to the previous value (2^40 leaves)
    parseFails(
      ['a0 = [0, 0]', ...Array.from({ length: 40 }, (_, i) => `a${i + 1} = [a${i}, a${i}]`)].join('\n'),
      /past the 1,000,000 values it may build/,
    );
    parseFails(
      ["s = 'xxxxxxxxxxxxxxxx'", ...Array.from({ length: 20 }, () => "s = f'{s}{s}'")].join('\n'),
      /past the 1,000,000 values it may build/,
    );
  });

  it('brackets, dict() calls, signs and ** chains deeper than the limit are refused (no stack overflow)', () => {
    const depth = LIMITS.configDepth;
    parseFails(
      `x = ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
      new RegExp(`brackets nested deeper than ${depth} levels`),
    );
    parseFails(`x = ${'dict(a='.repeat(20_000)}1${')'.repeat(20_000)}\n`, /nested deeper than 100 levels/);
    parseFails(`x = ${'-'.repeat(200_000)}1\n`, /expression nested deeper than 100 levels/);
    parseFails(`x = ${'2**'.repeat(100_000)}2\n`, /expression nested deeper than 100 levels/);
    parseFails(
      ['a0 = [0]', ...Array.from({ length: 300 }, (_, i) => `a${i + 1} = [a${i}]`)].join('\n'),
      /value nested deeper than 100 levels/,
    );
    // what real configs do stays well inside
    expect(parsePyConfig(`x = ${'['.repeat(20)}1${']'.repeat(20)}\ny = [0] * 1000\n`, 'ok.py').vars.size).toBe(2);
  });

  it('a config file above the size limit is refused before it is parsed; a JSON config nested too deep too', () => {
    const big = file('big.py', `x = [${'0, '.repeat(1_500_000)}]\n`);
    expect(() => resolveConfig({ config: big, baseline: ssdBase })).toThrow(
      /config .*big\.py is 4,500,007 bytes, above prunedet's limit of 4,194,304/,
    );
    const deep = file('deep.json', `{"levels": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(() => resolveConfig({ config: deep, baseline: ssdBase })).toThrow(/brackets nested deeper than 100 levels/);
  });

  it('a head spec that is null, a list, or holds a null level is E_HEAD_SPEC, not a crash', () => {
    for (const [text, pattern] of [
      ['null', /hs\.json holds null, not an object/],
      ['[]', /hs\.json holds a list, not an object/],
      ['"levels"', /hs\.json holds a string, not an object/],
      ['{"levels": [null]}', /hs\.json level 0 holds null, not an object/],
      ['{"levels": [{"anchors": 6, "convs": null}]}', /hs\.json level 0: "convs" must map roles to conv names/],
    ] as const) {
      let err: unknown;
      try {
        loadHeadSpec(file('hs.json', text));
      } catch (e) {
        err = e;
      }
      expect((err as PrunedetError).code).toBe('E_HEAD_SPEC');
      expect((err as PrunedetError).message).toMatch(pattern);
    }
  });
});

describe('_base_ outside the config folder is never read', () => {
  const outside = join(dir, 'elsewhere');
  mkdirSync(outside, { recursive: true });
  const secret = join(outside, 'secret.py');
  writeFileSync(
    secret,
    "TOPSECRET = 'the content of another file'\nmodel = dict(bbox_head=dict(anchor_generator=dict(type='PreciseAnchorGenerator', strides=[8], anchor_base_size=300, scale_ratios=[[(0.1, 1.0)]])))\n",
  );
  const cfgDir = join(dir, 'cfg');
  mkdirSync(cfgDir, { recursive: true });
  const incomplete = 'model = dict(bbox_head=dict(anchor_generator=dict(scale_ratios=[[(0.1, 1.0)]])))\n';

  for (const [what, base] of [
    ['an absolute path to a readable file', secret],
    ['/etc/passwd', '/etc/passwd'],
    ['a ../ path', '../elsewhere/secret.py'],
  ] as const) {
    it(`${what}: an incomplete generator names the base, exit 2, nothing of the file in the message`, () => {
      const cfg = join(cfgDir, 'child.py');
      writeFileSync(cfg, `_base_ = ['${base}']\n${incomplete}`);
      let err: unknown;
      try {
        baselineFromMmdetConfig(cfg);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PrunedetError);
      expect((err as PrunedetError).code).toBe('E_CONFIG_PARSE');
      expect((err as PrunedetError).oneLine()).toMatch(
        new RegExp(
          `child\\.py:1:11: _base_ ${base.replace(/[./]/g, '\\$&')} lies outside the config's folder .*cfg, and prunedet reads _base_ files only from there; state the complete anchor_generator`,
        ),
      );
      expect((err as PrunedetError).oneLine()).not.toMatch(/TOPSECRET|another file|root:/);
      expect(configFiles(cfg)).toEqual([cfg]); // and the output rule does not count it as read
    });
  }

  it("a config written like the paper's (absolute mmdetection _base_ that exists, complete generator) works unchanged", () => {
    // the paper's files start `_base_ = '/.../mmdetection/configs/ssd/ssd300_coco.py'` and restate the whole generator
    const mmdet = join(outside, 'mmdetection', 'configs', 'ssd');
    mkdirSync(mmdet, { recursive: true });
    writeFileSync(join(mmdet, 'ssd300_coco.py'), 'this is not a literal config = [ and would fail to parse\n');
    const paper = join(cfgDir, 'ssd300_pruned_a.py');
    writeFileSync(
      paper,
      [
        `_base_ = '${join(mmdet, 'ssd300_coco.py')}'`,
        'input_size = 300',
        'model = dict(',
        '    bbox_head=dict(',
        '        anchor_generator=dict(',
        "            _delete_=True, type='PreciseAnchorGenerator', strides=[8, 16, 32, 64, 100, 300], anchor_base_size=input_size,",
        '            centers=[(4, 4), (8, 8), (16, 16), (32, 32), (50, 50), (150, 150)],',
        '            scale_ratios=[[(0.07, 1.0), (0.07, 2.0), (0.07, 0.5), (0.1024, 1.0)],',
        '                          [(0.15, 1.0), (0.15, 3.0), (0.15, 1 / 3), (0.224, 1.0)],',
        '                          [(0.33, 1.0), (0.33, 2.0), (0.33, 3.0), (0.33, 1 / 3), (0.4102, 1.0)],',
        '                          [(0.51, 3.0), (0.51, 1 / 3), (0.5932, 1.0)],',
        '                          [(0.69, 2.0), (0.69, 0.5)],',
        '                          [(0.9557, 1.0)]])))',
        '',
      ].join('\n'),
    );
    expect(resolveConfig({ config: paper, baseline: ssdBase }).kept.map((k) => k.length)).toEqual([4, 4, 5, 3, 2, 1]);
    expect(configFiles(paper)).toEqual([paper]);
  });
});
