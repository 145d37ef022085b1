// inspect's detector view: the embedded anchor table cross-checked against the generator that should produce it.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { inspectModel } from '../../src/commands/inspect';
import { saveTemp } from '../_support/compile';
import { hasShared, ultraface } from '../_support/shared';

describe('inspect: anchor table cross-check', () => {
  it('an SSD300 export against the paper\'s baseline config: within float rounding; against the wrong one: an error', () => {
    const path = saveTemp(buildFixture('ssd300', { outputs: 'decoded' }));
    const r = inspectModel(path, { baselineConfig: 'configs/ssd300/baseline.py' });
    const check = (r.anchorTable as { check: { maxDifference: number } }).check;
    expect(check.maxDifference).toBeLessThan(1e-4);
    expect(() => inspectModel(path, { baselineConfig: 'configs/retinanet/baseline.py' })).toThrow(/do not fit the model/);
  });

  it.skipIf(!hasShared)('ultraface: the embedded priors are the Ultra-Light min-size priors', () => {
    const r = inspectModel(ultraface('version-RFB-320.onnx'), { postprocess: 'ultraface' });
    const check = (r.anchorTable as { check: { generator: string; maxDifference: number } }).check;
    expect(check.generator).toBe('Ultra-Light min-size priors');
    expect(check.maxDifference).toBeLessThan(1e-6);
  });
});
