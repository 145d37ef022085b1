// bench produces the documented result for scripts (timings are measurements, never asserted): every peer on every
// load and anchor set, the floor, the ratios, the candidates each load passes, and the model latency split.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { expectUserError, prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';
import { bench, PEERS } from '../../src/jobs/bench/index';
import { formatBench } from '../../src/jobs/bench/format';

describe.skipIf(!hasGcc)('bench', () => {
  it('times every peer on the loads for both anchor sets, with the floors, ratios and candidate counts', async () => {
    const model = saveTemp(buildFixture('ssdlite', { outputs: 'decoded' }));
    const { outDir } = await compileTemp(model, {
      remove: '0,1,6,7,12,13,18,19,24,25,30,31',
      emit: ['c'],
      postprocess: 'torchvision-ssd',
    });
    const r = await bench({ outDir, runs: 12, warmup: 2, slowRuns: 3, loads: ['light', 'heavy'], noModel: true });
    expect(r.boxes).toEqual({ original: 3234, pruned: 2156 });
    expect(r.results.map((x) => `${x.load}/${x.anchors}`)).toEqual([
      'light/original',
      'light/pruned',
      'heavy/original',
      'heavy/pruned',
    ]);
    for (const x of r.results) {
      expect(x.floor.runs).toBe(12);
      expect(x.floor.medianUs).toBeGreaterThan(0);
      expect(x.timings.map((t) => t.peer)).toEqual([...PEERS]);
      for (const t of x.timings) {
        expect(t.runs).toBe(t.peer === 'ts' || t.peer === 'onnx-nms-exact' ? 3 : 12);
        expect(t.p99Us).toBeGreaterThanOrEqual(t.medianUs);
        expect(t.minUs).toBeLessThanOrEqual(t.medianUs);
      }
      // prunedet's own implementations agree on the same tensors (the peers have their own semantics)
      const dets = (peer: string) => x.timings.find((t) => t.peer === peer)!.detections;
      expect(new Set(['c', 'c-portable', 'ts', 'onnx-nms-exact'].map(dets)).size).toBe(1);
      expect(dets('c')).toBeGreaterThan(0);
      for (const k of [
        'c/floor',
        'ort-nms-op/c',
        'ort-mmdeploy/c',
        'ts/c',
        'onnx-nms/c',
        'onnx-nms-exact/c',
        'onnx-nms/ort-mmdeploy',
        'onnx-nms-exact/ort-mmdeploy',
      ])
        expect(x.ratios[k], k).toBeGreaterThan(0);
      expect(x.pairs).toBe((x.anchors === 'original' ? 3234 : 2156) * 90);
    }
    // the loads are what they say: heavy passes about 6.5% of the pairs, light a small fraction of that
    const share = (load: string, set: string) => {
      const x = r.results.find((v) => v.load === load && v.anchors === set)!;
      return x.candidates / x.pairs;
    };
    expect(share('heavy', 'original')).toBeGreaterThan(0.04);
    expect(share('light', 'original')).toBeLessThan(share('heavy', 'original') / 10);
    expect(r.model).toBeNull();
    const text = formatBench(r);
    expect(text).toMatch(/ratios of medians/);
    expect(text).toMatch(/heavy +pruned/);
  });

  it('reports model latency (>= 20 runs) and splits the speed-up into graph clean-up and the pruned head', async () => {
    const model = saveTemp(buildFixture('ssdlite', { outputs: 'decoded', backbone: 'tiny' }));
    const { outDir } = await compileTemp(model, { remove: '0,1,6,7', emit: ['c'], postprocess: 'torchvision-ssd' });
    const r = await bench({
      outDir,
      runs: 4,
      warmup: 1,
      slowRuns: 1,
      loads: ['light'],
      sets: ['pruned'],
      peers: ['c'],
      modelRuns: 5,
    });
    const m = r.model!;
    expect(m.runs).toBe(20);
    for (const s of [m.original, m.cleaned!, m.compiled]) expect(s.runs).toBe(20);
    expect(m.headMacs.compiled).toBeLessThan(m.headMacs.original);
    expect(m.speedup.total).toBeCloseTo(m.speedup.cleanUp! * m.speedup.head!, 6);
    expect(formatBench(r)).toMatch(/from graph clean-up x .* from the pruned head/);
  });

  it('the CLI: fewer than 200 runs get a warning, not a refusal; --only c times the C and the floor alone; an estimate comes first', async () => {
    const model = saveTemp(buildFixture('ssdlite', { outputs: 'decoded', backbone: 'tiny' }));
    const { outDir } = await compileTemp(model, { remove: '0,1,6,7', emit: ['c'], postprocess: 'torchvision-ssd' });
    const r = prunedet(['bench', outDir, '--only', 'c', '--runs', '20', '--load', 'light,heavy', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(
      /^\[bench\] warning: --runs 20 is below 200: the medians and the p99 of fewer rounds are noisy/,
    );
    const est = lines.findIndex((l) =>
      /^\[bench\] this bench will take about \d+(\.\d)? (s|min|h) \(an estimate from the head size, 2 loads, 20 rounds, no model latency\)$/.test(
        l,
      ),
    );
    expect(est, r.stderr).toBeGreaterThan(0);
    expect(lines.findIndex((l) => /^\[bench\] (load|building)/.test(l))).toBeGreaterThan(est);
    const v = JSON.parse(r.stdout);
    expect(v.model).toBeNull();
    expect(v.runs).toBe(20);
    for (const x of v.results) {
      expect(x.timings.map((t: { peer: string }) => t.peer)).toEqual(['c']);
      expect(x.floor.runs).toBe(20);
      expect(x.ratios['c/floor']).toBeGreaterThan(0);
    }
    expect(prunedet(['bench', outDir, '--only', 'c', '--runs', '200', '--load', 'light']).stderr).not.toMatch(
      /warning/,
    );
  });

  it('the CLI refuses runs that are no whole number from 1, unknown loads and unknown --only', () => {
    expectUserError(
      prunedet(['bench', '.', '--runs', '0']),
      /--runs 0 is not a whole number from 1 to 100,000/,
      expect as never,
    );
    expectUserError(
      prunedet(['bench', '.', '--load', 'light,huge']),
      /unknown load "huge".*use one of light, real, medium, heavy, photos/,
      expect as never,
    );
    expectUserError(
      prunedet(['bench', '.', '--only', 'ts']),
      /--only ts: choose from c, c-portable, c-runtime-anchors, c-int8/,
      expect as never,
    );
  });
});
