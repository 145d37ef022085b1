// Acceptance on the real Ultra-Light RFB-320 face detector and the 24 face photos of ../shared (fidelity mode): the
// front runs from the full model (fidelity 1.0, 4,420 boxes) to configurations with at least 30 % fewer boxes, and
// every front point's fidelity is what the reference post-processing gives with those anchors suppressed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareGroundTruth } from '../../src/eval/coco-eval';
import type { CocoDetection } from '../../src/eval/coco-data';
import type { ResizeGeometry } from '../../src/image/preprocess';
import type { PostprocessInput } from '../../src/postprocess/reference';
import {
  formatSearch,
  MIN_LEVEL_DETECTIONS,
  prepareSearch,
  search,
  type SearchResult,
} from '../../src/jobs/search/index';
import { forEachHeadOutput } from '../../src/search/infer';
import { toImageXywh } from '../../src/image/inputs';
import { fidelityMetric, scoreDetections } from '../../src/eval/metric';
import { oracleDetections } from '../../src/search/oracle';
import { FACES, hasShared, ultraface } from '../_support/shared';

const MODEL = ultraface('version-RFB-320.onnx');

describe.skipIf(!hasShared)('search on ultraface RFB-320 with the face photos (fidelity)', () => {
  const out = mkdtempSync(join(tmpdir(), 'pd-search-ultraface-'));
  let r: SearchResult;
  beforeAll(async () => {
    r = await search({
      model: MODEL,
      images: FACES,
      postprocess: 'ultraface',
      outDir: out,
      maxCandidates: 300,
      workers: 2,
    });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('goes from the full model (fidelity 1.0, 4,420 boxes) to configurations with at least 30 % fewer boxes', () => {
    expect(r.images).toBe(24);
    expect(r.points[0]).toMatchObject({
      removed: [],
      keptPerLevel: [3, 2, 2, 3],
      map: 1,
      boxes: 4420,
      headMacs: 5_360_640,
    });
    const full = r.points[0]!.boxes;
    const best = (fewer: number) =>
      Math.max(-1, ...r.points.filter((p) => p.boxes <= (1 - fewer) * full).map((p) => p.map));
    const rows = [0.3, 0.5, 0.7].map(
      (f) => `>= ${f * 100}% fewer boxes: best fidelity ${best(f) < 0 ? 'none on the front' : best(f).toFixed(4)}`,
    );
    console.log(
      `[search] RFB-320, 24 faces, ${r.stats.candidates} candidates, front of ${r.points.length}:\n  ${rows.join('\n  ')}\n  ${r.points.map((p) => `{${p.removed.join(',')}} ${p.map.toFixed(4)} ${p.boxes} boxes ${p.headMacs} MACs`).join('\n  ')}`,
    );
    expect(best(0.3)).toBeGreaterThan(0);
    for (const p of r.points) {
      expect(p.map).toBeGreaterThanOrEqual(0);
      expect(p.map).toBeLessThanOrEqual(1);
    }
    // the front trades fidelity for MACs: fewer MACs, lower (or equal) fidelity along it
    for (let i = 2; i < r.points.length; i++) expect(r.points[i]!.map).toBeLessThan(r.points[i - 1]!.map);
  });

  it('flags the candidates that remove anchors of a level without reference detections (pareto.json, report.html, CLI)', () => {
    const ref = r.evidence.referenceDetections;
    expect(r.evidence.minDetections).toBe(MIN_LEVEL_DETECTIONS);
    expect(ref).toHaveLength(4);
    expect(ref.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const weak = ref
      .map((n, l) => ({ n, l }))
      .filter((x) => x.n < MIN_LEVEL_DETECTIONS)
      .map((x) => x.l);
    // the shared photos have no face at the largest anchors' scale: level 4 is weak
    expect(ref[3]).toBe(0);
    const counts = [3, 2, 2, 3];
    const starts = [0, 3, 5, 7];
    for (const p of r.points) {
      const touched = counts
        .map((_, l) => l)
        .filter((l) => p.removed.some((g) => g >= starts[l]! && g < starts[l]! + counts[l]!));
      expect(p.lowEvidence).toEqual(touched.filter((l) => weak.includes(l)));
    }
    // the level-removal candidates of the issue: a whole level removed that had no reference detection
    const emptied = r.points.filter((p) => p.keptPerLevel[3] === 0);
    expect(emptied.length).toBeGreaterThan(0);
    for (const p of emptied) expect(p.lowEvidence).toContain(3);
    const file = JSON.parse(readFileSync(join(out, 'pareto.json'), 'utf8'));
    expect(file.evidence).toEqual(r.evidence);
    expect(file.points.map((p: { lowEvidence: number[] }) => p.lowEvidence)).toEqual(
      r.points.map((p) => p.lowEvidence),
    );
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('level 3: 0.');
    expect(html.match(/<tr data-index="\d+" class="low-evidence">/g)).toHaveLength(
      r.points.filter((p) => p.lowEvidence.length).length,
    );
    expect(formatSearch(r)).toMatch(
      /warning: level 3 has 0 reference detections \(< 10\): the scores of #\d+(, #\d+)*, which remove its anchors, are not evidence for that level/,
    );
  });

  it("every front point's fidelity is the reference post-processing's with the removed anchors suppressed", async () => {
    const p = await prepareSearch({ model: MODEL, images: FACES, postprocess: 'ultraface', outDir: out });
    expect(p.cache.hits).toBe(24);
    // the model run again on every photo (no cache): the reference post-processing with the removed anchors
    // suppressed, scored by COCOeval against the full model's own detections
    const inputs: PostprocessInput[] = [];
    const geometry: ResizeGeometry[] = [];
    await forEachHeadOutput(
      { modelPath: MODEL, model: p.det.model, det: p.det.spec, images: p.images, preprocess: p.preprocess },
      (img) => {
        inputs[img.index] = img.input;
        geometry[img.index] = img.geometry;
      },
    );
    const ctx = { anchors: p.pp.anchors, levels: p.pp.levels, numClasses: p.pp.numClasses };
    const cocoOf = (removed: number[]): CocoDetection[] =>
      p.images.flatMap((_, i) =>
        oracleDetections(p.pp.spec, inputs[i]!, ctx, removed).map((d) => ({
          image_id: p.imageIds[i]!,
          category_id: d.label + 1,
          bbox: toImageXywh(d.box, p.units, geometry[i]!),
          score: d.score,
        })),
      );
    const metric = fidelityMetric(cocoOf([]), p.imageIds, p.foreground);
    expect(metric.divisor).toBe(1); // ordinary case: COCOeval gives identical detections exactly 1
    expect(p.metric.divisor).toBe(1);
    const gt = prepareGroundTruth(metric.gt);
    for (const point of r.points) expect(scoreDetections(metric, cocoOf(point.removed), gt)).toBe(point.map);
  });
});
