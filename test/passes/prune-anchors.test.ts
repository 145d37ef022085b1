import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture, FIXTURE_KINDS } from '../../fixtures/index';
import { buildVariant, VARIANTS } from '../../fixtures/variants';
import { loadModel } from '../../src/onnx/load';
import { compileTemp, equivalence, saveTemp, tempDir } from '../_support/compile';
import { hasShared, ultraface } from '../_support/shared';
import { prng } from '../../fixtures/random';
import { analyzeModel } from '../../src/detector/index';
import { runPipeline, stepOf } from '../../src/pipeline';
import { pruneAnchors } from '../../passes/prune-anchors';
import { removeListOf } from '../../src/anchors/config/index';

const PAPER = {
  a: { macs: 3_607_764_480, boxes: 7814, anchors: [4, 4, 5, 3, 2, 1] },
  b: { macs: 2_476_592_640, boxes: 4926, anchors: [2, 4, 5, 3, 2, 1] },
  c: { macs: 1_628_213_760, boxes: 3121, anchors: [1, 3, 5, 3, 2, 1] },
  d: { macs: 774_938_880, boxes: 1291, anchors: [0, 2, 5, 2, 2, 1] },
} as const;

const ssd300 = saveTemp(buildFixture('ssd300', { outputs: 'concat' }));

describe("SSD300: the paper's configurations A-D", () => {
  for (const [name, want] of Object.entries(PAPER)) {
    it(`configuration ${name.toUpperCase()}: ${want.macs} head MACs, ${want.boxes} boxes; --remove and JSON give byte-identical models`, async () => {
      const py = await compileTemp(ssd300, { config: `configs/ssd300/config_${name}.py` });
      expect(py.report.before.headMacs).toBe(4_231_319_040);
      expect(py.report.before.boxes).toBe(8732);
      expect(py.report.after.headMacs).toBe(want.macs);
      expect(py.report.after.boxes).toBe(want.boxes);
      expect(py.report.after.anchorsPerLevel).toEqual(want.anchors);
      const report = JSON.parse(readFileSync(join(py.outDir, 'report.json'), 'utf8'));
      expect(report.after.headMacs).toBe(want.macs);
      const removed = py.report.config.removed;
      const rm = await compileTemp(ssd300, { remove: removed.join(',') });
      const json = join(tempDir(), 'cfg.json');
      writeFileSync(json, JSON.stringify({ levels: py.report.config.kept.map((keep) => ({ keep })) }));
      const js = await compileTemp(ssd300, { config: json });
      const bytes = readFileSync(join(py.outDir, 'model.onnx'));
      expect(readFileSync(join(rm.outDir, 'model.onnx')).equals(bytes)).toBe(true);
      expect(readFileSync(join(js.outDir, 'model.onnx')).equals(bytes)).toBe(true);
      expect(await equivalence(ssd300, py.outDir, py.report.config.kept, [1, 3, 300, 300])).toBeLessThanOrEqual(1e-5);
    });
  }
  it("configuration A is the paper's printed remove list", async () => {
    const { report } = await compileTemp(ssd300, { config: 'configs/ssd300/config_a.py' });
    expect(report.config.removed).toEqual([5, 7, 13, 16, 17, 19, 22, 25, 26, 27, 28]);
  });
});

describe('RetinaNet: P3 emptied, the largest ratio-1 anchor removed on P4-P7', () => {
  it('gives 31,440,936,960 head MACs and 40,136 boxes, and no node of the P3 tower or P3-only FPN path remains', async () => {
    const path = saveTemp(buildFixture('retinanet', { outputs: 'raw' }));
    const { report, outDir } = await compileTemp(path, { config: 'configs/retinanet/pruned.py' });
    expect(report.before.headMacs).toBe(129_318_147_072);
    expect(report.before.boxes).toBe(180_153);
    expect(report.after.headMacs).toBe(31_440_936_960);
    expect(report.after.boxes).toBe(40_136);
    const names = loadModel(join(outDir, 'model.onnx')).graph.nodes.map((n) => n.name);
    expect(names.filter((n) => n.endsWith('.l0'))).toEqual([]);
    for (const p3 of ['neck.lateral_convs.0', 'neck.upsample.0', 'neck.top_down.0', 'neck.fpn_convs.0'])
      expect(names).not.toContain(p3);
    expect(names.filter((n) => n.endsWith('.l1')).length).toBe(10); // P4 keeps its towers and output convs
  });
});

describe('compiled outputs equal the original outputs at the kept anchors (max abs diff <= 1e-5)', () => {
  const dims = (kind: string) =>
    kind === 'retinanet' ? [1, 3, 128, 192] : kind === 'ssdlite' ? [1, 3, 320, 320] : [1, 3, 300, 300];
  // yolov5 (fused (a, y, x) rows per level): test/detector/yolo.test.ts
  for (const kind of FIXTURE_KINDS.filter((k) => k !== 'yolov5')) {
    for (const outputs of ['raw', 'concat', 'decoded'] as const) {
      it(`${kind} ${outputs}`, async () => {
        const model = buildFixture(kind, { outputs, reshape: 'mixed', inputSize: [128, 192] });
        const path = saveTemp(model);
        const { spec } = analyzeModel(model);
        // remove the whole first level and the first anchor of every other level
        const remove = spec.levels.flatMap((l, i) =>
          i === 0 ? Array.from({ length: l.anchorsPerLocation }, (_, a) => a) : [0],
        );
        const base = spec.levels.map((l) => l.anchorsPerLocation);
        const kept = base.map((a, i) => (i === 0 ? [] : Array.from({ length: a - 1 }, (_, k) => k + 1)));
        const { report, outDir } = await compileTemp(path, { remove: removeListOf(kept, { counts: base }).join(',') });
        expect(report.config.removed.length).toBe(remove.length);
        if (outputs === 'raw') return expectRawMaps(path, outDir, kept, dims(kind));
        expect(await equivalence(path, outDir, kept, dims(kind))).toBeLessThanOrEqual(1e-5);
      });
    }
  }
  for (const v of VARIANTS) {
    it(`export shape ${v}`, async () => {
      const path = saveTemp(buildVariant(v));
      const kept = [[1], [0, 2], []];
      const { report, outDir } = await compileTemp(path, { remove: '0,3,5,6' });
      expect(report.config.kept).toEqual(kept);
      expect(await equivalence(path, outDir, kept, [1, 3, 64, 64])).toBeLessThanOrEqual(1e-5);
    });
  }
  it('a dynamic batch stays dynamic: the compiled model runs at batch 2', async () => {
    const path = saveTemp(buildVariant('dynamic-batch'));
    const { outDir } = await compileTemp(path, { remove: '1,2' });
    const { randomInput, run } = await import('../_support/ort');
    const out = await run(join(outDir, 'model.onnx'), {
      input: { dims: [2, 3, 64, 64], data: randomInput([2, 3, 64, 64]) },
    });
    expect(out.scores!.dims).toEqual([2, 16 * 16 * 1 + 8 * 8 * 2 + 4 * 4 * 2, 3]);
  });
});

async function expectRawMaps(path: string, outDir: string, kept: number[][], dims: number[]): Promise<void> {
  const { randomInput, run } = await import('../_support/ort');
  const { spec } = analyzeModel(loadModel(path));
  const feeds = { input: { dims, data: randomInput(dims) } };
  const [a, b] = [await run(path, feeds), await run(join(outDir, 'model.onnx'), feeds)];
  let max = 0;
  for (const o of spec.outputs) {
    const l = spec.levels[o.level!]!;
    const K = o.valuesPerRow;
    const hw = l.featureMap[0] * l.featureMap[1];
    const channels = kept[o.level!]!.flatMap((a) => Array.from({ length: K }, (_, k) => a * K + k));
    expect(b[o.name]!.dims).toEqual([1, channels.length, ...l.featureMap]);
    channels.forEach((c, j) => {
      for (let p = 0; p < hw; p++)
        max = Math.max(max, Math.abs(a[o.name]!.data[c * hw + p]! - b[o.name]!.data[j * hw + p]!));
    });
  }
  expect(max).toBeLessThanOrEqual(1e-5);
}

describe('property sweep: random kept subsets', () => {
  it('head MACs follow the formula and outputs match, on 6 random configs of the SSDLite fixture', async () => {
    const model = buildFixture('ssdlite', { outputs: 'decoded' });
    const path = saveTemp(model);
    const { spec } = analyzeModel(model);
    const r = prng(42);
    for (let t = 0; t < 6; t++) {
      const kept = spec.levels.map((l) =>
        Array.from({ length: l.anchorsPerLocation }, (_, a) => a).filter(() => r() < 0.6),
      );
      if (kept.every((k) => k.length === 0)) kept[0] = [0];
      const { report, outDir } = await compileTemp(path, {
        remove: removeListOf(kept, { counts: spec.levels.map((l) => l.anchorsPerLocation) }).join(',') || ' ',
      });
      // per level: the dw->pw class head keeps its dw conv; the pw->dw box head shrinks in both convs
      const macs = spec.levels.reduce((s, l, i) => {
        if (kept[i]!.length === 0) return s;
        const [h, w] = l.featureMap;
        return (
          s +
          l.convs.reduce((m, conv) => {
            const frac = kept[i]!.length / l.anchorsPerLocation;
            const full = l.headNodes
              .filter((n) => n === conv.node || conv.feeders.includes(n))
              .reduce((x, n) => x + fullMacs(n, h, w), 0);
            return m + full * frac;
          }, 0) +
          l.headNodes
            .filter((n) => !l.convs.some((conv) => conv.node === n || conv.feeders.includes(n)))
            .reduce((x, n) => x + fullMacs(n, h, w), 0)
        );
      }, 0);
      expect(report.after.headMacs).toBe(Math.round(macs));
      expect(await equivalence(path, outDir, kept, [1, 3, 320, 320], t)).toBeLessThanOrEqual(1e-5);
    }
  });
});

function fullMacs(n: import('../../src/ir/graph').Node, h: number, w: number): number {
  const wt = n.inputs[1]!.constant()!;
  return h * w * wt.dims.reduce((a, b) => a * b, 1);
}

describe.skipIf(!hasShared)('the real ultraface models', () => {
  for (const f of [
    'version-RFB-320.onnx',
    'version-RFB-320_without_postprocessing.onnx',
    'version-slim-320.onnx',
    'version-slim-320_simplified.onnx',
  ]) {
    it(f, async () => {
      const { report, outDir } = await compileTemp(ultraface(f), { remove: '0,3,5,9' });
      expect(report.after.anchorsPerLevel).toEqual([2, 1, 1, 2]);
      expect(report.after.boxes).toBe(30 * 40 * 2 + 15 * 20 + 8 * 10 + 4 * 5 * 2);
      expect(await equivalence(ultraface(f), outDir, report.config.kept, [1, 3, 240, 320])).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('the pass itself', () => {
  it('returns changed: false with a reason when the config keeps every anchor', async () => {
    const model = buildFixture('ssdlite');
    const { spec } = analyzeModel(model);
    const reports = (
      await runPipeline(model, [
        stepOf(pruneAnchors, {
          kept: spec.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i)),
        }),
      ])
    ).steps;
    expect(reports[0]).toMatchObject({ changed: false, skipped: 'the config keeps every anchor' });
  });

  it('refuses a config that removes everything or names anchors the model lacks, writing nothing', async () => {
    const path = saveTemp(buildVariant('landmark-heads'));
    await expect(compileTemp(path, { remove: '0,1,2,3,4,5,6' })).rejects.toThrow(/removes every anchor/);
    await expect(compileTemp(path, { remove: '7' })).rejects.toThrow(/out of range|valid/);
  });
});
