import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AREA_RANGES,
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  detectionsAsGroundTruth,
  evaluateCoco,
  loadCocoAnnotations,
  prepareGroundTruth,
  type CocoAnnotation,
  type CocoDetection,
  type CocoGroundTruth,
} from '../../src/eval/coco-eval';
import { PrunedetError } from '../../src/errors';
import { mulberry32 } from '../_support/prng';

const here = dirname(fileURLToPath(import.meta.url));

type Box = [number, number, number, number];

/** Ground truth from compact rows: [imageId, categoryId, bbox, iscrowd?]. Area = w*h, ids 1..N. */
function makeGt(images: number[], categories: number[], rows: [number, number, Box, number?][]): CocoGroundTruth {
  return {
    images: images.map((id) => ({ id })),
    categories: categories.map((id) => ({ id })),
    annotations: rows.map(([image_id, category_id, bbox, iscrowd], n): CocoAnnotation => ({
      id: n + 1,
      image_id,
      category_id,
      bbox,
      area: bbox[2] * bbox[3],
      iscrowd: iscrowd ?? 0,
    })),
  };
}

const det = (image_id: number, category_id: number, bbox: Box, score: number): CocoDetection => ({
  image_id,
  category_id,
  bbox,
  score,
});

const L1: Box = [0, 0, 100, 100]; // large (10000)
const L2: Box = [200, 0, 100, 100];
const L3: Box = [400, 0, 100, 100];
const FAR: Box = [800, 800, 100, 100]; // overlaps nothing

describe('COCOeval parameters', () => {
  it('match numpy linspace bit for bit', () => {
    expect(Array.from(IOU_THRESHOLDS)).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
    expect(RECALL_THRESHOLDS.length).toBe(101);
    expect(RECALL_THRESHOLDS[3]).toBe(0.03);
    expect(RECALL_THRESHOLDS[100]).toBe(1);
    expect(AREA_RANGES).toEqual([
      [0, 1e10],
      [0, 1024],
      [1024, 9216],
      [9216, 1e10],
    ]);
  });
});

describe('evaluateCoco (hand-computed)', () => {
  it('perfect detections give 1 (up to pycocotools eps: tp / (tp + fp + 2^-52))', () => {
    const gt = makeGt(
      [1, 2],
      [1],
      [
        [1, 1, L1],
        [1, 1, L2],
        [2, 1, L3],
      ],
    );
    const r = evaluateCoco(gt, [det(1, 1, L1, 0.9), det(1, 1, L2, 0.8), det(2, 1, L3, 0.7)]);
    // precision at the first TP is 1 / (1 + eps) = 1 - 2^-53 (1 + eps is exact), the rest exactly 1.
    expect(r.map).toBeCloseTo(1, 14);
    expect(r.ap50).toBeCloseTo(1, 14);
    expect(r.ar100).toBe(1);
    // maxDets=1 keeps the best det per image: image 1 finds 1 of 2, image 2 its 1 -> recall 2/3.
    expect(r.ar1).toBeCloseTo(2 / 3, 15);
    expect(r.apSmall).toBe(-1); // no small gt anywhere
    expect(r.apLarge).toBeCloseTo(1, 14);
  });

  it('one FP ranked above a TP', () => {
    const gt = makeGt(
      [1],
      [1],
      [
        [1, 1, L1],
        [1, 1, L2],
      ],
    );
    // Order TP, FP, TP: tp = [1,1,2], fp = [0,1,1], rc = [.5,.5,1], pr = [1, .5, 2/3] -> envelope [1, 2/3, 2/3].
    // Recall thresholds 0..0.50 (51 of them) sample pr[0] = 1, 0.51..1 (50) sample pr[2] = 2/3.
    // AP = (51 + 50 * 2/3) / 101 = 253/303 at every IoU threshold.
    const r = evaluateCoco(gt, [det(1, 1, L1, 0.9), det(1, 1, FAR, 0.8), det(1, 1, L2, 0.7)]);
    expect(r.map).toBeCloseTo(253 / 303, 14);
    expect(r.ap75).toBeCloseTo(253 / 303, 14);
    expect(r.ar1).toBe(0.5);
    expect(r.ar10).toBe(1);
    // FP first: tp = [0,1,2], fp = [1,1,1], pr = [0, 1/2, 2/3] -> envelope 2/3 everywhere -> AP = 2/3.
    const r2 = evaluateCoco(gt, [det(1, 1, FAR, 0.95), det(1, 1, L1, 0.9), det(1, 1, L2, 0.7)]);
    expect(r2.map).toBeCloseTo(2 / 3, 14);
    expect(r2.ar1).toBe(0); // the single best det is the FP
  });

  it('IoU uses w*h without +1 and matches at IoU >= threshold', () => {
    const gt = makeGt([1], [1], [[1, 1, [0, 0, 100, 100]]]);
    // Det [0,0,100,75]: intersection 7500, union 10000 -> IoU exactly 0.75 = IOU_THRESHOLDS[5].
    // TP for t = .50 .. .75 (6 thresholds), FP above -> AP = 6/10 (each TP threshold has AP 1 - tiny eps).
    const r = evaluateCoco(gt, [det(1, 1, [0, 0, 100, 75], 0.9)]);
    expect(r.map).toBeCloseTo(0.6, 14);
    expect(r.ap75).toBeCloseTo(1, 14);
    expect(r.ar100).toBeCloseTo(0.6, 14);
  });

  it('crowd gt: IoU = intersection / det area, matches are ignored, and a crowd absorbs many dets', () => {
    const C: Box = [0, 0, 100, 100];
    const A: Box = [200, 200, 100, 100];
    const gt = makeGt(
      [1],
      [1],
      [
        [1, 1, C, 1],
        [1, 1, A],
      ],
    );
    // Two small dets inside the crowd (crowd IoU 1): both ignored; the TP on A then gives AP 1.
    const r = evaluateCoco(gt, [
      det(1, 1, [10, 10, 20, 20], 0.99),
      det(1, 1, [50, 50, 10, 10], 0.98),
      det(1, 1, A, 0.8),
    ]);
    expect(r.map).toBeCloseTo(1, 14);
    // Det [90,0,20,10]: intersection 10x10 = 100 over its own area 200 -> crowd IoU 0.5: ignored at t=.5 only,
    // an FP ranked first at the 9 other thresholds (AP there = envelope 1/2). map = (1 + 9 * 0.5) / 10 = 0.55.
    const r2 = evaluateCoco(gt, [det(1, 1, [90, 0, 20, 10], 0.95), det(1, 1, A, 0.8)]);
    expect(r2.ap50).toBeCloseTo(1, 14);
    expect(r2.ap75).toBe(0.5);
    expect(r2.map).toBeCloseTo(0.55, 14);
    // Without the crowd flag the same det is an ordinary FP everywhere (IoU 100 / 10100).
    const gtNoCrowd = makeGt(
      [1],
      [1],
      [
        [1, 1, C],
        [1, 1, A],
      ],
    );
    const r3 = evaluateCoco(gtNoCrowd, [det(1, 1, [90, 0, 20, 10], 0.95), det(1, 1, A, 0.8)]);
    // tp = [0,1], fp = [1,1], npig = 2: rc = [0, .5], pr = [0, .5] -> thresholds <= .5 sample .5, above 0: 51 * .5 / 101.
    expect(r3.map).toBeCloseTo(25.5 / 101, 14);
  });

  it('area ranges: gts outside the range are ignored, unmatched dets outside it too', () => {
    const S: Box = [0, 0, 20, 20]; // 400: small
    const Md: Box = [100, 0, 50, 50]; // 2500: medium
    const gt = makeGt(
      [1],
      [1],
      [
        [1, 1, S],
        [1, 1, Md],
        [1, 1, L3],
      ],
    );
    const dets = [det(1, 1, [600, 600, 10, 10], 0.95), det(1, 1, S, 0.9), det(1, 1, Md, 0.8), det(1, 1, L3, 0.7)];
    const r = evaluateCoco(gt, dets);
    // all: FP, TP, TP, TP with npig 3: pr = [0, 1/2, 2/3, 3/4] -> envelope 3/4 -> AP 0.75.
    expect(r.map).toBeCloseTo(0.75, 14);
    // small: npig 1; the small FP counts, the TP on S counts, matches to medium/large gts are ignored:
    // tp = [0,1,1,1], fp = [1,1,1,1] -> envelope 1/2 -> AP 0.5.
    expect(r.apSmall).toBe(0.5);
    // medium: the FP (area 100) is outside the range and unmatched -> ignored; so is the det on S -> AP 1.
    expect(r.apMedium).toBeCloseTo(1, 14);
    expect(r.apLarge).toBeCloseTo(1, 14);
    expect(r.arSmall).toBe(1);
    // Both ends inclusive: a 32x32 gt (area 1024) is small and medium.
    const edge = evaluateCoco(makeGt([1], [1], [[1, 1, [0, 0, 32, 32]]]), [det(1, 1, [0, 0, 32, 32], 0.5)]);
    expect(edge.apSmall).toBeCloseTo(1, 14);
    expect(edge.apMedium).toBeCloseTo(1, 14);
    expect(edge.apLarge).toBe(-1);
  });

  it('the area bins use the annotation area field, not the box', () => {
    const gt = makeGt([1], [1], [[1, 1, L1]]);
    gt.annotations[0]!.area = 500; // e.g. a segmentation area smaller than the box
    const r = evaluateCoco(gt, [det(1, 1, L1, 0.9)]);
    expect(r.apSmall).toBeCloseTo(1, 14);
    expect(r.apLarge).toBe(-1);
  });

  it('maxDets: 100 dets per image and category, 1/10 for AR1/AR10', () => {
    const gt = makeGt([1], [1], [[1, 1, L1]]);
    const fps = (n: number) =>
      Array.from({ length: n }, (_, q) => det(1, 1, [1000 + 10 * q, 1000, 5, 5], 0.9 - q * 1e-3));
    // TP ranked 101st: cut off -> AP 0, AR 0.
    const cut = evaluateCoco(gt, [...fps(100), det(1, 1, L1, 0.01)]);
    expect(cut.map).toBe(0);
    expect(cut.ar100).toBe(0);
    // TP ranked 100th: pr at it = 1 / (100 + eps) = 0.01, envelope 0.01 everywhere -> AP 0.01; AR10 0, AR100 1.
    const last = evaluateCoco(gt, [...fps(99), det(1, 1, L1, 0.01)]);
    expect(last.map).toBeCloseTo(0.01, 14);
    expect(last.ar10).toBe(0);
    expect(last.ar100).toBe(1);
    // The cap is per image *and category*: 100 FPs of another category do not push the TP out.
    const gt2 = makeGt([1], [1, 2], [[1, 1, L1]]);
    const other = fps(100).map((d) => ({ ...d, category_id: 2 }));
    expect(evaluateCoco(gt2, [...other, det(1, 1, L1, 0.01)]).map).toBeCloseTo(1, 14);
  });

  it('categories without gt are -1 and left out of the mean; unknown categories are skipped', () => {
    const gt = makeGt([1], [1, 2], [[1, 1, L1]]);
    const r = evaluateCoco(gt, [det(1, 1, L1, 0.9), det(1, 2, L2, 0.95), det(1, 7, L3, 0.99)], { perCategory: true });
    expect(r.map).toBeCloseTo(1, 14);
    expect(r.perCategory).toEqual([
      { categoryId: 1, ap: expect.closeTo(1, 14) },
      { categoryId: 2, ap: -1 },
    ]);
  });

  it('empty detections give 0 (and -1 where there is no gt)', () => {
    const gt = makeGt([1], [1], [[1, 1, L1]]);
    const r = evaluateCoco(gt, []);
    expect(r.stats).toEqual([0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1, 0]);
  });

  it('ties in score: stable order, images by numeric id, then input order', () => {
    // Image 9 sorts before image 10 numerically (not as strings). The FP in the earlier image goes first:
    // tp = [0,1], fp = [1,1] -> pr = [0, .5] -> AP .5.
    const gt = makeGt([10, 9], [1], [[10, 1, L1]]);
    expect(evaluateCoco(gt, [det(10, 1, L1, 0.5), det(9, 1, L2, 0.5)]).map).toBe(0.5);
    // TP in the earlier image: pr = [1, .5], rc = [1, 1] -> every threshold samples pr[0] -> AP ~1.
    const gt2 = makeGt([10, 9], [1], [[9, 1, L1]]);
    expect(evaluateCoco(gt2, [det(10, 1, L2, 0.5), det(9, 1, L1, 0.5)]).map).toBeCloseTo(1, 14);
    // Same image: input order decides.
    const gt3 = makeGt([1], [1], [[1, 1, L1]]);
    expect(evaluateCoco(gt3, [det(1, 1, L2, 0.5), det(1, 1, L1, 0.5)]).map).toBe(0.5);
    expect(evaluateCoco(gt3, [det(1, 1, L1, 0.5), det(1, 1, L2, 0.5)]).map).toBeCloseTo(1, 14);
  });

  it('a det takes the highest-IoU free gt; a matched gt is not reused', () => {
    const gt = makeGt(
      [1],
      [1],
      [
        [1, 1, [0, 0, 100, 100]],
        [1, 1, [10, 0, 100, 100]],
      ],
    );
    // d1 = gt2 exactly (IoU .818 with gt1, 1 with gt2) -> gt2; d2 = gt1 exactly -> gt1 still free -> 2 TPs.
    const r = evaluateCoco(gt, [det(1, 1, [10, 0, 100, 100], 0.9), det(1, 1, [0, 0, 100, 100], 0.8)]);
    expect(r.map).toBeCloseTo(1, 14);
    // Two copies of the same det: the second finds its gt taken -> FP at every threshold, ranked last.
    // tp = [1,1], fp = [0,1], npig = 2: rc = [.5,.5] -> thresholds <= .5 sample 1, above: none -> AP 51/101.
    const gt1 = makeGt(
      [1],
      [1],
      [
        [1, 1, L1],
        [1, 1, L2],
      ],
    );
    expect(evaluateCoco(gt1, [det(1, 1, L1, 0.9), det(1, 1, L1, 0.8)]).map).toBeCloseTo(51 / 101, 14);
  });

  it('pycocotools quirk kept: a match to gt id 0 counts as unmatched', () => {
    const gt = makeGt([1], [1], [[1, 1, L1]]);
    gt.annotations[0]!.id = 0;
    expect(evaluateCoco(gt, [det(1, 1, L1, 0.9)]).map).toBe(0);
  });

  it('a prepared ground truth gives the same numbers on every call', () => {
    const gt = makeGt(
      [1, 2],
      [1, 2],
      [
        [1, 1, L1],
        [1, 2, L2],
        [2, 1, L3],
      ],
    );
    const prepared = prepareGroundTruth(gt);
    const a = [det(1, 1, L1, 0.9), det(1, 1, FAR, 0.95), det(2, 1, L3, 0.4), det(1, 2, L2, 0.3)];
    const first = prepared.evaluate(a).stats;
    prepared.evaluate([...a, ...a, ...a]); // grows the scratch buffers
    prepared.evaluate([]);
    expect(prepared.evaluate(a).stats).toEqual(first);
    expect(evaluateCoco(gt, a).stats).toEqual(first);
  });
});

describe('detection errors', () => {
  const gt = makeGt([1], [1], [[1, 1, L1]]);
  it('rejects detections on images missing from the ground truth, naming the image id', () => {
    expect(() => evaluateCoco(gt, [det(42, 1, L1, 0.5)])).toThrow(
      /detection 0 refers to image_id 42, which is not in the ground-truth images/,
    );
  });
  it('rejects non-finite scores and boxes', () => {
    expect(() => evaluateCoco(gt, [det(1, 1, [0, 0, NaN, 1], 0.5)])).toThrow(PrunedetError);
  });
});

describe('fidelity mode', () => {
  it('the reference detections score 1 against themselves; a pruned subset scores lower', () => {
    const ref = [det(1, 1, L1, 0.9), det(1, 1, L2, 0.8), det(2, 1, L3, 0.7), det(2, 3, [10, 10, 20, 20], 0.6)];
    const gt = detectionsAsGroundTruth(ref, { imageIds: [1, 2, 3] });
    expect(gt.images.map((i) => i.id)).toEqual([1, 2, 3]);
    expect(gt.categories.map((c) => c.id)).toEqual([1, 3]);
    expect(gt.annotations[3]).toEqual({
      id: 4,
      image_id: 2,
      category_id: 3,
      bbox: [10, 10, 20, 20],
      area: 400,
      iscrowd: 0,
    });
    const prepared = prepareGroundTruth(gt);
    expect(prepared.evaluate(ref).map).toBeCloseTo(1, 14);
    // Candidate lost the L2 detection and the category-3 one: category 1 AP = recall 2/3 reached at precision 1
    // -> 67 of 101 thresholds (0 .. 0.66) -> 67/101; category 3 AP 0. Mean = 67/202.
    const candidate = [det(1, 1, L1, 0.9), det(2, 1, L3, 0.7), det(3, 1, L1, 0.1)];
    expect(prepared.evaluate(candidate).map).toBeCloseTo(67 / 202, 14);
  });
  it('minScore filters the reference', () => {
    const gt = detectionsAsGroundTruth([det(1, 1, L1, 0.9), det(1, 1, L2, 0.2)], { minScore: 0.5 });
    expect(gt.annotations).toHaveLength(1);
  });
});

describe('loadCocoAnnotations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunedet-coco-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, json: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
    return p;
  };
  const good = makeGt(
    [1, 2],
    [1],
    [
      [1, 1, L1],
      [2, 1, L2, 1],
    ],
  );

  it('loads a valid file', () => {
    const gt = loadCocoAnnotations(write('good.json', good));
    expect(gt.annotations).toHaveLength(2);
  });
  it('names the unknown image id', () => {
    const bad = {
      ...good,
      annotations: [...good.annotations, { id: 9, image_id: 77, category_id: 1, bbox: [0, 0, 1, 1], area: 1 }],
    };
    const p = write('unknown-image.json', bad);
    expect(() => loadCocoAnnotations(p)).toThrow(
      `${p}: annotations[2] (id 9) refers to image_id 77, which is not in "images"`,
    );
    try {
      loadCocoAnnotations(p);
    } catch (e) {
      expect((e as PrunedetError).code).toBe('E_ANNOTATIONS');
      expect((e as PrunedetError).oneLine()).not.toContain('\n');
    }
  });
  it('names missing keys', () => {
    expect(() => loadCocoAnnotations(write('no-cats.json', { images: [], annotations: [] }))).toThrow(
      /has no "categories" array/,
    );
    const noBbox = { ...good, annotations: [{ id: 1, image_id: 1, category_id: 1, area: 5 }] };
    expect(() => loadCocoAnnotations(write('no-bbox.json', noBbox))).toThrow(/annotations\[0\] \(id 1\) has no "bbox"/);
    const noArea = { ...good, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] }] };
    expect(() => loadCocoAnnotations(write('no-area.json', noArea))).toThrow(/annotations\[0\] has no numeric "area"/);
  });
  it('rejects unknown categories, duplicate ids, bad JSON and a missing file', () => {
    const unkCat = { ...good, annotations: [{ id: 1, image_id: 1, category_id: 5, bbox: [0, 0, 1, 1], area: 1 }] };
    expect(() => loadCocoAnnotations(write('unk-cat.json', unkCat))).toThrow(/refers to category_id 5/);
    const dup = { ...good, images: [{ id: 1 }, { id: 1 }] };
    expect(() => loadCocoAnnotations(write('dup.json', dup))).toThrow(/repeats image id 1/);
    expect(() => loadCocoAnnotations(write('bad.json', '{"images": ['))).toThrow(/is not valid JSON/);
    expect(() => loadCocoAnnotations(join(dir, 'missing.json'))).toThrow(/does not exist/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Cross-check against an independent numpy re-statement of COCOeval (test/eval/cocoeval-numpy-ref.py) on seeded
// random scenes built to hit the edge cases: boxes on a coarse grid (exact IoU ties and threshold hits), crowds,
// area-range boundaries, duplicate scores, > 100 dets per image, categories without gt, unknown categories.
function hasNumpy(): boolean {
  const r = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  return r.status === 0;
}
const numpyOk = hasNumpy();
if (!numpyOk) console.warn('skipping the numpy cross-check: python3 with numpy is not available');

function randomScene(seed: number): { gt: CocoGroundTruth; dets: CocoDetection[] } {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const images = Array.from({ length: 1 + Math.floor(rnd() * 5) }, (_, i) => 3 * i + 1 + Math.floor(rnd() * 3));
  const categories = [1, 2, 3, 5].slice(0, 1 + Math.floor(rnd() * 4));
  const sizes = [8, 16, 32, 40, 64, 96, 100, 128];
  const box = (): Box => [8 * Math.floor(rnd() * 20), 8 * Math.floor(rnd() * 20), pick(sizes), pick(sizes)];
  const rows: [number, number, Box, number?][] = [];
  for (const im of images) {
    for (let q = Math.floor(rnd() * 8); q > 0; q--)
      rows.push([im, pick(categories.slice(0, Math.max(1, categories.length - 1))), box(), rnd() < 0.1 ? 1 : 0]);
  }
  const gt = makeGt(images, categories, rows);
  for (const a of gt.annotations) if (rnd() < 0.2) a.area = pick([1024, 9216, 500, 3000, 20000]);
  const dets: CocoDetection[] = [];
  const scores = [0.9, 0.8, 0.5, 0.5, 0.3, 0.1];
  for (const a of gt.annotations) {
    if (rnd() < 0.7) {
      const [x, y, w, h] = a.bbox as Box;
      const j = () => pick([0, 0, 2, 4, 8, -4]);
      dets.push(
        det(a.image_id, a.category_id, [x + j(), y + j(), w + j(), h + j()], rnd() < 0.3 ? pick(scores) : rnd()),
      );
    }
  }
  for (const im of images) {
    const n = rnd() < 0.15 ? 120 : Math.floor(rnd() * 6);
    for (let q = 0; q < n; q++)
      dets.push(det(im, rnd() < 0.05 ? 9 : pick(categories), box(), rnd() < 0.3 ? pick(scores) : rnd()));
  }
  // Shuffle so input order (the tie-break inside an image) is arbitrary.
  for (let i = dets.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [dets[i], dets[j]] = [dets[j]!, dets[i]!];
  }
  return { gt, dets };
}

describe.skipIf(!numpyOk)('cross-check with the numpy re-statement', () => {
  it('gives bit-identical stats on 60 random scenes', () => {
    const scenes = Array.from({ length: 60 }, (_, q) => randomScene(1000 + q));
    const r = spawnSync('python3', [join(here, 'cocoeval-numpy-ref.py')], {
      input: JSON.stringify(scenes),
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const expected = (JSON.parse(r.stdout) as string[][]).map((stats) => stats.map(Number));
    let informative = 0;
    for (const [q, scene] of scenes.entries()) {
      const got = evaluateCoco(scene.gt, scene.dets).stats;
      expect({ scene: q, stats: got }).toEqual({ scene: q, stats: expected[q] });
      if (got.some((v) => v > 0 && v < 1)) informative++;
    }
    // The scenes must exercise partial precision, not just the trivial 0 / 1 / -1 outcomes.
    expect(informative).toBeGreaterThan(40);
  });
});
