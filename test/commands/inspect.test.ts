// inspect's detector view: the embedded anchor table cross-checked against the generator that should produce it.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatInspect, inspectModel } from '../../src/jobs/inspect';
import { renderParetoReport } from '../../src/report/pareto-html';
import { saveTemp } from '../_support/compile';
import { hasShared, ultraface } from '../_support/shared';

describe('inspect: anchor table cross-check', () => {
  it("an SSD300 export against the paper's baseline config: within float rounding; against the wrong one: an error", () => {
    const path = saveTemp(buildFixture('ssd300', { outputs: 'decoded' }));
    const r = inspectModel(path, { baselineConfig: 'configs/ssd300/baseline.py' });
    const check = (r.anchorTable as { check: { maxDifference: number } }).check;
    expect(check.maxDifference).toBeLessThan(1e-4);
    expect(() => inspectModel(path, { baselineConfig: 'configs/retinanet/baseline.py' })).toThrow(
      /do not fit the model/,
    );
  });

  it.skipIf(!hasShared)('ultraface: the embedded priors are the Ultra-Light min-size priors', () => {
    const r = inspectModel(ultraface('version-RFB-320.onnx'), { postprocess: 'ultraface' });
    const check = (r.anchorTable as { check: { generator: string; maxDifference: number } }).check;
    expect(check.generator).toBe('Ultra-Light min-size priors');
    expect(check.maxDifference).toBeLessThan(1e-6);
  });
});

describe('inspect: one row per base anchor, in the numbering --remove takes', () => {
  it("SSD300: 30 rows, level-major, sizes from the graph's table or from --baseline-config, ratio = h / w", () => {
    const decoded = inspectModel(saveTemp(buildFixture('ssd300', { outputs: 'decoded' })));
    const concat = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));
    const raw = inspectModel(concat, { baselineConfig: 'configs/ssd300/baseline.py' });
    const bare = inspectModel(concat);
    for (const r of [decoded, raw]) {
      const rows = r.anchors!;
      expect(rows).toHaveLength(30);
      expect(rows.map((a) => a.index)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(rows.slice(3, 6).map((a) => [a.level, a.anchor])).toEqual([
        [0, 3],
        [1, 0],
        [1, 1],
      ]);
      // level 0, anchor 1 = (0.07, 2): w = 21 / sqrt(2), h = 21 sqrt(2) (design.md)
      expect(rows[1]!.w).toBeCloseTo(14.85, 1);
      expect(rows[1]!.h).toBeCloseTo(29.7, 1);
      expect(rows[1]!.ratio).toBeCloseTo(2, 2);
      // the paper's configuration A removes 5, 7, 13: level 1 anchors 1 and 3, level 2 anchor 3 ((0.33, 0.5))
      expect([5, 7, 13].map((i) => `${rows[i]!.level}:${rows[i]!.anchor}:${rows[i]!.ratio}`)).toEqual([
        '1:1:2',
        '1:3:0.5',
        '2:3:0.5',
      ]);
    }
    expect(decoded.anchorSizes).toMatch(/the graph's anchor table/);
    expect(raw.anchorSizes).toBe('configs/ssd300/baseline.py');
    expect(bare.anchors!.every((a) => a.w === null && a.level >= 0)).toBe(true);
    expect(bare.anchorSizes).toBeNull();
  });
});

describe('level numbering and stride notation are the same everywhere', () => {
  it('inspect, report.json, the C header, the search report and errors: level 0 first, strides HxW (non-square: 7.69x8)', async () => {
    const path = saveTemp(buildFixture('retinanet', { outputs: 'raw', inputSize: [100, 192] }));
    const r = inspectModel(path);
    const text = formatInspect(r);
    expect((r.levels as { level: number; stride: number[] }[])[0]).toMatchObject({ level: 0, featureMap: [13, 24] });
    expect(text).toMatch(/^level 0 +13x24 +7\.69x8 /m);
    const { compileTemp } = await import('../_support/compile');
    const { report, outDir } = await compileTemp(path, { remove: '0', emit: ['c'], postprocess: 'mmdet-retinanet' });
    expect(report.levels[0]).toMatchObject({
      level: 0,
      featureMap: [13, 24],
      anchors: 9,
      kept: [1, 2, 3, 4, 5, 6, 7, 8],
    });
    expect(report.levels[0]!.stride[0]).toBeCloseTo(100 / 13, 6);
    expect(report.levels[0]!.stride[1]).toBe(8);
    // the C header prints the strides the anchor generator placed the anchors with (mmdet: 8 on level 0, whatever
    // the input size), in the same HxW notation
    expect(readFileSync(join(outDir, 'postprocess.h'), 'utf8')).toMatch(/^ \* {3}0 +8x8 +13x24 +8 /m);
    const html = renderParetoReport({
      model: 'm',
      metric: 'fidelity-map',
      points: [{ removed: [], keptPerLevel: [9], map: 1, headMacs: 1, boxes: 1, config: 'c' }],
      stats: { candidates: 1, seconds: 0 },
      levels: [{ featureMap: [13, 24], stride: [100 / 13, 8], anchors: [{ w: 32, h: 32 }] }],
    });
    expect(html).toContain('"caption":"level 0 · 13x24 map · stride 7.69x8"');
    await expect(compileTemp(path, { remove: '45' })).rejects.toThrow(
      /0-44 \(level 0 0-8, level 1 9-17, level 2 18-26, level 3 27-35, level 4 36-44\)/,
    );
  });
});
