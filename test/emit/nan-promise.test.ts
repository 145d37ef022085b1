// The emitted header's promise about NaN, checked against the compiled code: a candidate whose box deltas are NaN
// comes out with NaN coordinates even where the header promises clipping (clipping leaves NaN as NaN), exactly as the
// reference does, and the header says so.
import { afterAll, describe, expect, it } from 'vitest';
import { postprocess } from '../../src/postprocess/reference';
import { hasGcc } from '../_support/gcc';
import { contextOf, detectorOutputs, inputOf, makePlan, SSD300_LEVELS } from './fixtures';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

describe.skipIf(!hasGcc)('NaN box deltas', () => {
  for (const preset of ['mmdet-ssd300', 'ultraface'] as const) {
    it(`${preset}: the header's NaN line describes what the code does`, () => {
      const plan = makePlan({
        spec: preset,
        levels: SSD300_LEVELS.slice(0, 3),
        numClasses: preset === 'ultraface' ? 2 : 81,
        candidateCap: 1000,
      });
      const m = buildModule(plan);
      built.push(m);
      const header = m.files.find((f) => f.name === 'postprocess.h')!.text;
      const clip = plan.spec.clip;
      expect(header).toContain(
        'NaN:        a NaN score is never a candidate; a candidate whose box input holds a NaN gets NaN coordinates',
      );
      expect(header.includes('clipping leaves NaN as NaN')).toBe(clip !== undefined);
      if (clip) expect(header).toContain(`boxes clipped to [0, ${clip[0]}] x [0, ${clip[1]}]`);

      const out = detectorOutputs(plan, 31, 8);
      const clean = m.run(out);
      expect(clean.detections.length).toBeGreaterThan(1);
      const victim = clean.detections[0]!.anchor;
      out.boxes.fill(NaN, 4 * victim, 4 * victim + 4);
      const got = m.run(out);
      const want = postprocess(plan.spec, inputOf(plan, out), contextOf(plan));
      expectSameDetections(got.detections, want);
      const hit = got.detections.find((d) => d.anchor === victim);
      expect(hit, 'the candidate with NaN deltas is still reported (its score passed)').toBeDefined();
      expect(hit!.box.every((v) => Number.isNaN(v))).toBe(true);
      for (const d of got.detections.filter((x) => x.anchor !== victim)) {
        for (const [i, v] of d.box.entries()) if (clip) expect(v >= 0 && v <= clip[i % 2]!).toBe(true);
      }
    });
  }
});
