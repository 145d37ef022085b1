// torchvision-style detectors exported whole (C,H,W input, in-graph resize and padding, per-level or per-class score
// filter, top-k, decode, batched NMS in an If): pruned so the full model still runs in onnxruntime and gives exactly
// the detections of the original with the removed anchors' scores forced to zero (the paper's oracle, built in the
// graph); or cut at the head with --cut-head and post-processed by the emitted C module.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasGcc } from '../_support/gcc';
import { describe, expect, it } from 'vitest';
import { buildFullExport, FULL_EXPORT, type FullExportStyle } from '../../fixtures/full-export';
import { analyzeModel } from '../../src/detector/index';
import { maskRemovedAnchors } from '../../src/detector/mask-anchors';
import { inferShapes } from '../../src/shape/infer';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes } from '../../src/onnx/save';
import { removeListOf } from '../../src/anchors/config/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { run, session } from '../_support/ort';
import { prng } from '../../fixtures/random';

/** Seeded images in [0, 1], as a user's photo after ToTensor. */
function images(n: number): Float32Array[] {
  const r = prng(2024);
  const size = FULL_EXPORT.image.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, () => Float32Array.from({ length: size }, r));
}

/** Run `a` and `b` on the same images; every output must be equal element for element. Returns detections compared. */
async function sameDetections(a: Uint8Array | string, b: string): Promise<number> {
  const [sa, sb] = [await session(a), await session(b)];
  let compared = 0;
  for (const data of images(3)) {
    const feeds = { images: { dims: FULL_EXPORT.image, data } };
    const [x, y] = [await run(sa, feeds), await run(sb, feeds)];
    for (const name of ['boxes', 'scores', 'labels']) {
      expect(y[name]!.dims, name).toEqual(x[name]!.dims);
      expect(Array.from(y[name]!.data), name).toEqual(Array.from(x[name]!.data));
    }
    compared += x.scores!.dims[0]!;
  }
  return compared;
}

const CONFIGS: Record<string, (counts: number[]) => number[][]> = {
  'one anchor removed per level': (counts) => counts.map((a) => Array.from({ length: a - 1 }, (_, k) => k + 1)),
  'uneven: level 0 emptied, one or two removed elsewhere': (counts) =>
    counts.map((a, l) => (l === 0 ? [] : Array.from({ length: a }, (_, k) => k).filter((k) => k >= l))),
};

for (const style of ['retinanet', 'ssd'] as FullExportStyle[]) {
  describe(`${style} exported whole`, () => {
    const model = buildFullExport({ style });
    const path = saveTemp(model);

    it('is analysed from its C,H,W input: network size after the in-graph resize and padding, post-processing named', () => {
      const { spec } = analyzeModel(model);
      expect(spec.input.shape).toEqual(FULL_EXPORT.image);
      expect(spec.imageSize).toEqual(FULL_EXPORT.network);
      expect(spec.levels.map((l) => l.featureMap)).toEqual(FULL_EXPORT.maps);
      expect(spec.levels.map((l) => l.stride)).toEqual([
        [8, 8],
        [16, 16],
        [32, 32],
      ]);
      expect(spec.postprocessInGraph).toEqual([
        style === 'ssd' ? 'softmax' : 'sigmoid',
        'decode',
        'score-filter',
        'top-k',
        'nms',
      ]);
      expect(spec.outputs.every((o) => !o.graphOutput)).toBe(true);
      expect(spec.roles.complete).toBe(true);
      // the anchors the graph computes: read off the decoding (SSD) or off the tables the post-processing gathers from
      expect(spec.anchorTable?.xyxy.length).toBe(spec.boxes * 4);
      if (style === 'retinanet') expect(spec.postprocess!.anchorIndexed).toHaveLength(3);
    });

    for (const [name, keep] of Object.entries(CONFIGS)) {
      it(`${name}: the compiled full model gives the masked original's detections exactly`, async () => {
        const { spec } = analyzeModel(model);
        const counts = spec.levels.map((l) => l.anchorsPerLocation);
        const kept = keep(counts);
        const { report, outDir } = await compileTemp(path, { remove: removeListOf(kept, { counts }).join(',') });
        expect(report.after.anchorsPerLevel).toEqual(kept.map((k) => k.length));
        const oracle = maskRemovedAnchors(model, kept, (m) => inferShapes(m));
        expect(oracle.masked).toBeGreaterThan(0);
        const compared = await sameDetections(modelToBytes(oracle.model), join(outDir, 'model.onnx'));
        expect(compared).toBeGreaterThan(20);
      });
    }

    it('the unpruned original differs from the masked one: the comparison can fail', async () => {
      const { spec } = analyzeModel(model);
      const kept = CONFIGS['one anchor removed per level']!(spec.levels.map((l) => l.anchorsPerLocation));
      const oracle = maskRemovedAnchors(model, kept, (m) => inferShapes(m));
      const feeds = { images: { dims: FULL_EXPORT.image, data: images(1)[0]! } };
      const [x, y] = [await run(model, feeds), await run(modelToBytes(oracle.model), feeds)];
      expect(Array.from(x.scores!.data)).not.toEqual(Array.from(y.scores!.data));
    });
  });
}

describe('prunedet verify on a full export', () => {
  it('compares the compiled model with the masked original on random images, and fails when they differ', async () => {
    const { verify } = await import('../../src/jobs/verify/index');
    const path = saveTemp(buildFullExport({ style: 'retinanet' }));
    const { outDir } = await compileTemp(path, { remove: '0,9,18' });
    const good = await verify({ original: path, outDir, samples: 2 });
    expect(good.status).toBe('equivalent');
    expect(good.checks.detections.inputs.detections).toBeGreaterThan(20);
    expect(good.checks.detections.inputs.identical).toBe(good.checks.detections.inputs.detections);
    expect(good.checks.tensors.outputs.map((t) => t.name).sort()).toEqual(['boxes', 'labels', 'scores']);
    for (const t of good.checks.tensors.outputs) expect(t.tolerance.kind).toBe('bitwise');
    // the same compiled model checked against a config that removed other anchors: the masks disagree
    const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    report.config.kept = report.config.kept.map((k: number[]) => [...k.slice(1), 0].sort((a, b) => a - b));
    writeFileSync(join(outDir, 'report.json'), JSON.stringify(report));
    const bad = await verify({ original: path, outDir, samples: 2 });
    expect(bad.status).toBe('mismatch');
    expect(bad.exitCode).toBe(1);
    expect(bad.checks.detections.reason).toMatch(/differs from the masked original|has shape/);
  });
});

describe('--cut-head on a full export', () => {
  it('drops the in-graph post-processing: per-level head maps out, the C module takes them with the pruned anchor table', async () => {
    const path = saveTemp(buildFullExport({ style: 'retinanet' }));
    const { spec } = analyzeModel(loadModel(path));
    const counts = spec.levels.map((l) => l.anchorsPerLocation);
    const kept = CONFIGS['one anchor removed per level']!(counts);
    const { report, outDir } = await compileTemp(path, {
      remove: removeListOf(kept, { counts }).join(','),
      cutHead: true,
      emit: ['c'],
      postprocess: 'torchvision-retinanet',
    });
    expect(report.cutHead).toEqual(['scores_0', 'boxes_0', 'scores_1', 'boxes_1', 'scores_2', 'boxes_2']);
    const cut = loadModel(join(outDir, 'model.onnx'));
    expect(cut.graph.nodes.some((n) => ['NonMaxSuppression', 'TopK', 'If', 'NonZero'].includes(n.opType))).toBe(false);
    expect(cut.graph.inputs.map((v) => v.name)).toEqual(['images']);
    const feeds = { images: { dims: FULL_EXPORT.image, data: images(1)[0]! } };
    const out = await run(cut, feeds);
    expect(out.scores_0!.dims).toEqual([1, 8 * FULL_EXPORT.retinanet.classes, 12, 16]);
    expect(existsSync(join(outDir, 'postprocess.c'))).toBe(true);
    expect(String(report.postprocess!.anchors)).toMatch(/the graph's constants/);
    expect(readFileSync(join(outDir, 'postprocess.h'), 'utf8')).toMatch(/ {2}0 +8x8 +12x16 +8 +0 +1536/);
    // verify: per-level maps equal the original's at the kept anchors, detections equal the oracle's, the C module's too
    const { verify } = await import('../../src/jobs/verify/index');
    const v = await verify({ original: path, outDir, samples: 2 });
    expect(v.status).toBe('equivalent');
    expect(v.checks.cModule.status).toBe(hasGcc ? 'pass' : 'inconclusive');
    expect(v.checks.detections.inputs.detections + v.checks.detections.planted.detections).toBeGreaterThan(20);
  });

  it('--emit c without --cut-head is refused: the full export keeps its own NMS', async () => {
    const path = saveTemp(buildFullExport({ style: 'ssd' }));
    await expect(compileTemp(path, { remove: '0', emit: ['c'], postprocess: 'torchvision-ssd' })).rejects.toThrow(
      /keeps its own post-processing \(NMS in the graph\)/,
    );
  });
});
