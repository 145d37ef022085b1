// YOLOv5-style raw export (Conv -> Reshape [B, A, 5+C, H, W] -> Transpose [B, A, H, W, 5+C] per level): analysis
// traces the (a, y, x) anchor order, pruning slices the head convs and the Reshape targets per anchor, and the
// compiled model's outputs at the kept anchors are the original's, bit for bit, in onnxruntime.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { YOLOV5 } from '../../fixtures/yolov5';
import { analyzeModel } from '../../src/detector/index';
import { loadModel } from '../../src/onnx/load';
import { verify } from '../../src/jobs/verify/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { randomInput, run } from '../_support/ort';

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

  it('post-processing refuses (a, y, x) rows in one line rather than reading them as (y, x, a)', async () => {
    const { requireRoles } = await import('../../src/detector/spec');
    expect(() => requireRoles(analyzeModel(model).spec, 'post-processing')).toThrow(/\(a, y, x\).*output0/);
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
