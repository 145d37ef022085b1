// The search's fast oracle (pre-ranked candidate lists + a walk) against the reference post-processing with the
// removed anchors suppressed: the same detections, bit for bit, for every kind of cut, NMS and input form.
import { describe, expect, it } from 'vitest';
import { parsePostprocess } from '../../src/postprocess/presets';
import type { PostprocessContext } from '../../src/postprocess/reference';
import { CandidateEvaluator, packTables } from '../../src/search/evaluator';
import {
  buildCandidateList,
  oracleDetections,
  oracleModel,
  selectParams,
  suppressedMask,
} from '../../src/search/oracle';
import { mulberry32 } from '../_support/prng';
import { LEVELS, POSTPROCESS_CASES, synthAnchors, synthInput } from './synthetic';

describe('suppressedMask', () => {
  it('marks every grid position of the removed base anchors, level-major global indices', () => {
    const levels = [
      { h: 1, w: 2, anchorsPerLocation: 3 },
      { h: 2, w: 1, anchorsPerLocation: 2 },
    ];
    // base anchors: level 0 -> 0,1,2; level 1 -> 3,4. Anchor axis: L0 (x0: a0 a1 a2, x1: a0 a1 a2), L1 (y0: a0 a1, y1: a0 a1)
    expect(Array.from(suppressedMask(levels, [1, 4]))).toEqual([0, 1, 0, 0, 1, 0, 0, 1, 0, 1]);
    expect(Array.from(suppressedMask(levels, []))).toEqual(new Array(10).fill(0));
  });
});

const CASES = POSTPROCESS_CASES;

describe('candidate lists reproduce the reference oracle', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const spec = parsePostprocess(c.text);
      const ctx: PostprocessContext = {
        anchors: synthAnchors(LEVELS, spec.anchorFormat),
        levels: LEVELS,
        numClasses: c.classes,
      };
      const om = oracleModel(spec, ctx);
      const inputs = Array.from({ length: 4 }, (_, i) =>
        synthInput({
          numClasses: c.classes,
          spec,
          seed: 100 + i,
          ...(c.form ? { form: c.form } : {}),
          ...(c.quantize ? { quantize: c.quantize } : {}),
          integerBoxes: c.integer === true,
        }),
      );
      const lists = inputs.map((input) => buildCandidateList(om, input));
      const total = LEVELS.reduce((s, l) => s + l.anchorsPerLocation, 0);
      const ev = new CandidateEvaluator({
        tables: packTables(
          lists,
          lists.map((l) => new Float64Array(l.box.length)),
        ),
        select: selectParams(spec, LEVELS.length),
        totalBase: total,
      });
      const rnd = mulberry32(7);
      const sets: number[][] = [[], [0], [total - 1], Array.from({ length: total - 1 }, (_, i) => i + 1)];
      for (let s = 0; s < 40; s++) sets.push(Array.from({ length: total }, (_, i) => i).filter(() => rnd() < 0.35));
      let detections = 0;
      let changed = 0;
      for (const removed of sets) {
        const fast = ev.detections(removed);
        inputs.forEach((input, i) => {
          const ref = oracleDetections(spec, input, ctx, removed);
          expect(fast[i], `image ${i}, removed {${removed.join(', ')}}`).toEqual(ref);
          detections += ref.length;
          if (removed.length && JSON.stringify(ref) !== JSON.stringify(oracleDetections(spec, input, ctx, [])))
            changed++;
        });
      }
      // the cases must exercise something: detections exist and removals change them
      expect(detections).toBeGreaterThan(50);
      expect(changed).toBeGreaterThan(20);
    });
  }

  it('a removed set that suppresses every candidate gives no detections', () => {
    const spec = parsePostprocess('ultraface,score_thr=0.3');
    const ctx: PostprocessContext = { anchors: synthAnchors(LEVELS, spec.anchorFormat), levels: LEVELS, numClasses: 2 };
    const input = synthInput({ numClasses: 2, spec, seed: 3 });
    const list = buildCandidateList(oracleModel(spec, ctx), input);
    const all = [...new Set(list.base)];
    const ev = new CandidateEvaluator({
      tables: packTables([list], [new Float64Array(list.box.length)]),
      select: selectParams(spec, LEVELS.length),
      totalBase: 9,
    });
    expect(all.length).toBeGreaterThan(0);
    expect(ev.detections(all)[0]).toEqual([]);
    expect(oracleDetections(spec, input, ctx, all)).toEqual([]);
  });
});
