// Fidelity (a candidate's detections scored against the full model's own) and COCO-mode id matching.
import { describe, expect, it } from 'vitest';
import { detectionsAsGroundTruth, type CocoDetection, type CocoGroundTruth } from '../../src/eval/coco-data';
import { prepareGroundTruth } from '../../src/eval/coco-eval';
import { cocoMetric, fidelityMetric, matchAnnotations } from '../../src/eval/metric';
import { mulberry32 } from '../_support/prng';

function dets(seed: number, images: number, perImage: number, categories = 1): CocoDetection[] {
  const r = mulberry32(seed);
  const out: CocoDetection[] = [];
  for (let i = 1; i <= images; i++) {
    for (let q = 0; q < perImage; q++)
      out.push({
        image_id: i,
        category_id: 1 + (q % categories),
        bbox: [r() * 500, r() * 400, 10 + r() * 90, 10 + r() * 90],
        score: 0.5 + r() / 2,
      });
  }
  // rank order: score descending within an image, as the oracle emits them
  return out.sort((a, b) => a.image_id - b.image_id || b.score - a.score);
}

const fidelity = (m: ReturnType<typeof fidelityMetric>, cand: CocoDetection[]) =>
  Math.min(1, prepareGroundTruth(m.gt).evaluate(cand).map / m.divisor);

describe('fidelity', () => {
  it('COCOeval alone gives identical detections less than 1 in corner cases; fidelity gives exactly 1', () => {
    // one detection in all: precision 1 / (1 + eps) < 1 at every recall threshold, and the average keeps the defect
    const single: CocoDetection[] = [{ image_id: 2, category_id: 1, bbox: [5, 5, 20, 20], score: 0.9 }];
    // a degenerate box (zero width) has IoU 0 with itself
    const flat = [...dets(1, 2, 3), { image_id: 1, category_id: 1, bbox: [5, 5, 0, 20], score: 0.99 }].sort(
      (a, b) => a.image_id - b.image_id || b.score - a.score,
    );
    for (const full of [single, flat]) {
      const raw = prepareGroundTruth(detectionsAsGroundTruth(full, { imageIds: [1, 2], categoryIds: [1] })).evaluate(
        full,
      ).map;
      expect(raw).toBeLessThan(1);
      const m = fidelityMetric(full, [1, 2], 1);
      expect(fidelity(m, full)).toBe(1);
    }
    // in the ordinary case the eps vanishes in the average and the divisor is exactly 1
    expect(fidelityMetric(dets(5, 3, 4, 2), [1, 2, 3], 2).divisor).toBe(1);
  });

  it('is exactly 1 for the full model with more than 100 detections per image (COCOeval looks at 100)', () => {
    const full = dets(2, 2, 150);
    const raw = prepareGroundTruth(detectionsAsGroundTruth(full, { imageIds: [1, 2], categoryIds: [1] })).evaluate(
      full,
    ).map;
    expect(raw).toBeLessThan(1); // all 150 as ground truth: recall tops out at 100/150
    const m = fidelityMetric(full, [1, 2], 1);
    expect(m.gt.annotations.length).toBe(200);
    expect(m.divisor).toBe(1);
    expect(fidelity(m, full)).toBe(1);
  });

  it('drops below 1 when detections go missing or move, and equals mAP / divisor', () => {
    const full = dets(3, 4, 10, 2);
    const m = fidelityMetric(full, [1, 2, 3, 4], 2);
    const fewer = full.filter((_, i) => i % 3 !== 0);
    const moved = full.map((d, i) =>
      i % 4 === 0 ? { ...d, bbox: [d.bbox[0]! + d.bbox[2]! * 0.3, d.bbox[1]!, d.bbox[2]!, d.bbox[3]!] } : d,
    );
    for (const cand of [fewer, moved]) {
      const f = fidelity(m, cand);
      expect(f).toBeLessThan(1);
      expect(f).toBeGreaterThan(0.3);
      expect(f).toBe(prepareGroundTruth(m.gt).evaluate(cand).map / m.divisor);
    }
    expect(fidelity(m, [])).toBe(0);
  });

  it('refuses a full model that detects nothing', () => {
    expect(() => fidelityMetric([], [1, 2], 1)).toThrow(/detects nothing on these 2 images/);
  });
});

describe('COCO mode', () => {
  const gt: CocoGroundTruth = {
    images: [
      { id: 7, file_name: 'train/a.jpg' },
      { id: 8, file_name: 'b.png' },
      { id: 397133 },
      { id: 9, file_name: 'unused.jpg' },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 3, bbox: [1, 1, 5, 5], area: 25 },
      { id: 2, image_id: 9, category_id: 3, bbox: [1, 1, 5, 5], area: 25 },
    ],
    categories: [{ id: 3 }, { id: 1 }],
  };

  it('matches photos by file name (folders ignored) or by numeric name, and keeps only their annotations', () => {
    const m = matchAnnotations(gt, ['/x/a.jpg', '/x/b.png', '/x/000000397133.jpg'], 'ann.json');
    expect(m.imageIds).toEqual([7, 8, 397133]);
    expect(m.gt.images.map((i) => i.id)).toEqual([7, 8, 397133]);
    expect(m.gt.annotations.map((a) => a.id)).toEqual([1]);
  });

  it('names the first photo the annotations do not list', () => {
    expect(() => matchAnnotations(gt, ['/x/a.jpg', '/x/zzz.jpg'], 'ann.json')).toThrow(
      /image zzz\.jpg is not in the annotations ann\.json/,
    );
  });

  it('maps labels to categories in id order and checks their number', () => {
    const m = matchAnnotations(gt, ['/x/a.jpg'], 'ann.json');
    expect(cocoMetric(m.gt, m.imageIds, 2, 'ann.json').categoryIds).toEqual([1, 3]);
    expect(() => cocoMetric(m.gt, m.imageIds, 80, 'ann.json')).toThrow(
      /have 2 categories but the model has 80 foreground classes/,
    );
  });
});
