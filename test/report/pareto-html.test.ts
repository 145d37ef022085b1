import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hasChromium, launchChromium, watchPage, type Browser } from '../_support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderParetoReport, type ParetoLevel, type ParetoReport } from '../../src/report/pareto-html';

// SSD300 baseline (design.md): base size 300, per level (scale, ratio) pairs; w = 300 s / sqrt(r), h = 300 s sqrt(r).
const SSD_LEVELS: [number, number, [number, number][]][] = [
  [
    38,
    8,
    [
      [0.07, 1],
      [0.07, 2],
      [0.07, 0.5],
      [0.1024, 1],
    ],
  ],
  [
    19,
    16,
    [
      [0.15, 1],
      [0.15, 2],
      [0.15, 3],
      [0.15, 0.5],
      [0.15, 1 / 3],
      [0.224, 1],
    ],
  ],
  [
    10,
    32,
    [
      [0.33, 1],
      [0.33, 2],
      [0.33, 3],
      [0.33, 0.5],
      [0.33, 1 / 3],
      [0.4102, 1],
    ],
  ],
  [
    5,
    64,
    [
      [0.51, 1],
      [0.51, 2],
      [0.51, 3],
      [0.51, 0.5],
      [0.51, 1 / 3],
      [0.5932, 1],
    ],
  ],
  [
    3,
    100,
    [
      [0.69, 1],
      [0.69, 2],
      [0.69, 0.5],
      [0.7747, 1],
    ],
  ],
  [
    1,
    300,
    [
      [0.87, 1],
      [0.87, 2],
      [0.87, 0.5],
      [0.9557, 1],
    ],
  ],
];
const levels: ParetoLevel[] = SSD_LEVELS.map(([map, stride, pairs]) => ({
  featureMap: [map, map],
  stride: [stride, stride],
  anchors: pairs.map(([s, r]) => ({ w: (300 * s) / Math.sqrt(r), h: 300 * s * Math.sqrt(r) })),
}));

/** Boxes and kept-per-level of a removed set, from the level table. */
function point(removed: number[], map: number, headMacs: number, config: string) {
  const set = new Set(removed);
  let g = 0;
  const keptPerLevel = SSD_LEVELS.map(([, , pairs]) => pairs.filter(() => !set.has(g++)).length);
  const boxes = SSD_LEVELS.reduce((sum, [m], l) => sum + m * m * keptPerLevel[l]!, 0);
  return { removed, keptPerLevel, map, headMacs, boxes, config };
}

const CONFIG_A = [5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28];
const report: ParetoReport = {
  model: 'ssd300_coco.onnx',
  metric: 'coco-map',
  points: [
    point([], 0.2515, 4_231_319_040, 'configs/full.json'),
    point([5, 7], 0.2512, 3_800_000_000, 'configs/cand 12.json'),
    point(CONFIG_A, 0.2497, 2_700_000_000, 'configs/A.json'),
    point([0, 1, 2, 3, 5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28], 0.2401, 1_900_000_000, 'configs/D.json'),
  ],
  stats: { candidates: 640, seconds: 12.5 },
  levels,
  all: Array.from({ length: 300 }, (_, i) => ({
    map: 0.2 + ((i * 37) % 50) / 1000,
    headMacs: 1.8e9 + ((i * 7919) % 2400) * 1e6,
  })),
};

describe('renderParetoReport (static HTML)', () => {
  const html = renderParetoReport(report);

  it('has one .front-point per front entry and one table row each', () => {
    expect(html.match(/<circle class="front-point[^"]*" data-index="\d+"/g)).toHaveLength(report.points.length);
    expect(html.match(/<tr data-index="\d+">/g)).toHaveLength(report.points.length);
    expect(html).toContain(`{${CONFIG_A.join(', ')}}`); // the paper's notation
    expect(html).toContain('4 \u00b7 4 \u00b7 5 \u00b7 3 \u00b7 2 \u00b7 1'); // configuration A kept per level
    expect(html).toContain('href="configs/cand%2012.json"');
  });

  it('shows the reference detections per level and marks the configurations whose score is not evidence', () => {
    const flagged = {
      ...report,
      points: report.points.map((p, i) => ({ ...p, lowEvidence: i === 3 ? [0] : [] })),
      evidence: { referenceDetections: [4, 120, 80, 30, 12, 9], minDetections: 10 },
    };
    const out = renderParetoReport(flagged);
    expect(out).toContain('level 0: 4, level 1: 120, level 2: 80, level 3: 30, level 4: 12, level 5: 9.');
    expect(out).toMatch(/level 0, level 5 have fewer than 10: 1 configuration marked \u26a0/);
    expect(out.match(/<tr data-index="\d+" class="low-evidence">/g)).toHaveLength(1);
    expect(out).toContain('<tr data-index="3" class="low-evidence">');
    expect(out).toContain('\u26a0 weak evidence on level 0');
    expect(html).not.toContain('low-evidence">');
  });

  it('references nothing over the network', () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<link[^>]+rel="stylesheet"/);
    expect(html).not.toMatch(/\bsrc=/);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
  });

  it('escapes a malicious model name and config path', () => {
    const evil = renderParetoReport({
      ...report,
      model: '</title><script>alert("x")</script><img src=x onerror=alert(1)>',
      points: [
        { ...report.points[0]!, config: 'javascript:alert(1)' },
        { ...report.points[1]!, config: '"><script>alert(2)</script>' },
      ],
    });
    expect(evil).not.toContain('<script>alert');
    expect(evil).not.toContain('<img src=x');
    expect(evil).not.toContain('href="javascript:');
    expect(evil).toContain('&lt;/title&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(evil.match(/<script\b/g)).toHaveLength(2); // the data block and the report's own script
    expect(evil).not.toMatch(/https?:\/\//i);
  });

  it('survives an empty front and a single point', () => {
    expect(renderParetoReport({ ...report, points: [], all: [] })).toContain('0 Pareto-optimal configurations');
    const one = renderParetoReport({ ...report, points: [report.points[0]!], all: undefined });
    expect(one.match(/class="front-point/g)).toHaveLength(1);
  });
});

// --- In a real browser --------------------------------------------------------------------------------------------

describe.skipIf(!hasChromium)('renderParetoReport in headless Chromium', () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'prunedet-report-'));
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders without errors, draws the front and updates the anchors on click and select', async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderParetoReport({ ...report, model: '<b>ssd</b> & "friends"' }));
    const page = await browser.newPage();
    const { problems, requests } = watchPage(page);
    await page.goto(pathToFileURL(file).href);

    expect(await page.locator('.front-point').count()).toBe(report.points.length);
    expect(await page.locator('h1 .model').textContent()).toBe('<b>ssd</b> & "friends"');
    // Initial selection: the full model, every base anchor kept, one panel per level.
    expect(await page.locator('#anchors figure.level').count()).toBe(levels.length);
    expect(await page.locator('#anchors rect.anchor.removed').count()).toBe(0);
    expect(await page.locator('#anchors rect.anchor.kept').count()).toBe(30);

    // Click configuration A on the plot.
    await page.locator('.front-point[data-index="2"]').click();
    expect(await page.locator('#anchors rect.anchor.removed').count()).toBe(CONFIG_A.length);
    const removedIds = await page
      .locator('#anchors rect.anchor.removed')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-anchor'))).sort((a, b) => a - b));
    expect(removedIds).toEqual(CONFIG_A);
    expect(await page.locator('#anchors figcaption').allTextContents()).toEqual([
      'level 0 · 38x38 map · stride 8x8 · kept 4/4',
      'level 1 · 19x19 map · stride 16x16 · kept 4/6',
      'level 2 · 10x10 map · stride 32x32 · kept 5/6',
      'level 3 · 5x5 map · stride 64x64 · kept 3/6',
      'level 4 · 3x3 map · stride 100x100 · kept 2/4',
      'level 5 · 1x1 map · stride 300x300 · kept 1/4',
    ]);
    expect(await page.locator('#front-table tr.selected').getAttribute('data-index')).toBe('2');
    expect(await page.locator('.front-point.selected').getAttribute('data-index')).toBe('2');
    expect(await page.locator('#point-select').inputValue()).toBe('2');

    // Choose in the select: configuration D empties level 1.
    await page.locator('#point-select').selectOption('3');
    expect(await page.locator('#anchors rect.anchor.removed').count()).toBe(report.points[3]!.removed.length);
    expect(await page.locator('#anchors figure.level.empty').count()).toBe(1);
    expect(await page.locator('#front-table tr.selected').getAttribute('data-index')).toBe('3');

    // Clicking a table row selects too.
    await page.locator('#front-table tr[data-index="1"] td.num').first().click();
    expect(await page.locator('.front-point.selected').getAttribute('data-index')).toBe('1');
    expect(await page.locator('#anchors rect.anchor.removed').count()).toBe(2);

    expect(problems).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    await page.close();
  });
});
