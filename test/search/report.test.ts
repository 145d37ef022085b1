// The report a search writes, opened in headless Chromium: no console errors, no network, one plotted point per front
// entry, and the anchors panel follows the chosen point.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hasChromium, launchChromium, watchPage, type Browser } from '../_support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { search, type SearchResult } from '../../src/jobs/search/index';
import { FACES, hasShared, ultraface } from '../_support/shared';
import { SYNTH_POSTPROCESS, makeProject } from './project';

describe.skipIf(!hasChromium)('search report in headless Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'pd-search-report-'));
  let browser: Browser;
  const results: SearchResult[] = [];
  beforeAll(async () => {
    const p = makeProject(root, 3);
    results.push(
      await search({
        model: p.model,
        images: p.images,
        postprocess: SYNTH_POSTPROCESS,
        outDir: join(root, 'synth'),
        maxCandidates: 40,
        workers: 1,
      }),
    );
    if (hasShared)
      results.push(
        await search({
          model: ultraface('version-RFB-320.onnx'),
          images: FACES,
          postprocess: 'ultraface',
          outDir: join(root, 'faces'),
          maxCandidates: 300,
          workers: 2,
        }),
      );
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('opens with no console errors and one .front-point per front entry', async () => {
    for (const r of results) {
      const page = await browser.newPage();
      const { problems, requests } = watchPage(page);
      await page.goto(pathToFileURL(r.report).href);
      const file = JSON.parse(readFileSync(r.pareto, 'utf8')) as { points: unknown[] };
      expect(file.points.length).toBe(r.points.length);
      expect(await page.locator('.front-point').count()).toBe(r.points.length);
      expect(await page.locator('#front-table tbody tr').count()).toBe(r.points.length);
      // the last point is drawn with its removed anchors marked
      const last = r.points.length - 1;
      await page.locator(`.front-point[data-index="${last}"]`).click();
      expect(await page.locator('rect.anchor.removed').count()).toBe(r.points[last]!.removed.length);
      expect(await page.locator('figure.level').count()).toBe(r.points[0]!.keptPerLevel.length);
      expect(problems).toEqual([]);
      expect(requests.every((u) => u.startsWith('file:'))).toBe(true);
      await page.close();
    }
    expect(results.length).toBeGreaterThanOrEqual(1);
  });
});
