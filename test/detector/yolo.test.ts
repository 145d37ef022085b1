// YOLOv5-style exports: raw (Conv -> Reshape [B, A, 5+C, H, W] -> Transpose [B, A, H, W, 5+C] per level) and decoded
// in the graph (Sigmoid, grid / anchor_grid arithmetic, Reshape [B, A*H*W, 5+C], Concat over levels). Analysis traces
// the (a, y, x) anchor order, pruning slices the head convs, the Reshape targets and every anchor-indexed constant, the
// compiled model's outputs at the kept anchors are the original's, bit for bit, in onnxruntime; the yolov5/yolov3
// post-processing (reference, C, ONNX NMS) runs on both, and verify proves it, or fails on a tampered anchor_grid.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildFixture, type SynthOptions } from '../../fixtures/index';
import { Tensor } from '../../src/ir/tensor';
import { saveModel } from '../../src/onnx/save';
import { postprocessForModel, referenceInput } from '../../src/postprocess/for-model';
import { postprocess } from '../../src/postprocess/reference';
import { YOLO_STANDARD_ANCHORS } from '../../src/postprocess/yolo';
import { formatInspect, inspectModel } from '../../src/jobs/inspect';
import { expectSameDetections, toRun } from '../emit-onnx/support';
import { YOLOV5 } from '../../fixtures/yolov5';
import { analyzeModel } from '../../src/detector/index';
import { loadModel } from '../../src/onnx/load';
import { verify } from '../../src/jobs/verify/index';
import { bench } from '../../src/jobs/bench/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { randomInput, run, session } from '../_support/ort';

const MAPS = YOLOV5.maps;
const K = 5 + YOLOV5.classes;
// one 1x1 conv per level, C_in x 255 per location (the paper's convention: multiply-accumulates of the head convs)
const HEAD_MACS = MAPS.reduce((s, m, i) => s + m * m * YOLOV5.channels[i]! * 3 * K, 0);

describe('YOLOv5 raw export', () => {
  const model = buildFixture('yolov5', { outputs: 'raw' });

  it('analysis: 3 levels x 3 anchors, 25,200 boxes, exact head MACs, roles per K group, (a, y, x) rows', () => {
    const { spec } = analyzeModel(model);
    expect(spec.levels.map((l) => l.featureMap)).toEqual(MAPS.map((m) => [m, m]));
    expect(spec.levels.map((l) => l.stride)).toEqual(YOLOV5.strides.map((s) => [s, s]));
    expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual([3, 3, 3]);
    expect(spec.boxes).toBe(25_200);
    expect(HEAD_MACS).toBe(365_568_000);
    expect(spec.headMacs).toBe(HEAD_MACS);
    expect(spec.classes).toBe(80);
    for (const [i, o] of spec.outputs.entries()) {
      expect(o).toMatchObject({ name: `output${i}`, kind: 'rows', rowOrder: 'anchor-major', levels: [i] });
      expect(o.columns).toEqual([
        { role: 'boxes', offset: 0, size: 4 },
        { role: 'objectness', offset: 4, size: 1 },
        { role: 'scores', offset: 5, size: 80 },
      ]);
      expect(o.evidence.join()).toMatch(/\(a, y, x\).*K = 85 = 4 box .* 1 objectness \+ 80 class/);
    }
    for (const l of spec.levels) {
      expect(l.convs).toHaveLength(1);
      expect(l.convs[0]).toMatchObject({ channels: 255, valuesPerAnchor: 85, layout: 'anchor-major' });
    }
    expect(spec.roles.complete).toBe(true);
  });

  it('compile --remove one anchor per level: 255 -> 170 channels, bit-identical at the kept anchors, verify passes', async () => {
    const path = saveTemp(model);
    const { report, outDir } = await compileTemp(path, { remove: '0,4,8' });
    expect(report.config.kept).toEqual([
      [1, 2],
      [0, 2],
      [0, 1],
    ]);
    const compiled = analyzeModel(loadModel(join(outDir, 'model.onnx'))).spec;
    expect(compiled.levels.map((l) => l.convs[0]!.channels)).toEqual([170, 170, 170]);
    expect(compiled.boxes).toBe(16_800);
    expect(compiled.headMacs).toBe((HEAD_MACS / 3) * 2);
    expect(compiled.outputs.every((o) => o.rowOrder === 'anchor-major')).toBe(true);

    const dims = [...YOLOV5.input];
    const feeds = { images: { dims, data: randomInput(dims, 7) } };
    const [a, b] = [await run(path, feeds), await run(join(outDir, 'model.onnx'), feeds)];
    report.config.kept.forEach((kept, l) => {
      const m = MAPS[l]!;
      const [orig, comp] = [a[`output${l}`]!, b[`output${l}`]!];
      expect(orig.dims).toEqual([1, 3, m, m, K]);
      expect(comp.dims).toEqual([1, 2, m, m, K]);
      const block = m * m * K;
      kept.forEach((anchor, j) => {
        const want = orig.data.subarray(anchor * block, (anchor + 1) * block);
        const got = comp.data.subarray(j * block, (j + 1) * block);
        expect(
          Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(
            Buffer.from(want.buffer, want.byteOffset, want.byteLength),
          ),
        ).toBe(true);
      });
    });

    const r = await verify({ original: path, outDir, samples: 2, skipC: true });
    expect(r.checks.tensors.status).toBe('pass');
    expect(r.checks.tensors.outputs.map((o) => [o.name, o.elements])).toEqual(
      MAPS.map((m, l) => [`output${l}`, 2 * m * m * 2 * K]),
    );
    expect(r.checks.tensors.outputs.every((o) => o.maxAbsError === 0)).toBe(true);
    expect(r.checks.tensors.parameters.mismatches).toBe(0);
  }, 120_000);
});

describe('YOLOv5 decoded in the graph (640, the paper accounting)', () => {
  it('analysis: 3 levels x 3 anchors, 25,200 boxes, exact head MACs, YOLO rows, anchor sizes from anchor_grid', () => {
    const styles: SynthOptions[] = [
      { outputs: 'decoded' },
      { outputs: 'decoded', yolo: { anchorGrid: 'expanded', split: true } },
      { outputs: 'decoded', yolo: { decode: 'v3' } },
      // YOLOv5s-like backbone: SiLU (x * Sigmoid(x)) everywhere before the head does not confuse the head analysis
      { outputs: 'decoded', backbone: 'full' },
    ];
    for (const o of styles) {
      const { spec } = analyzeModel(buildFixture('yolov5', o));
      expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual([3, 3, 3]);
      expect(spec.boxes).toBe(25_200);
      expect(spec.headMacs).toBe(HEAD_MACS);
      expect(spec.classes).toBe(80);
      expect(spec.outputs).toHaveLength(1);
      expect(spec.outputs[0]).toMatchObject({ name: 'output0', rowOrder: 'anchor-major', levels: [0, 1, 2] });
      expect(spec.outputs[0]!.columns.map((c) => c.role)).toEqual(['boxes', 'objectness', 'scores']);
      expect(spec.yoloAnchors?.sizes).toEqual(YOLOV5.anchors);
      expect(spec.yoloAnchors?.source).toMatch(/anchor_grid/);
    }
  });
});

// 160x160 (maps 20/10/5) where the size is not the point: compile one anchor off per level with the YOLO presets,
// C module and onnx-nms-exact, then verify conclusively
const SMALL: [number, number] = [160, 160];
const VARIANTS: { name: string; o: SynthOptions; preset: string; decoded: boolean }[] = [
  { name: 'raw per level', o: { outputs: 'raw' }, preset: 'yolov5', decoded: false },
  { name: 'raw fused', o: { outputs: 'raw', yolo: { fused: true } }, preset: 'yolov3', decoded: false },
  { name: 'decoded v5, anchor_grid [1,A,1,1,2], Slice', o: { outputs: 'decoded' }, preset: 'yolov5', decoded: true },
  {
    name: 'decoded v5, anchor_grid [1,A,H,W,2], Split',
    o: { outputs: 'decoded', yolo: { anchorGrid: 'expanded', split: true } },
    preset: 'yolov7',
    decoded: true,
  },
  {
    name: 'decoded v3 (exp), grid computed from Shape (Range, Expand)',
    o: { outputs: 'decoded', yolo: { decode: 'v3', computedGrid: true } },
    preset: 'yolov3',
    decoded: true,
  },
];

describe('YOLO exports compiled with one anchor removed per level and verified', () => {
  for (const v of VARIANTS) {
    it(`${v.name}: equivalent at the kept anchors; C, postprocess.onnx and model_nms.onnx give the reference's detections`, async () => {
      const path = saveTemp(buildFixture('yolov5', { ...v.o, inputSize: SMALL }));
      const { report, outDir } = await compileTemp(path, {
        remove: '0,4,8',
        postprocess: v.preset,
        emit: ['c', 'onnx-nms-exact'],
      });
      expect(report.after.boxes).toBe(1050);
      expect(report.postprocess?.input).toBe('yolo');
      // raw rows carry no anchor sizes: compile says it decodes with the preset's standard anchors; decoded exports
      // have their anchor_grid read and no such note
      const anchorNote = (report.postprocess?.notes ?? []).filter((n) => /standard anchors/.test(n));
      expect(anchorNote.length).toBe(v.decoded ? 0 : 1);
      const r = await verify({ original: path, outDir, samples: 2 });
      expect(r.status).toBe('equivalent');
      // bench has no YOLO loads yet: it says so in one line instead of timing the wrong layout
      if (v.name === 'raw per level')
        await expect(bench({ outDir, runs: 200 })).rejects.toThrow(/bench does not time YOLO/);
      expect(r.checks.tensors.outputs.every((o) => o.maxAbsError === 0 && o.elements > 0)).toBe(true);
      expect(r.checks.detections.status).toBe('pass');
      expect(r.checks.cModule).toMatchObject({ status: 'pass' });
      expect(r.checks.cModule.detections).toBeGreaterThan(0);

      // the standalone onnx-nms graph on the compiled model's own outputs == the reference
      const comp = analyzeModel(loadModel(join(outDir, 'model.onnx'))).spec;
      const dims = [1, 3, ...SMALL];
      const outs = await run(join(outDir, 'model.onnx'), { images: { dims, data: randomInput(dims, 3) } });
      const pp = postprocessForModel(comp, v.preset, { kept: report.config.kept });
      expect(pp.spec.decoder.type).toBe(v.decoded ? 'xywh' : v.preset === 'yolov3' ? 'yolov3' : 'yolov5');
      const want = postprocess(pp.spec, referenceInput(comp, outs, pp.levels), {
        anchors: pp.anchors,
        levels: pp.levels,
        numClasses: pp.numClasses,
      });
      const g = await session(join(outDir, 'postprocess.onnx'));
      const feeds = Object.fromEntries(
        comp.outputs.map((o) => [o.name, new ort.Tensor('float32', outs[o.name]!.data, outs[o.name]!.dims)]),
      );
      const got = toRun(await g.run(feeds)).detections;
      expect(want.length).toBeGreaterThan(0);
      expectSameDetections(got, want, true);
      // and appended to the model (model_nms.onnx): image in, the same detections out
      const m = await session(join(outDir, 'model_nms.onnx'));
      const whole = await m.run({ images: new ort.Tensor('float32', randomInput(dims, 3), dims) });
      expectSameDetections(toRun(whole).detections, want, true);
    }, 120_000);
  }

  it('verify fails (exit 1) on a compiled model whose anchor_grid was tampered with', async () => {
    const path = saveTemp(buildFixture('yolov5', { outputs: 'decoded', inputSize: SMALL }));
    const { outDir } = await compileTemp(path, { remove: '0,4,8' });
    const model = loadModel(join(outDir, 'model.onnx'));
    const grids = [...model.graph.values.values()].filter((x) => /anchor_grid/.test(x.name) && x.constant());
    expect(grids.length).toBeGreaterThan(0);
    const g = grids[0]!;
    const t = g.constant()!;
    const data = t.float32().map((x, i) => (i === 0 ? x * 1.5 : x));
    const tampered = Tensor.fromFloat32(t.dims, data);
    if (g.initializer) g.initializer = tampered;
    else g.producer!.setAttr('value', { type: 'tensor', value: tampered });
    saveModel(model, join(outDir, 'model.onnx'));
    const r = await verify({ original: path, outDir, samples: 1, skipC: true });
    expect(r.status).toBe('mismatch');
    expect(r.exitCode).toBe(1);
    expect(r.checks.tensors.status).toBe('fail');
  }, 60_000);
});

describe('inspect shows YOLO anchor sizes', () => {
  it("from a decoded export's anchor_grid, and from a YOLO preset's standard anchors for raw rows", () => {
    const decoded = inspectModel(saveTemp(buildFixture('yolov5', { outputs: 'decoded', inputSize: SMALL })));
    expect(decoded.anchors!.map((a) => [a.w, a.h])).toEqual(YOLOV5.anchors.flat());
    expect(formatInspect(decoded)).toMatch(/sizes in input pixels from the graph's anchor_grid constants/);
    const raw = saveTemp(buildFixture('yolov5', { outputs: 'raw', inputSize: SMALL }));
    expect(inspectModel(raw).anchors!.every((a) => a.w === null)).toBe(true);
    const v7 = inspectModel(raw, { postprocess: 'yolov7' });
    expect(v7.anchors!.map((a) => [a.w, a.h])).toEqual(YOLO_STANDARD_ANCHORS.yolov7!.flat());
    expect(v7.anchorSizes).toBe("preset yolov7's standard anchors");
  });
});
