// Interrupts and temporary files (src/cleanup.ts): the real CLI is interrupted mid-compile of the full SSD300 (SIGINT,
// SIGTERM: nothing left behind; SIGKILL: the next run removes the dead run's staging folder), mid-bench (its temp
// folder goes), and verify failing on a missing postprocess.c leaves no temp folder. Each child gets its own TMPDIR.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFixture } from '../fixtures/index';
import { saveModel } from '../src/onnx/save';
import { makeTempDir, pidAlive } from '../src/cleanup';
import { compile } from '../src/jobs/compile/index';
import { prunedet } from './_support/cli';
import { buildRunner, hasGcc } from '../src/native/c-runner';

const BIN = resolve(__dirname, '../bin/prunedet.js');
const root = mkdtempSync(join(tmpdir(), 'pd-cleanup-'));
let big = '';
let n = 0;
const fresh = (tag: string) => {
  const d = join(root, `${tag}${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

beforeAll(() => {
  big = join(root, 'ssd300-full.onnx');
  saveModel(buildFixture('ssd300', { backbone: 'full', outputs: 'concat' }), big, { externalData: 'inline' }); // 137 MB
});

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  sawTrigger: boolean;
}

/** Run the CLI with its own TMPDIR; send `sig` as soon as `trigger()` holds (polled every 10 ms). */
function interrupt(
  args: string[],
  env: Record<string, string>,
  trigger: () => boolean,
  sig: NodeJS.Signals,
): Promise<Interrupted> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    let saw = false;
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (!saw && trigger()) {
        saw = true;
        child.kill(sig);
      } else if (Date.now() - t0 > 120_000) {
        child.kill('SIGKILL');
      }
    }, 10);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      done({ code, signal, stderr, sawTrigger: saw });
    });
  });
}

let tiny: Promise<{ model: string; out: string }> | undefined;
/** The tiny-backbone SSD300 compiled once with its C module (for bench and verify). */
function compiledTiny(): Promise<{ model: string; out: string }> {
  tiny ??= (async () => {
    const model = join(fresh('m'), 'ssd300.onnx');
    saveModel(buildFixture('ssd300', { backbone: 'tiny', outputs: 'concat' }), model, { externalData: 'inline' });
    const out = join(fresh('c'), 'out');
    await compile({
      model,
      config: 'configs/ssd300/config_a.py',
      outDir: out,
      emit: ['c'],
      postprocess: 'mmdet-ssd300',
    });
    return { model, out };
  })();
  return tiny;
}

const staging = (dir: string) => readdirSync(dir).filter((f) => f.includes('.staging-'));
/** prunedet's scratch folders in a TMPDIR (other tools, e.g. tsx and gcc, keep their own files there). */
const scratch = (tmp: string) => readdirSync(tmp).filter((f) => f.startsWith('prunedet-'));

describe('interrupts leave nothing behind', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} mid-compile (full SSD300, C emitted): no staging folder, no OUTDIR, no temp files`, async () => {
      const parent = fresh('int');
      const tmp = fresh('tmp');
      const r = await interrupt(
        [
          'compile',
          big,
          '--config',
          'configs/ssd300/config_a.py',
          '--emit',
          'c',
          '--postprocess',
          'mmdet-ssd300',
          '-o',
          join(parent, 'OUT'),
        ],
        { TMPDIR: tmp },
        () => staging(parent).length > 0,
        sig,
      );
      expect(r.sawTrigger, 'the staging folder never appeared').toBe(true);
      expect(r.code).toBe(code);
      expect(r.stderr.trim()).toBe(`prunedet: interrupted by ${sig}; partial outputs and temporary files removed`);
      expect(readdirSync(parent)).toEqual([]);
      expect(scratch(tmp)).toEqual([]);
    });
  }

  it('SIGKILL mid-compile leaves a staging folder; the next run removes it (its pid is gone) and completes', async () => {
    const parent = fresh('kill');
    const args = ['compile', big, '--config', 'configs/ssd300/config_a.py', '-o', join(parent, 'OUT')];
    const r = await interrupt(args, {}, () => staging(parent).length > 0, 'SIGKILL');
    expect(r.signal).toBe('SIGKILL');
    const left = staging(parent);
    expect(left.length, 'SIGKILL cannot be cleaned up after: the stale folder must be there').toBe(1);
    const pid = Number(/staging-(\d+)-/.exec(left[0]!)![1]);
    expect(pidAlive(pid)).toBe(false);
    expect(prunedet(args).code).toBe(0);
    expect(readdirSync(parent)).toEqual(['OUT']);
  });

  it.skipIf(!hasGcc())('SIGINT mid-bench removes its temp folder', async () => {
    const { out } = await compiledTiny();
    const tmp = fresh('tmp');
    const r = await interrupt(
      ['bench', out, '--skip-model', '--runs', '2000'],
      { TMPDIR: tmp },
      () => scratch(tmp).some((f) => f.startsWith('prunedet-bench-')),
      'SIGINT',
    );
    expect(r.sawTrigger).toBe(true);
    expect(r.code).toBe(130);
    expect(scratch(tmp)).toEqual([]);
  });
});

describe('temporary folders are removed on every exit path', () => {
  it.skipIf(!hasGcc())('verify failing on a deleted postprocess.c: exit 2 naming it, no temp folder left', async () => {
    const compiled = await compiledTiny();
    const out = join(fresh('v'), 'out');
    cpSync(compiled.out, out, { recursive: true });
    const model = compiled.model;
    unlinkSync(join(out, 'postprocess.c'));
    const tmp = fresh('tmp');
    const r = await interrupt(['verify', model, out, '--samples', '1'], { TMPDIR: tmp }, () => false, 'SIGINT');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^prunedet: .*postprocess\.c (is missing|does not exist)[^\n]*$/);
    expect(scratch(tmp)).toEqual([]);
    // the C runner itself, handed a module folder without postprocess.c: a user error naming it, its build folder gone
    const before = scratch(tmpdir());
    const shape = {
      prefix: 'pd_x_',
      input: 'concat' as const,
      numClasses: 81,
      levels: [{ h: 1, w: 1, anchorsPerLocation: 1 }],
    };
    expect(() => buildRunner(out, shape)).toThrow(/the emitted C module's .*postprocess\.c does not exist$/);
    expect(scratch(tmpdir())).toEqual(before);
  });

  it("a scratch folder left by a dead process is swept by the next one made; a live process's is kept", () => {
    const dead = 2 ** 22 + 4242; // above Linux's pid_max: no such process
    const stale = join(tmpdir(), `prunedet-bench-${dead}-Ab12Cd`);
    const live = join(tmpdir(), `prunedet-bench-${process.ppid}-Ef34Gh`);
    mkdirSync(stale);
    mkdirSync(live);
    const t = makeTempDir('test');
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    t.release();
    expect(existsSync(t.dir)).toBe(false);
  });
});
