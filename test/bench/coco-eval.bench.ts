// COCO evaluation at search size: 24 images, ~300 detections each, ground truth prepared once (fidelity mode).
import { bench, describe } from 'vitest';
import { detectionsAsGroundTruth, type CocoDetection } from '../../src/eval/coco-data';
import { prepareGroundTruth } from '../../src/eval/coco-eval';
import { mulberry32 } from '../_support/prng';

const rnd = mulberry32(99);
const imageIds = Array.from({ length: 24 }, (_, i) => i + 1);
const ref: CocoDetection[] = [];
for (const image_id of imageIds) {
  for (let q = 0; q < 300; q++)
    ref.push({
      image_id,
      category_id: 1,
      bbox: [rnd() * 600, rnd() * 440, 8 + rnd() * 120, 8 + rnd() * 120],
      score: rnd(),
    });
}
const gt = prepareGroundTruth(detectionsAsGroundTruth(ref, { imageIds }));
const cand = ref
  .filter(() => rnd() < 0.8)
  .map((d) => ({
    ...d,
    bbox: d.bbox.map((v) => v + rnd() * 3) as [number, number, number, number],
    score: d.score * (0.9 + 0.2 * rnd()),
  }));

describe(`fidelity mAP of ${cand.length} detections over 24 images`, () => {
  bench(
    'prepared ground truth, evaluate',
    () => {
      gt.evaluate(cand);
    },
    { iterations: 50, warmupIterations: 5 },
  );
});
