// Issue 13's export shapes, unaided: fused multi-task face heads with landmarks and a quality score, depthwise heads,
// raw-logit single-class heads with keypoints, per-level face outputs, a model wrapped in nested local functions, an
// IR-3 model listing its initializers as inputs. Each is analysed (levels, anchors, what each output holds and why),
// compiled with one anchor removed per level, and run in onnxruntime against the original at the kept anchors.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFaceExport, FACE_EXPORTS, FACE_LEVELS, type FaceExport } from '../../fixtures/faces';
import { wrapInLocalFunctions, TORCH_DOMAIN, TORCH_LIB } from '../../fixtures/local-functions';
import { buildLegacyExport, LEGACY_LEVELS } from '../../fixtures/legacy';
import { buildVariant } from '../../fixtures/variants';
import { analyzeModel } from '../../src/detector/index';
import { loadModel } from '../../src/onnx/load';
import { decodeMessage } from '../../src/onnx/codec';
import { removeListOf } from '../../src/anchors/config/index';
import { postprocessForModel, referenceInput } from '../../src/postprocess/for-model';
import type { Model } from '../../src/ir/graph';
import { compileTemp, equivalence, saveTemp, tempDir } from '../_support/compile';
import { randomInput, run } from '../_support/ort';

/** Compile `path` with anchor 0 of every level removed; the kept anchors and the largest difference at them. */
async function pruneOnePerLevel(
  path: string,
  model: Model,
  dims: number[],
): Promise<{ diff: number; kept: number[][]; outDir: string }> {
  const { spec } = analyzeModel(model);
  const counts = spec.levels.map((l) => l.anchorsPerLocation);
  const kept = counts.map((a) => Array.from({ length: a - 1 }, (_, k) => k + 1));
  const { report, outDir } = await compileTemp(path, { remove: removeListOf(kept, { counts }).join(',') });
  expect(report.after.anchorsPerLevel).toEqual(counts.map((a) => a - 1));
  return { diff: await equivalence(path, outDir, kept, dims), kept, outDir };
}

const roles = (m: Model) =>
  analyzeModel(m).spec.outputs.map((o) => `${o.name}:${o.columns.map((c) => `${c.role}${c.size}`).join('+')}`);

describe('face exports: roles from evidence, pruning without them', () => {
  const WANT: Record<FaceExport, string[]> = {
    yunet: ['loc:boxes4+landmarks10', 'conf:scores2', 'iou:objectness1'],
    blazeface: ['regressors:boxes4+landmarks12', 'classificators:scores1'],
    'blazeface-unnamed': ['520:boxes4+landmarks12', '521:scores1'],
    scrfd: [
      'score_8:scores1',
      'score_16:scores1',
      'score_32:scores1',
      'bbox_8:boxes4',
      'bbox_16:boxes4',
      'bbox_32:boxes4',
      'kps_8:landmarks10',
      'kps_16:landmarks10',
      'kps_32:landmarks10',
    ],
  };
  for (const kind of FACE_EXPORTS) {
    it(`${kind}: levels, roles with evidence, one anchor removed per level equals the original at the kept anchors`, async () => {
      const model = buildFaceExport(kind);
      const { spec } = analyzeModel(model);
      expect(spec.levels.map((l) => l.featureMap)).toEqual(FACE_LEVELS[kind].maps);
      expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual(FACE_LEVELS[kind].anchors);
      expect(roles(model)).toEqual(WANT[kind]);
      expect(spec.roles.complete).toBe(true);
      for (const o of spec.outputs) expect(o.evidence.length).toBeGreaterThan(0);
      const { diff } = await pruneOnePerLevel(saveTemp(model), model, FACE_LEVELS[kind].input);
      expect(diff).toBeLessThanOrEqual(1e-5);
    });
  }

  it('the evidence says how: Softmax in the graph, the name with K = 4 + 2k, K = 1 beside the scores, K alone for unnamed outputs', () => {
    const ev = (m: Model) =>
      Object.fromEntries(analyzeModel(m).spec.outputs.map((o) => [o.name, o.evidence.join('; ')]));
    expect(ev(buildFaceExport('yunet'))).toEqual({
      loc: 'name "loc", K = 14 = 4 box + 10 landmark values',
      conf: 'Softmax applied in the graph',
      iou: 'name "iou"',
    });
    const unnamed = ev(buildFaceExport('blazeface-unnamed'));
    expect(unnamed['520']).toMatch(/K = 16 = 4 box \+ 12 landmark values/);
    expect(unnamed['521']).toMatch(/K = 1: a one-class score/);
  });

  it('depthwise output convs shrink with the 1x1 conv feeding them (YuNet)', () => {
    const { spec } = analyzeModel(buildFaceExport('yunet'));
    for (const l of spec.levels) {
      expect(l.convs).toHaveLength(1);
      expect(l.convs[0]!.node.getInt('group', 1)).toBe(l.anchorsPerLocation * 17);
      expect(l.convs[0]!.feeders.map((n) => n.opType)).toEqual(['Conv']);
      expect(l.convs[0]!.groups.map((g) => `${g.role}:${g.offset}+${g.size}`)).toEqual([
        'boxes:0+4',
        'landmarks:4+10',
        'scores:14+2',
        'objectness:16+1',
      ]);
    }
  });

  it('post-processing reads boxes from the columns that hold them and concatenates per-level outputs', async () => {
    for (const kind of ['yunet', 'scrfd'] as const) {
      const model = buildFaceExport(kind);
      const { spec } = analyzeModel(model);
      const dims = FACE_LEVELS[kind].input;
      const out = await run(model, { input: { dims, data: randomInput(dims) } });
      const ri = referenceInput(spec, out);
      if (ri.form !== 'concat') throw new Error('expected rows');
      expect(ri.boxes.length).toBe(spec.boxes * 4);
      expect(ri.scores.length).toBe(spec.boxes * spec.classes);
      const boxOut = spec.outputs.find((o) => o.role === 'boxes')!;
      const src = out[boxOut.name]!.data;
      // row 7's box is columns 0..3 of the output's row 7, whatever K the output has
      expect(Array.from(ri.boxes.subarray(28, 32))).toEqual(
        Array.from(src.subarray(7 * boxOut.valuesPerRow, 7 * boxOut.valuesPerRow + 4)),
      );
    }
  });
});

describe('roles the evidence cannot settle', () => {
  /** RetinaFace-like heads with the names stripped: K = 3 and K = 10 next to the K = 4 boxes. */
  function unnamed(): Model {
    const m = buildVariant('landmark-heads');
    const g = m.graph;
    ['scores', 'boxes', 'landmarks'].forEach((n, i) => g.renameValue(g.values.get(n)!, `out${i}`));
    return m;
  }

  it('analysis and pruning still work; post-processing names the outputs in question and the --head-spec that settles them', async () => {
    const model = unnamed();
    const { spec } = analyzeModel(model);
    expect(spec.roles.complete).toBe(false);
    expect(spec.roles.missing).toMatch(/could be told to hold scores among out0 \(K=3\), out1 \(K=4\), out2 \(K=10\)/);
    expect(() => postprocessForModel(spec, 'ultraface')).toThrow(
      expect.objectContaining({
        code: 'E_HEAD_AMBIGUOUS',
        message: expect.stringMatching(/^post-processing needs to know which outputs hold scores and boxes: no output/),
        hint: expect.stringMatching(/--head-spec .*"outputs": \{"out0": "scores"/),
      }),
    );
    const path = saveTemp(model);
    const { diff } = await pruneOnePerLevel(path, model, [1, 3, 64, 64]);
    expect(diff).toBeLessThanOrEqual(1e-5);
    const hs = join(tempDir(), 'head.json');
    writeFileSync(hs, JSON.stringify({ outputs: { out0: 'scores' } }));
    const fixed = analyzeModel(model, { headSpec: hs }).spec;
    expect(fixed.roles.complete).toBe(true);
    expect(fixed.outputs.map((o) => `${o.name}:${o.role}:${o.evidence[0]}`)).toEqual([
      'out0:scores:named in --head-spec',
      'out1:boxes:K = 4',
      'out2:landmarks:K = 10 = 5 points, next to the boxes of its levels',
    ]);
  });

  it('a head spec with an unknown role is refused in one line naming the choices', () => {
    const hs = join(tempDir(), 'bad.json');
    writeFileSync(hs, JSON.stringify({ outputs: { out0: 'score' } }));
    expect(() => analyzeModel(unnamed(), { headSpec: hs })).toThrow(
      expect.objectContaining({
        code: 'E_HEAD_SPEC',
        message: expect.stringMatching(/gives output "out0" the role "score"$/),
        hint: 'use one of scores, boxes, landmarks, objectness, extra, boxes+landmarks',
      }),
    );
  });
});

describe('a model wrapped in nested local functions (dynamo / onnxscript torch_lib)', () => {
  it('is inlined at load: attribute references resolved two calls deep, defaults applied, unique names, no custom domain left', async () => {
    const plain = buildFaceExport('yunet');
    const bytes = wrapInLocalFunctions(plain);
    const proto = decodeMessage('onnx.ModelProto', bytes) as { functions?: unknown[]; graph: { node: unknown[] } };
    expect(proto.functions).toHaveLength(4);
    expect(proto.graph.node).toHaveLength(1);
    const path = join(tempDir(), 'dynamo.onnx');
    writeFileSync(path, bytes);
    const m = loadModel(path);
    expect(m.graph.nodes.some((n) => n.domain === TORCH_DOMAIN || n.domain === TORCH_LIB)).toBe(false);
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv');
    expect(convs).toHaveLength(plain.graph.nodes.filter((n) => n.opType === 'Conv').length);
    expect(new Set(m.graph.nodes.map((n) => n.name)).size).toBe(m.graph.nodes.length);
    // every Conv got its caller's attributes through two levels of references, dilation from the default
    const byWeight = new Map(plain.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => [n.inputs[1]!.name, n]));
    for (const c of convs) {
      const want = byWeight.get(c.inputs[1]!.name)!;
      for (const a of ['strides', 'pads', 'dilations']) expect(c.getInts(a)).toEqual(want.getInts(a, [1, 1]));
      expect(c.getInt('group', 1)).toBe(want.getInt('group', 1));
    }
    const { spec } = analyzeModel(m);
    const ref = analyzeModel(plain).spec;
    expect(spec.headMacs).toBe(ref.headMacs);
    expect(roles(m)).toEqual(roles(plain));
    const { diff, outDir } = await pruneOnePerLevel(path, m, FACE_LEVELS.yunet.input);
    expect(diff).toBeLessThanOrEqual(1e-5);
    const out = decodeMessage('onnx.ModelProto', readFileSync(join(outDir, 'model.onnx'))) as {
      functions?: unknown[];
      opset_import: { domain?: string }[];
    };
    expect(out.functions).toBeUndefined();
    expect(out.opset_import.map((o) => o.domain ?? '')).toEqual(['']);
  });
});

describe('an IR-3 export listing its initializers as graph inputs', () => {
  it('compiles to a model whose only input is the image (IR 4), equal at the kept anchors', async () => {
    const model = buildLegacyExport();
    expect(model.graph.inputs.length).toBeGreaterThan(40);
    const path = saveTemp(model);
    const { diff, outDir } = await pruneOnePerLevel(path, loadModel(path), LEGACY_LEVELS.input);
    expect(diff).toBeLessThanOrEqual(1e-5);
    const out = loadModel(join(outDir, 'model.onnx'));
    expect(out.graph.inputs.map((v) => v.name)).toEqual(['data']);
    expect(out.irVersion).toBe(4);
    expect(out.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toEqual([]);
  });
});
