// `prunedet verify` (and bench's original check) through the real bin: bad input is one line and exit 2; a
// toolchain-less PATH is inconclusive (exit 3), --skip-c says "C module not checked"; a change below 1e-5 in an
// output only slicing reaches fails (bit for bit).
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { readCompileReport, validateCompileReport } from '../../src/artefacts/report';
import { PrunedetError } from '../../src/errors';
import { parseCount, parseToleranceFlags } from '../../src/flags';
import { verify } from '../../src/jobs/verify/index';
import { nudgeHeadConv } from '../_support/edit-model';
import { compileTemp, saveTemp } from '../_support/compile';
import { expectUserError, prunedet } from '../_support/cli';
import { hasGcc } from '../_support/gcc';

const root = mkdtempSync(join(tmpdir(), 'pd-verify-cli-'));
const model = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192] }));
const other = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192], seed: 5 }));
let outDir: string;

beforeAll(async () => {
  outDir = (
    await compileTemp(model, { config: 'configs/retinanet/pruned.py', emit: ['c'], postprocess: 'mmdet-retinanet' })
  ).outDir;
});

/** A copy of OUTDIR whose report.json is `edit`(the parsed report), or the given text. */
function withReport(name: string, edit: ((r: Record<string, any>) => unknown) | string): string {
  const dir = join(root, name);
  cpSync(outDir, dir, { recursive: true });
  const path = join(dir, 'report.json');
  writeFileSync(path, typeof edit === 'string' ? edit : JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')))));
  return dir;
}

describe('verify: bad input is one line, exit 2', () => {
  it.each([
    [['--samples', '0'], /--samples 0 is not a whole number from 1 to 1000/],
    [['--samples', '1001'], /--samples 1001 is not a whole number from 1 to 1000/],
    [['--samples', 'many'], /--samples many is not a whole number/],
    [['--atol', 'big'], /--atol big is not a number >= 0/],
  ])('flags %j', (flags, pattern) => {
    expectUserError(prunedet(['verify', model, outDir, ...flags]), pattern, expect);
  });

  it('flag parsing: whole numbers, tolerances global or per output', () => {
    expect(() => parseCount('--samples', '2.5')).toThrow(/--samples 2\.5 is not a whole number/);
    expect(() => parseToleranceFlags([], ['scores:-1'])).toThrow(/--rtol scores:-1 is not a number >= 0/);
    expect(parseToleranceFlags(['1e-4', 'boxes:1e-3'], ['scores:0.01'])).toEqual({
      all: { atol: 1e-4 },
      byOutput: { boxes: { atol: 1e-3 }, scores: { rtol: 0.01 } },
    });
    expect(parseToleranceFlags([], [])).toBeUndefined();
  });

  it('an ORIGINAL that is not the compiled model: both hashes shown, for verify and for bench', () => {
    const hashes =
      /has sha256 [0-9a-f]{64}, but .*report\.json was compiled from .* with sha256 [0-9a-f]{64}; pass the model OUTDIR was compiled from/;
    expectUserError(prunedet(['verify', other, outDir]), hashes, expect);
    expectUserError(prunedet(['bench', outDir, '--original', other, '--skip-model']), hashes, expect);
  });

  it.each([
    ['null', 'null', /report\.json is null, not a compile report/],
    ['an array', '[]', /report\.json is an array, not a compile report/],
    ['no config.kept', (r: Record<string, any>) => (delete r.config.kept, r), /report\.json: config\.kept is missing/],
  ])('report.json %s', (name, edit, pattern) => {
    expectUserError(prunedet(['verify', model, withReport(name.replace(/\W+/g, '-'), edit)]), pattern, expect);
  });

  it.each([
    ['not JSON', '{"tool": ', /report\.json is not valid JSON/],
    [
      'config.kept of strings',
      (r: Record<string, any>) => ((r.config.kept[1] = ['0']), r),
      /report\.json: config\.kept\[1\]\[0\] is string "0", not a whole number >= 0/,
    ],
    [
      'no model.sha256',
      (r: Record<string, any>) => (delete r.model.sha256, r),
      /report\.json: model\.sha256 is missing/,
    ],
    [
      'a short featureMaps',
      (r: Record<string, any>) => (r.featureMaps.pop(), r),
      /report\.json: featureMaps has 4 levels but config\.kept has 5/,
    ],
    [
      'passes not an array',
      (r: Record<string, any>) => ((r.passes = {}), r),
      /report\.json: passes is an object, not an array/,
    ],
    [
      'an unknown rounding kind',
      (r: Record<string, any>) => ((r.passes[0].rounding = [{ value: 'x', how: 'magic' }]), r),
      /report\.json: passes\[0\]\.rounding\[0\]\.how is string "magic", not one of batchnorm-folded, constant-folded/,
    ],
    [
      'a C module without its symbol prefix',
      (r: Record<string, any>) => (delete r.postprocess.symbolPrefix, r),
      /report\.json: postprocess\.symbolPrefix is missing/,
    ],
  ])('report.json %s (the reader verify and bench share)', (name, edit, pattern) => {
    const dir = withReport(name.replace(/\W+/g, '-'), edit);
    let err: unknown;
    try {
      readCompileReport(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PrunedetError);
    expect((err as PrunedetError).code).toBe('E_REPORT');
    expect((err as PrunedetError).oneLine()).toMatch(pattern);
  });

  it('a C module listed in report.json but missing from OUTDIR', () => {
    const dir = withReport('no-c', (r) => r);
    rmSync(join(dir, 'postprocess.c'));
    expectUserError(
      prunedet(['verify', model, dir]),
      /report\.json lists the C module but .*postprocess\.c is missing; recompile with --emit c, or pass --skip-c/,
      expect,
    );
  });

  it('a report.json of an older prunedet (no rounding records) is still verified, counting every conv as re-rounded', async () => {
    const dir = withReport('older', (r) => (r.passes.forEach((p: Record<string, unknown>) => delete p.rounding), r));
    const res = await verify({ original: model, outDir: dir, samples: 1, skipC: true });
    expect(res.status).toBe('equivalent');
    expect(res.checks.tensors.outputs[0]!.tolerance).toMatchObject({
      kind: 'derived',
      origin: expect.stringMatching(
        /prune-anchors, eliminate-dead.* recorded no rounding changes \(report\.json of an older prunedet: every conv counted\)/,
      ),
    });
  });

  it('the report compile writes passes the validation', () => {
    const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    expect(validateCompileReport(report, 'report.json')).toBe(report);
  });
});

describe.skipIf(!hasGcc)('verify without gcc', () => {
  const bin = mkdtempSync(join(tmpdir(), 'pd-nogcc-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  const env = { ...process.env, PATH: bin };

  it('is inconclusive (exit 3) and says what to do; --json has the status', () => {
    const r = prunedet(['verify', model, outDir, '--samples', '1'], { env });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/\(c\) C module .* — INCONCLUSIVE/);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(
      /^verify: INCONCLUSIVE \(exit 3\) — gcc is not on PATH, so the emitted C module was not built: install gcc .*, or pass --skip-c/,
    );
    const j = prunedet(['verify', model, outDir, '--samples', '1', '--json'], { env });
    expect(j.code).toBe(3);
    const res = JSON.parse(j.stdout);
    expect(res).toMatchObject({
      schema: 'prunedet.verify/1',
      status: 'inconclusive',
      exitCode: 3,
      checks: {
        tensors: { status: 'pass' },
        detections: { status: 'pass' },
        cModule: { status: 'inconclusive', runs: 0 },
      },
    });
  });

  it('with --skip-c: exit 0, "C module not checked"', () => {
    const r = prunedet(['verify', model, outDir, '--samples', '1', '--skip-c'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('verify: equivalent; C module not checked');
  });
});

describe('slicing is checked exactly', () => {
  it('a kept score bias moved by 4e-6 fails although the output moves by less than 1e-5', async () => {
    const dir = join(root, 'nudged');
    cpSync(outDir, dir, { recursive: true });
    nudgeHeadConv(join(dir, 'model.onnx'), 0, 'scores', 2, 0, 4e-6);
    const r = prunedet(['verify', model, dir, '--samples', '1', '--skip-c', '--json']);
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    const scores = res.checks.tensors.outputs.find((o: { name: string }) => o.name === 'scores');
    expect(scores.maxAbsError).toBeGreaterThan(0);
    expect(scores.maxAbsError).toBeLessThan(1e-5);
    expect(res.checks.tensors.parameters.mismatches).toBeGreaterThanOrEqual(1); // the levels share the sliced bias
    expect(res.advice).toMatch(
      /^level 1 head conv .*: bias of compiled channel 0 \(original channel \d+\) is \S+, the original's \S+: slicing cannot explain it$/,
    );
  });
});
