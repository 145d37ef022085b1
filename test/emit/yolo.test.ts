// YOLO post-processing (presets yolov5 / yolov7 / yolov3, objectness x class, grid decode; decoded exports through
// xywh + probabilities): the emitted C (-O2 and ASan/UBSan) gives the TypeScript reference's detections bit for bit
// on YOLO rows from light to heavy loads, labels=best and labels=all.
import { afterAll, describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c/plan';
import { emitPostprocessC } from '../../src/emit/c';
import { layoutPlan } from '../../src/emit/c/plan';
import { parsePostprocess } from '../../src/postprocess/presets';
import { postprocess, type LevelShape } from '../../src/postprocess/reference';
import { syntheticYoloRows, YOLO_STANDARD_ANCHORS, yoloAnchorRows } from '../../src/postprocess/yolo';
import { hasGcc } from '../_support/gcc';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';

// a 160x160 YOLO head: P3-P5 maps 20/10/5, 3 anchors per location, 80 classes (1575 rows)
const LEVELS: LevelShape[] = [20, 10, 5].map((m, i) => ({
  h: m,
  w: m,
  anchorsPerLocation: 3,
  pixelStride: [8 << i, 8 << i] as [number, number],
}));
const CLASSES = 80;

function planOf(text: string, preset: string, levels = LEVELS, sizes = YOLO_STANDARD_ANCHORS[preset]!): EmitPlan {
  const spec = parsePostprocess(text);
  return {
    name: `yolo_${preset}`,
    banner: { version: 'test', modelFile: 'synthetic', modelSha256: '0', config: 'none' },
    spec,
    input: 'yolo',
    levels: levels.map((l) => ({ ...l, stride: l.pixelStride! })),
    numClasses: CLASSES + 1,
    anchors: spec.decoder.type === 'xywh' ? new Float32Array(1575 * 4) : yoloAnchorRows(levels, sizes),
    candidateCap: 30000,
  };
}

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

/** Loads light -> heavy: objects planted (each lights up to 9 rows); the last case adds a low threshold (thousands of pairs). */
const LOADS = [2, 12, 60, 200];

describe.skipIf(!hasGcc)('YOLO post-processing: C module == reference', () => {
  const cases: [string, string, boolean][] = [
    ['yolov5', 'yolov5', false],
    ['yolov5,labels=all', 'yolov5', false],
    ['yolov3,labels=all', 'yolov3', false],
    ['yolov5,decoder=xywh,scores=probabilities', 'yolov5', true],
    ['yolov5,labels=all,score_thr=0.02', 'yolov5', false],
  ];
  for (const [text, preset, decoded] of cases) {
    it(`${text}: light to heavy loads, -O2 and ASan/UBSan`, () => {
      const plan = planOf(text, preset);
      const m = buildModule(plan);
      built.push(m);
      const counts: number[] = [];
      for (const objects of LOADS) {
        const rows = syntheticYoloRows(LEVELS, CLASSES, { seed: objects * 7 + text.length, objects, decoded });
        const want = postprocess(
          plan.spec,
          { form: 'yolo', levels: rows },
          { anchors: plan.anchors, levels: LEVELS, numClasses: CLASSES + 1 },
        );
        const flat = new Float32Array(rows.reduce((s, r) => s + r.length, 0));
        let o = 0;
        for (const r of rows) flat.set(r, (o += r.length) - r.length);
        const got = m.run({ scores: flat, boxes: new Float32Array(0) });
        expect(got.status).toBe(0);
        expectSameDetections(got.detections, want);
        counts.push(want.length);
      }
      // the loads do grow: the heaviest gives more detections than the lightest
      expect(counts.at(-1)!).toBeGreaterThanOrEqual(Math.min(300, 2 * counts[0]!));
      expect(counts[0]!).toBeGreaterThan(0);
    });
  }
});

describe('YOLO post-processing semantics', () => {
  it('objectness first: a row whose objectness does not pass has no candidate, whatever its class', () => {
    const spec = parsePostprocess('yolov5,decoder=xywh,scores=probabilities,labels=all');
    const lv: LevelShape[] = [{ h: 1, w: 2, anchorsPerLocation: 1 }];
    // row 0: obj 0.2 (fails 0.25) x class 1.0 (not a probability) = 0.2; row 1: obj 0.9 x 0.5 = 0.45 passes
    const rows = new Float32Array([10, 10, 4, 4, 0.2, 2, 30, 10, 4, 4, 0.9, 0.5]);
    const d = postprocess(
      spec,
      { form: 'yolo', levels: [rows] },
      { anchors: new Float32Array(8), levels: lv, numClasses: 2 },
    );
    expect(d.map((x) => x.anchor)).toEqual([1]);
    expect(d[0]!.box).toEqual([28, 8, 32, 12]);
    expect(d[0]!.score).toBe(Math.fround(0.9 * 0.5));
  });

  it('labels=best keeps one label per anchor, labels=all every pair above the threshold', () => {
    const lv: LevelShape[] = [{ h: 1, w: 1, anchorsPerLocation: 1 }];
    const rows = new Float32Array([10, 10, 4, 4, 0.9, 0.5, 0.6, 0.1]);
    const run = (t: string) =>
      postprocess(
        parsePostprocess(t),
        { form: 'yolo', levels: [rows] },
        { anchors: new Float32Array(4), levels: lv, numClasses: 4 },
      );
    expect(run('yolov5,decoder=xywh,scores=probabilities').map((x) => x.label)).toEqual([1]);
    expect(run('yolov5,decoder=xywh,scores=probabilities,labels=all').map((x) => x.label)).toEqual([1, 0]);
  });

  it('yolov5 and yolov3 grid decodes at a known point (t = 0: σ = 0.5)', () => {
    const lv: LevelShape[] = [{ h: 2, w: 2, anchorsPerLocation: 1, pixelStride: [16, 16] }];
    const anchors = yoloAnchorRows(lv, [[[20, 40]]]);
    // anchor 3 = cell (1, 1); raw t = 0 everywhere, objectness/class logits high
    const rows = new Float32Array(4 * 7);
    rows.set([0, 0, 0, 0, 9, 9, -9], 3 * 7);
    const run = (t: string) =>
      postprocess(parsePostprocess(t), { form: 'yolo', levels: [rows] }, { anchors, levels: lv, numClasses: 3 })[0]!;
    // v5: cx = (2·0.5 - 0.5 + 1)·16 = 24, w = (2·0.5)²·20 = 20
    expect(run('yolov5').box).toEqual([14, 4, 34, 44]);
    // v3: cx = (0.5 + 1)·16 = 24, w = e^0·20 = 20
    expect(run('yolov3').box).toEqual([14, 4, 34, 44]);
    expect(run('yolov5').anchor).toBe(3);
  });

  it('the header states the YOLO semantics and the module holds no anchor table', () => {
    const { files } = emitPostprocessC(planOf('yolov5', 'yolov5'));
    const h = files.find((f) => f.name.endsWith('.h'))!.text;
    const c = files.find((f) => f.name.endsWith('.c'))!.text;
    expect(h).toMatch(/anchors: +no table: per level the stride and the kept anchors' sizes \(96 B read-only\)/);
    expect(h).toMatch(/candidates: rows with o > 0\.25, then the row's best label/);
    expect(h).toContain('const float *const *rows');
    expect(c).not.toMatch(/_anchors\[1575\]/);
    expect(c).toMatch(/_yolo_anchor\[9\]\[2\]/);
  });

  it('the C plan refuses an anchor table that is not the grid', () => {
    const plan = planOf('yolov5', 'yolov5');
    plan.anchors = Float32Array.from(plan.anchors);
    plan.anchors[4 * 100] = 7.5;
    expect(() => layoutPlan(plan)).toThrow(/not the grid row/);
  });
});
