// The onnx-nms graph for YOLO rows (presets yolov5 / yolov7 / yolov3, decoded exports through xywh): its inputs are
// the head's own per-level rows [1, A, H, W, 4 + C]; the bit-exact variant gives the reference's detections bit for
// bit on light to heavy loads, the runtime-arithmetic variant the same detections (scores within 1e-5).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildPostprocessGraph } from '../../src/emit/onnx';
import { parsePostprocess } from '../../src/postprocess/presets';
import { postprocess, type LevelShape } from '../../src/postprocess/reference';
import { syntheticYoloRows, YOLO_STANDARD_ANCHORS, yoloAnchorRows } from '../../src/postprocess/yolo';
import { session } from '../_support/ort';
import { expectSameDetections, toRun } from './support';

// 128x128: maps 16/8/4, 3 anchors, 80 classes; the middle level pruned to 2 anchors (as compile --remove leaves it)
const LEVELS: LevelShape[] = [
  { h: 16, w: 16, anchorsPerLocation: 3, pixelStride: [8, 8] },
  { h: 8, w: 8, anchorsPerLocation: 2, pixelStride: [16, 16] },
  { h: 4, w: 4, anchorsPerLocation: 3, pixelStride: [32, 32] },
];
const CLASSES = 80;
const LOADS = [2, 12, 60];

describe('onnx-nms graph on YOLO rows agrees with the reference', () => {
  const cases: [string, string, boolean][] = [
    ['yolov5', 'yolov5', false],
    ['yolov7,labels=all', 'yolov7', false],
    ['yolov3', 'yolov3', false],
    ['yolov5,decoder=xywh,scores=probabilities', 'yolov5', true],
    ['yolov5,labels=all,score_thr=0.02,top_k=500', 'yolov5', false],
  ];
  for (const [text, preset, decoded] of cases) {
    it(`${text}: exact and runtime arithmetic, light to heavy loads`, async () => {
      const spec = parsePostprocess(text);
      const std = YOLO_STANDARD_ANCHORS[preset]!;
      const sizes = [std[0]!, [std[1]![0]!, std[1]![2]!], std[2]!];
      const n = LEVELS.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
      const anchors = decoded ? new Float32Array(n * 4) : yoloAnchorRows(LEVELS, sizes);
      const params = { spec, anchors, levels: LEVELS, numClasses: CLASSES + 1 };
      const exact = await session(buildPostprocessGraph({ ...params, exact: true }));
      const fast = await session(buildPostprocessGraph({ ...params, exact: false }));
      const counts: number[] = [];
      for (const objects of LOADS) {
        const rows = syntheticYoloRows(LEVELS, CLASSES, { seed: objects * 13 + text.length, objects, decoded });
        const want = postprocess(
          spec,
          { form: 'yolo', levels: rows },
          { anchors, levels: LEVELS, numClasses: CLASSES + 1 },
        );
        const feeds = Object.fromEntries(
          LEVELS.map((l, i) => [
            `rows${i}`,
            new ort.Tensor('float32', rows[i]!, [1, l.anchorsPerLocation, l.h, l.w, CLASSES + 5]),
          ]),
        );
        expectSameDetections(toRun(await exact.run(feeds)).detections, want, true);
        // runtime Sigmoid / Exp: the same detections, scores within 1e-5, boxes within 1e-4 (a few ulps of pixels)
        const fastDets = toRun(await fast.run(feeds)).detections;
        expect(fastDets.map((d) => `${d.label}@${d.anchor}`)).toEqual(want.map((d) => `${d.label}@${d.anchor}`));
        fastDets.forEach((d, i) => {
          expect(Math.abs(d.score - want[i]!.score)).toBeLessThanOrEqual(1e-5);
          d.box.forEach((v, j) =>
            expect(Math.abs(v - want[i]!.box[j]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v))),
          );
        });
        counts.push(want.length);
      }
      expect(counts[0]!).toBeGreaterThan(0);
      expect(counts.at(-1)!).toBeGreaterThanOrEqual(Math.min(300, 2 * counts[0]!));
    });
  }
});
