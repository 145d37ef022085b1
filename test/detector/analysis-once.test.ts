// One detector analysis per model state: a compile analyses the model as given and the compiled model, nothing in
// between, and prune-anchors reads the head region and trace the analysis kept instead of tracing the head again. The
// counters in src/detector/region.ts make the claim countable; the negative cases show the runner does re-analyse.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { Tensor } from '../../src/ir/tensor';
import { analysisRuns } from '../../src/detector/region';
import { analyzeModel } from '../../src/detector/index';
import { runPipeline, stepOf, type Pass } from '../../src/pipeline';
import { pruneAnchors } from '../../passes/prune-anchors';
import { eliminateDead } from '../../passes/eliminate-dead';
import { compileTemp, saveTemp } from '../_support/compile';

const counted = async <T>(f: () => Promise<T> | T): Promise<{ value: T; analyses: number; traces: number }> => {
  const a = analysisRuns.analyses;
  const t = analysisRuns.traces;
  const value = await f();
  return { value, analyses: analysisRuns.analyses - a, traces: analysisRuns.traces - t };
};

/** A pass that adds an initializer nothing reads: "changed", and silent about the analysis. */
const touch: Pass = {
  name: 'touch',
  summary: 'test pass',
  run: (graph) => {
    graph.addInitializer('touch_unused', Tensor.fromFloat32([1], new Float32Array(1)));
    return { changed: true, stats: {}, rounding: [] };
  },
};

describe('analysis once', () => {
  for (const kind of ['ssd300', 'ssdlite'] as const) {
    it(`a default compile of ${kind} analyses twice (the model as given, the compiled model) and traces twice`, async () => {
      const path = saveTemp(buildFixture(kind, { backbone: 'tiny' }));
      const { value, analyses, traces } = await counted(() => compileTemp(path, { remove: '0' }));
      expect(value.report.passes.filter((p) => p.changed).length).toBeGreaterThan(1); // several passes changed the graph
      expect(analyses).toBe(2); // was 4 (SSD300) and 5 (SSDLite) before the analysis was carried
      expect(traces).toBe(2); // was 5 and 6: prune-anchors traced the head again
    });
  }

  it('the runner re-analyses only after a pass that invalidated the analysis, and only when read', async () => {
    const model = buildFixture('ssd300', { backbone: 'tiny' });
    const initial = analyzeModel(model);
    const kept = initial.spec.levels.map(() => [0]);
    // prune-anchors invalidates: the next reader (prune-anchors keeping every remaining anchor) gets one analysis;
    // eliminate-dead preserves it: the reader after it gets the same one.
    const all = kept.map(() => [0]);
    const steps = [
      stepOf(pruneAnchors, { kept }),
      stepOf(pruneAnchors, { kept: all }),
      stepOf(eliminateDead, undefined),
      stepOf(pruneAnchors, { kept: all }),
    ];
    const run = await counted(() => runPipeline(model, steps, { initial }));
    expect(run.value.steps.map((s) => [s.pass, s.changed, s.analysis])).toEqual([
      ['prune-anchors', true, 'invalidated'],
      ['prune-anchors', false, undefined],
      ['eliminate-dead', true, 'preserved'],
      ['prune-anchors', false, undefined],
    ]);
    expect(run.analyses).toBe(1);
    // the final state is the one already analysed: reading it costs nothing more
    const final = await counted(() => [run.value.spec(), run.value.spec()]);
    expect(final.analyses).toBe(0);
    expect(final.value[0]!.boxes).toBe(initial.spec.levels.reduce((s, l) => s + l.featureMap[0] * l.featureMap[1], 0));
  });

  it('a changed graph whose pass says nothing about the analysis is re-analysed before a pass that reads it', async () => {
    const model = buildFixture('ssd300', { backbone: 'tiny' });
    const initial = analyzeModel(model);
    const kept = initial.spec.levels.map(() => [0]);
    const run = await counted(() =>
      runPipeline(model, [stepOf(touch, undefined), stepOf(pruneAnchors, { kept })], { initial }),
    );
    expect(run.analyses).toBe(1);
    expect(run.traces).toBe(1);
  });
});
