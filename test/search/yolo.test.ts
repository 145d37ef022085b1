// search on YOLO heads: it scores the YOLO post-processing as precomputed scores and boxes (yoloAsScoresAndBoxes),
// proven here to give the same detections for every suppressed-anchor mask; a search on a decoded YOLOv5 export runs,
// scores the full model 1, and its report draws each level's anchor sizes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { YOLOV5 } from '../../fixtures/yolov5';
import { search } from '../../src/jobs/search/index';
import { saveModel } from '../../src/onnx/save';
import { parsePostprocess } from '../../src/postprocess/presets';
import { postprocess, type LevelShape } from '../../src/postprocess/reference';
import {
  syntheticYoloRows,
  YOLO_STANDARD_ANCHORS,
  yoloAnchorRows,
  yoloAsScoresAndBoxes,
} from '../../src/postprocess/yolo';
import { makeProject } from './project';

const LEVELS: LevelShape[] = [16, 8, 4].map((m, i) => ({
  h: m,
  w: m,
  anchorsPerLocation: 3,
  pixelStride: [8 << i, 8 << i] as [number, number],
}));
const N = LEVELS.reduce((s, l) => s + l.h * l.w * 3, 0);

describe('YOLO post-processing as scores and boxes (what search evaluates)', () => {
  const cases: [string, boolean][] = [
    ['yolov5', false],
    ['yolov5,labels=all,score_thr=0.05', false],
    ['yolov3,clip=128/128', false],
    ['yolov7,decoder=xywh,scores=probabilities', true],
  ];
  for (const [text, decoded] of cases) {
    it(`${text}: the same detections under random suppressed-anchor masks`, () => {
      const spec = parsePostprocess(text);
      const anchors = decoded
        ? new Float32Array(N * 4)
        : yoloAnchorRows(
            LEVELS,
            YOLO_STANDARD_ANCHORS[text.split(',')[0]!]!.map((l) => [...l]),
          );
      const pp = { spec, anchors, levels: LEVELS, numClasses: 81 };
      const eq = yoloAsScoresAndBoxes(pp);
      let total = 0;
      for (let seed = 1; seed <= 4; seed++) {
        const rows = syntheticYoloRows(LEVELS, 80, { seed, objects: 10 * seed, decoded });
        const suppressed = new Uint8Array(N).map((_, i) => (((i * 2654435761 + seed) >>> 0) % 3 === 0 ? 1 : 0));
        for (const mask of [undefined, suppressed]) {
          const want = postprocess(
            spec,
            { form: 'yolo', levels: rows },
            { ...pp, ...(mask ? { suppressed: mask } : {}) },
          );
          const got = postprocess(eq.spec, eq.toInput({ form: 'yolo', levels: rows }), {
            anchors: new Float32Array(N * 4),
            levels: LEVELS,
            numClasses: eq.numClasses,
            ...(mask ? { suppressed: mask } : {}),
          });
          expect(got).toEqual(want);
          total += want.length;
        }
      }
      expect(total).toBeGreaterThan(0);
    });
  }
});

describe('search on a YOLOv5 export decoded in the graph', () => {
  const root = mkdtempSync(join(tmpdir(), 'pd-search-yolo-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('runs, scores the full model 1 and draws the anchor_grid sizes per level', async () => {
    const p = makeProject(root, 3);
    const model = join(root, 'yolov5.onnx');
    saveModel(buildFixture('yolov5', { outputs: 'decoded', inputSize: [160, 160] }), model);
    const r = await search({
      model,
      images: p.images,
      postprocess: 'yolov5',
      outDir: join(root, 'out'),
      maxCandidates: 12,
      workers: 1,
    });
    expect(r.postprocess).toMatch(/objectness=on,labels=best/);
    expect(r.points[0]).toMatchObject({ removed: [], keptPerLevel: [3, 3, 3], boxes: 1575, map: 1 });
    expect(r.points.length).toBeGreaterThan(1);
    const html = readFileSync(r.report, 'utf8');
    for (const level of YOLOV5.anchors)
      expect(html).toContain(`"anchors":${JSON.stringify(level.map(([w, h]) => ({ w, h })))}`);
  }, 60_000);
});
