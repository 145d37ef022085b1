// Quantized detectors in (issue 16, item 1): QDQ and QOperator (QLinearConv) versions of the shared ultraface models
// (calibrated on the shared photos) and of the SSD300 / RetinaNet fixtures (calibrated on seeded random inputs), built
// here by prunedet's own quantizer, compile with one anchor removed per level; in onnxruntime the compiled model's
// outputs at the kept anchors equal the original's bit for bit (at 'disabled' and at verify's 'extended' level, where
// the runtime fuses QDQ into integer convs), and verify passes with every check conclusive, comparing the quantized
// parameters bit for bit and the outputs with tolerance 0.
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildQuantizedFixture, quantizeWith } from '../../fixtures/quantized';
import type { Model } from '../../src/ir/graph';
import { loadModel } from '../../src/onnx/load';
import { analyzeModel } from '../../src/detector/index';
import type { DetectorSpec } from '../../src/detector/spec';
import { verify } from '../../src/jobs/verify/index';
import { readCompileReport } from '../../src/artefacts/report';
import { decodeImage, listImages } from '../../src/image/decode';
import { preprocess, ULTRA_LIGHT_FACE_320 } from '../../src/image/preprocess';
import type { CalibrationSet } from '../../src/quant/calibrate';
import type { QuantizeOptions } from '../../src/quant/quantize';
import { compileTemp, saveTemp } from '../_support/compile';
import { maxRowsDiff } from '../_support/gather';
import { randomInput, type Outputs } from '../_support/ort';
import { FACES, hasShared, ultraface } from '../_support/shared';

/**
 * Remove one anchor per level, anchor (level mod A) of level `level`: the global numbers --remove takes. Levels that
 * share head weights (RetinaNet) then keep different channels of the same quantized weights.
 */
function oneAnchorPerLevel(spec: DetectorSpec): { remove: string; kept: number[][] } {
  let base = 0;
  const remove: number[] = [];
  const kept = spec.levels.map((l, li) => {
    const a = l.anchorsPerLocation;
    remove.push(base + (li % a));
    base += a;
    return Array.from({ length: a }, (_, i) => i).filter((i) => i !== li % a);
  });
  return { remove: remove.join(','), kept };
}

async function runAt(
  path: string,
  level: 'disabled' | 'extended',
  feeds: Record<string, ort.Tensor>,
): Promise<Outputs> {
  const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: level, logSeverityLevel: 3 });
  const res = await s.run(feeds);
  await s.release();
  const out: Outputs = {};
  for (const [k, t] of Object.entries(res)) out[k] = { dims: [...t.dims], data: t.data as Float32Array };
  return out;
}

/** Compile with one anchor removed per level; the largest difference at the kept anchors over `inputs`, per ORT level. */
async function pruneAndCompare(
  model: Model,
  inputs: Float32Array[],
  postprocess: string,
): Promise<{ path: string; outDir: string; spec: DetectorSpec; diff: Record<string, number>; compared: number }> {
  const path = saveTemp(model);
  const { spec } = analyzeModel(loadModel(path));
  const { remove, kept } = oneAnchorPerLevel(spec);
  const { outDir } = await compileTemp(path, { remove, postprocess });
  const diff: Record<string, number> = {};
  let compared = 0;
  for (const level of ['disabled', 'extended'] as const) {
    diff[level] = 0;
    for (const x of inputs) {
      const feeds = { [spec.input.name]: new ort.Tensor('float32', x, spec.input.shape) };
      const [a, b] = [await runAt(path, level, feeds), await runAt(join(outDir, 'model.onnx'), level, feeds)];
      diff[level] = Math.max(diff[level]!, maxRowsDiff(spec, kept, a, b));
      compared += Object.values(b).reduce((n, o) => n + o.data.length, 0);
    }
  }
  return { path, outDir, spec, diff, compared };
}

const FORMS: [string, QuantizeOptions][] = [
  ['QDQ, uint8 activations', { format: 'qdq', activations: 'uint8' }],
  ['QLinearConv, int8 activations', { format: 'qoperator', activations: 'int8' }],
];

describe.skipIf(!hasShared)(
  'quantized ultraface (calibrated on the shared photos): prune, equal bit for bit, verify',
  () => {
    const photos = listImages(FACES);
    const photo = (i: number) => preprocess(decodeImage(photos[i]!), ULTRA_LIGHT_FACE_320);
    const set: CalibrationSet = { inputName: 'input', dims: [1, 3, 240, 320], count: 4, make: photo };

    it.each([
      ['version-slim-320_simplified.onnx', ...FORMS[0]!],
      ['version-slim-320_simplified.onnx', ...FORMS[1]!],
      ['version-RFB-320.onnx', ...FORMS[1]!],
      ['version-RFB-320.onnx', ...FORMS[0]!],
    ] as const)('%s, %s', async (name, _form, q) => {
      const model = await quantizeWith(loadModel(ultraface(name)), set, q);
      const r = await pruneAndCompare(model, [photo(8), photo(9)], 'ultraface');
      expect(r.spec.quantization).toMatchObject({ form: q.format, convs: 8, of: 8, weights: 'per-channel' });
      expect(r.spec.quantization!.activations).toEqual([q.activations]);
      expect(r.compared).toBeGreaterThan(0);
      expect(r.diff).toEqual({ disabled: 0, extended: 0 });
      const v = await verify({
        original: r.path,
        outDir: r.outDir,
        images: FACES,
        samples: 2,
        skipC: true,
        postprocess: 'ultraface',
      });
      expect(v.status).toBe('equivalent');
      const t = v.checks.tensors;
      expect(t.parameters).toMatchObject({ convs: 8, quantized: 8, integer: 8, mismatches: 0 });
      for (const o of t.outputs) {
        expect(o.maxAbsError, o.name).toBe(0);
        expect(o.elements, o.name).toBeGreaterThan(0);
      }
      expect(v.checks.detections.inputs.detections).toBeGreaterThan(0);
    });
  },
);

describe.skipIf(!hasShared)('QLinearConcat (com.microsoft) on the head path of a QOperator ultraface', () => {
  it('one anchor per level: bit for bit, verify; a whole level removed: its QLinearConcat inputs go', async () => {
    const photos = listImages(FACES);
    const photo = (i: number) => preprocess(decodeImage(photos[i]!), ULTRA_LIGHT_FACE_320);
    const set: CalibrationSet = { inputName: 'input', dims: [1, 3, 240, 320], count: 4, make: photo };
    const model = await quantizeWith(loadModel(ultraface('version-slim-320_simplified.onnx')), set, {
      format: 'qoperator',
      qlinearConcat: true,
    });
    expect(model.graph.nodes.filter((n) => n.opType === 'QLinearConcat' && n.domain === 'com.microsoft').length).toBe(
      2,
    );
    const r = await pruneAndCompare(model, [photo(8)], 'ultraface');
    expect(r.diff).toEqual({ disabled: 0, extended: 0 });
    // the boxes are DequantizeLinear(QLinearConcat): report.json tells an int8-input module their quantization
    expect(readCompileReport(r.outDir).quantization!.outputs.boxes).toMatchObject({ type: 'uint8' });
    const v = await verify({
      original: r.path,
      outDir: r.outDir,
      images: FACES,
      samples: 2,
      skipC: true,
      postprocess: 'ultraface',
    });
    expect(v.status).toBe('equivalent');
    for (const o of v.checks.tensors.outputs) expect(o.maxAbsError, o.name).toBe(0);
    const { outDir } = await compileTemp(r.path, { remove: '0,7,8,9' }); // level 3 emptied
    const compiled = loadModel(join(outDir, 'model.onnx'));
    for (const n of compiled.graph.nodes.filter((x) => x.opType === 'QLinearConcat'))
      expect(n.inputs.length).toBe(2 + 3 * 3);
    const w = await verify({
      original: r.path,
      outDir,
      images: FACES,
      samples: 2,
      skipC: true,
      postprocess: 'ultraface',
    });
    expect(w.checks.tensors.status).toBe('pass');
    for (const o of w.checks.tensors.outputs)
      expect([o.name, o.maxAbsError, o.elements > 0]).toEqual([o.name, 0, true]);
  });
});

describe('quantized SSD300 and RetinaNet fixtures (calibrated on random inputs): prune, equal bit for bit, verify', () => {
  it.each([
    ['ssd300', 'mmdet-ssd300', {}, ...FORMS[0]!],
    ['ssd300', 'mmdet-ssd300', {}, ...FORMS[1]!],
    ['retinanet', 'mmdet-retinanet', { inputSize: [96, 128] as [number, number] }, ...FORMS[1]!],
    ['retinanet', 'mmdet-retinanet', { inputSize: [96, 128] as [number, number] }, ...FORMS[0]!],
  ] as const)('%s (%s), %s', async (kind, preset, size, _form, q) => {
    const model = await buildQuantizedFixture(kind, { ...size, ...q, samples: 2 });
    // one input through both ORT levels here; verify's tensor check (at 'extended') covers its own inputs
    const dims = kind === 'ssd300' ? [1, 3, 300, 300] : [1, 3, 96, 128];
    const r = await pruneAndCompare(model, kind === 'retinanet' ? [randomInput(dims, 7)] : [], preset);
    expect(r.spec.quantization).toMatchObject({ form: q.format, weights: 'per-channel' });
    expect(r.diff).toEqual({ disabled: 0, extended: 0 });
    const v = await verify({ original: r.path, outDir: r.outDir, samples: 1, skipC: true, postprocess: preset });
    expect(v.status).toBe('equivalent');
    expect(v.checks.tensors.parameters.mismatches).toBe(0);
    expect(v.checks.tensors.parameters.quantized).toBeGreaterThan(0);
    for (const o of v.checks.tensors.outputs) expect(o.maxAbsError, o.name).toBe(0);
  });

  it('per-tensor weight scales stay untouched; raw QDQ outputs record their quantization in report.json', async () => {
    const model = await buildQuantizedFixture('retinanet', {
      inputSize: [96, 128],
      outputs: 'raw',
      format: 'qdq',
      activations: 'int8',
      perChannel: false,
      samples: 2,
    });
    // per-level maps: verify's tensor check compares them at the kept anchors (maxRowsDiff reads rows outputs only)
    const r = await pruneAndCompare(model, [], 'mmdet-retinanet');
    expect(r.spec.quantization).toMatchObject({ form: 'qdq', weights: 'per-tensor', activations: ['int8'] });
    const report = readCompileReport(r.outDir);
    const outs = report.quantization!.outputs;
    expect(Object.keys(outs).length).toBe(10); // 5 levels x (scores, boxes), each DequantizeLinear of an int8 map
    for (const q of Object.values(outs)) {
      expect(q.type).toBe('int8');
      expect(q.scale).toBeGreaterThan(0);
      expect(Number.isInteger(q.zeroPoint)).toBe(true);
    }
    const v = await verify({
      original: r.path,
      outDir: r.outDir,
      samples: 1,
      skipC: true,
      postprocess: 'mmdet-retinanet',
    });
    expect(v.status).toBe('equivalent');
    expect(v.checks.tensors.outputs.length).toBe(10);
    for (const o of v.checks.tensors.outputs)
      expect([o.name, o.maxAbsError, o.elements > 0]).toEqual([o.name, 0, true]);
  });

  it('QDQ head convs whose outputs are not re-quantized run in float: a derived tolerance, its origin stated', async () => {
    const model = await buildQuantizedFixture('retinanet', { inputSize: [96, 128], format: 'qdq', samples: 2 });
    // drop the Q -> DQ after every head conv: the runtime then runs DQ(x), DQ(W) -> Conv in float
    for (const conv of analyzeModel(model).spec.head.region.convs) {
      const q = conv.output().uses[0]!.node;
      const dq = q.output().uses[0]!.node;
      const y = dq.output();
      model.graph.removeNode(dq);
      model.graph.removeNode(q);
      conv.setOutput(0, y);
    }
    const r = await pruneAndCompare(model, [], 'mmdet-retinanet');
    const v = await verify({
      original: r.path,
      outDir: r.outDir,
      samples: 1,
      skipC: true,
      postprocess: 'mmdet-retinanet',
    });
    expect(v.status).toBe('equivalent');
    expect(v.checks.tensors.parameters).toMatchObject({ quantized: 10, mismatches: 0 });
    expect(v.checks.tensors.parameters.integer).toBeUndefined();
    for (const o of v.checks.tensors.outputs) {
      expect(o.tolerance.kind, o.name).toBe('derived');
      expect(o.tolerance.max, o.name).toBeGreaterThan(0);
      expect(o.tolerance.origin, o.name).toMatch(/prune-anchors sliced \d+ convs .*‖W‖₁/);
    }
  });
});
