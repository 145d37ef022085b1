// Acceptance of verify on the real Ultra-Light face detectors of ../shared: the issue's RFB-320 command passes with
// every check conclusive and the boxes tolerance shown with its origin; a head bias moved by more than the derived
// tolerance fails naming output, input, anchor, error and tolerance; random inputs compare detections on every level
// that keeps anchors, for every shared model.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/jobs/verify/index';
import { nudgeHeadConv } from '../_support/edit-model';
import { compileTemp } from '../_support/compile';
import { prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';
import { FACES, hasShared, ultraface } from '../_support/shared';

const MODEL = ultraface('version-RFB-320_without_postprocessing.onnx');

describe.skipIf(!hasShared)('verify on ultraface RFB-320 (fold-batchnorm re-rounds 35 convs)', () => {
  const root = mkdtempSync(join(tmpdir(), 'pd-verify-uf-'));
  const out = join(root, 'x');
  beforeAll(() => {
    const c = prunedet([
      'compile',
      MODEL,
      '--remove',
      '2,4,6,9',
      '--emit',
      'c',
      '--postprocess',
      'ultraface',
      '-o',
      out,
    ]);
    expect(c.code).toBe(0);
  });

  it("the issue's command: exit 0, every check conclusive, the boxes tolerance shown with its origin", () => {
    const r = prunedet(['verify', MODEL, out, '--images', FACES]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\(a\) tensors, compiled vs original at the 2,820 kept anchors, 24 inputs — pass$/m);
    expect(r.stdout).toMatch(/^boxes +270,720 +≤ \S+ /m);
    expect(r.stdout).toMatch(
      /^ {4}boxes: tolerance from prune-anchors sliced 4 convs \(the runtime may sum the kept channels in another order\), fold-batchnorm re-rounded 35 convs: per head-conv channel, ‖W‖₁·\(input difference \+ rounding\)$/m,
    );
    expect(r.stdout).toMatch(
      /^ {4}sliced parameters: 8 convs, [\d,]+ weights and biases vs the original's kept channels, bit for bit: equal$/m,
    );
    expect(r.stdout).toMatch(/^\(b\) detections, .* — pass$/m);
    expect(r.stdout).toMatch(
      /per level \(from the 24 inputs \+ from 2 planted head outputs\): [1-9]\d*\+[1-9]\d* · \d+\+[1-9]\d* · \d+\+[1-9]\d* · \d+\+[1-9]\d*$/m,
    );
    if (hasGcc)
      expect(r.stdout).toMatch(/^\(c\) C module vs the TypeScript reference, bit for bit — pass \(26 runs, /m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('verify: equivalent');
    expect(r.stdout.split('\n').length).toBeLessThanOrEqual(24); // one screen
  });

  it('a kept head bias moved by more than the derived tolerance: exit 1 naming output, input, anchor, error and tolerance', async () => {
    const base = await verify({ original: MODEL, outDir: out, samples: 2, skipC: true });
    expect(base.status).toBe('equivalent');
    const boxes = base.checks.tensors.outputs.find((o) => o.name === 'boxes')!;
    expect(boxes.tolerance.kind).toBe('derived');
    expect(boxes.tolerance.max).toBeGreaterThan(boxes.maxAbsError);
    const dir = join(root, 'moved');
    cpSync(out, dir, { recursive: true });
    nudgeHeadConv(join(dir, 'model.onnx'), 2, 'boxes', 2, 1, 2 * boxes.tolerance.max);
    const r = prunedet(['verify', MODEL, dir, '--samples', '2', '--skip-c']);
    expect(r.code).toBe(1);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const m2 = last.match(
      /^verify: MISMATCH — input 0 \(random #0\): output boxes at compiled anchor (\d+) \(original anchor (\d+), level 2\), value 1: got \S+, expected \S+, error (\S+) > tolerance (\S+)$/,
    );
    expect(m2, last).not.toBeNull();
    expect(Number(m2![3])).toBeGreaterThan(Number(m2![4]));
    expect(Number(m2![3])).toBeCloseTo(2 * boxes.tolerance.max, 3);
  });

  it('--atol/--rtol replace the derived tolerance (and say so)', async () => {
    const r = await verify({
      original: MODEL,
      outDir: out,
      samples: 1,
      skipC: true,
      tolerances: { byOutput: { boxes: { atol: 1e-9 } } },
    });
    const boxes = r.checks.tensors.outputs.find((o) => o.name === 'boxes')!;
    expect(boxes.tolerance).toMatchObject({ kind: 'override', atol: 1e-9, rtol: 0, max: 1e-9 });
    expect(boxes.overTolerance).toBeGreaterThan(0); // fold-batchnorm's legitimate rounding is more than 1e-9
    expect(r.status).toBe('mismatch');
    expect(r.checks.tensors.outputs.find((o) => o.name === 'scores')!.tolerance.kind).toBe('derived');
  });

  it("--cut-head of the export that decodes in the graph: the C module keeps the graph's anchor table, bit for bit", async () => {
    const model = ultraface('version-RFB-320.onnx');
    const { outDir } = await compileTemp(model, {
      remove: '2,4,6,9',
      postprocess: 'ultraface',
      emit: ['c'],
      cutHead: true,
    });
    const r = await verify({ original: model, outDir, images: FACES, samples: 3 });
    expect(r.status).toBe('equivalent');
    expect(r.checks.detections.inputs.detections).toBeGreaterThan(0);
    if (hasGcc) expect(r.checks.cModule).toMatchObject({ status: 'pass', runs: 5 });
  });

  it('random inputs compare detections on every level that keeps anchors, for every shared ultraface model', async () => {
    for (const name of [
      'version-RFB-320.onnx',
      'version-RFB-320_without_postprocessing.onnx',
      'version-slim-320.onnx',
      'version-slim-320_simplified.onnx',
    ]) {
      const model = ultraface(name);
      const { outDir } = await compileTemp(model, { remove: '0,4,6,8', postprocess: 'ultraface', emit: ['c'] });
      const r = await verify({ original: model, outDir, samples: 2, skipC: true });
      expect(r.status, name).toBe('equivalent');
      expect(r.inputs.source).toBe('random');
      const levels = r.checks.detections.levels;
      expect(levels.map((l) => l.keptAnchors.length)).toEqual([2, 1, 1, 2]);
      for (const l of levels)
        expect(l.detections.inputs + l.detections.planted, `${name} level ${l.level}`).toBeGreaterThan(0);
    }
  });
});
