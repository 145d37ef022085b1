// The output-safety rule of src/fs.ts, on crafted folders: what checkOutput refuses (before anything is written) and
// what writeOutputDir / claimOutputDir leave behind (the marker, no stale files, no staging folders).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { refused } from './_support/refused';
import {
  OUTPUT_MARKER,
  checkOutput,
  claimOutputDir,
  readOutputMarker,
  writeOutputDir,
  type CheckOutputOptions,
} from '../src/fs';

const root = mkdtempSync(join(tmpdir(), 'pd-fs-'));
let n = 0;
const fresh = () => {
  const d = join(root, `c${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const rule = (inputs: string[], extra: Partial<CheckOutputOptions> = {}): CheckOutputOptions => ({
  command: 'compile',
  kind: 'dir',
  inputs,
  ...extra,
});

describe('checkOutput refuses, before writing, an output that would replace or live inside an input', () => {
  it('an output folder equal to, holding, or inside an input', () => {
    const d = fresh();
    const model = join(d, 'm.onnx');
    writeFileSync(model, 'x');
    mkdirSync(join(d, 'images'));
    refused(
      () => checkOutput(d, rule([model])),
      'E_OUTPUT',
      /holds the input .*m\.onnx; prunedet replaces its output folder as a whole/,
    );
    refused(
      () => checkOutput(join(d, 'images'), rule([join(d, 'images')])),
      'E_OUTPUT',
      /is the input .*images; prunedet never writes over its inputs/,
    );
    refused(
      () => checkOutput(join(d, 'images', 'out'), rule([join(d, 'images')])),
      'E_OUTPUT',
      /lies inside the input .*images/,
    );
    refused(() => checkOutput(join(model, 'out'), rule([model])), 'E_OUTPUT', /lies inside the input .*m\.onnx/);
    expect(readdirSync(d).sort()).toEqual(['images', 'm.onnx']);
  });

  it('through a link: an output that is a link to the model folder', () => {
    const d = fresh();
    writeFileSync(join(d, 'm.onnx'), 'x');
    const link = join(fresh(), 'link');
    symlinkSync(d, link);
    refused(() => checkOutput(link, rule([join(d, 'm.onnx')])), 'E_OUTPUT', /holds the input/);
  });

  it("an empty name, the current folder and its ancestors, the home folder, a file's child", () => {
    refused(() => checkOutput('', rule([])), 'E_USAGE', /-o '' names no output folder/);
    refused(() => checkOutput('  ', rule([])), 'E_USAGE', /names no output folder/);
    refused(() => checkOutput('.', rule([])), 'E_OUTPUT', /-o \. would replace the current folder/);
    refused(
      () => checkOutput('/', rule([], { force: true })),
      'E_OUTPUT',
      /would replace \/, which holds the current folder/,
    );
    const d = fresh();
    writeFileSync(join(d, 'f'), 'x');
    refused(
      () => checkOutput(join(d, 'f', 'out'), rule([])),
      'E_OUTPUT',
      /cannot be created: .*f is a file, not a folder/,
    );
    refused(() => checkOutput(join(d, 'f'), rule([])), 'E_OUTPUT', /exists and is not a folder/);
  });

  it('a non-empty folder prunedet did not make needs --force; its own (marker) or an empty one does not', () => {
    const d = fresh();
    writeFileSync(join(d, 'notes.txt'), 'mine');
    refused(
      () => checkOutput(d, rule([])),
      'E_OUTPUT',
      /is a non-empty folder prunedet did not make \(1 entries: notes\.txt\); choose a new or empty folder, or pass --force/,
    );
    expect(checkOutput(d, rule([], { force: true })).state).toBe('forced');
    writeFileSync(join(d, OUTPUT_MARKER), '{"tool":"prunedet","command":"compile"}');
    expect(checkOutput(d, rule([])).state).toBe('own');
    writeFileSync(join(d, OUTPUT_MARKER), 'not json');
    refused(() => checkOutput(d, rule([])), 'E_OUTPUT', /did not make/);
    expect(checkOutput(fresh(), rule([])).state).toBe('empty');
    expect(checkOutput(join(fresh(), 'new', 'deeper'), rule([])).state).toBe('absent');
  });

  it('a file output: a folder is refused; an existing file needs --force unless prunedet made it', () => {
    const d = fresh();
    const f = join(d, 'model.onnx');
    writeFileSync(f, 'precious');
    const file = (extra: Partial<CheckOutputOptions> = {}) =>
      checkOutput(f, { command: 'synth', kind: 'file', inputs: [], ...extra });
    refused(() => file(), 'E_OUTPUT', /exists and prunedet did not make it; choose a new file name, or pass --force/);
    expect(file({ force: true }).state).toBe('forced');
    expect(file({ ownsFile: () => true }).state).toBe('own');
    refused(() => checkOutput(d, { command: 'synth', kind: 'file', inputs: [] }), 'E_OUTPUT', /is a folder/);
    expect(readFileSync(f, 'utf8')).toBe('precious');
  });
});

describe('writeOutputDir replaces the folder as a whole', () => {
  it('no stale file survives; the marker says prunedet made it; no staging folder is left', async () => {
    const parent = fresh();
    const out = join(parent, 'OUT');
    await writeOutputDir(checkOutput(out, rule([])), (stage) => {
      writeFileSync(join(stage, 'model.onnx'), '1');
      writeFileSync(join(stage, 'postprocess.c'), 'old');
    });
    await writeOutputDir(checkOutput(out, rule([])), (stage) => writeFileSync(join(stage, 'model.onnx'), '2'));
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'model.onnx']);
    expect(readFileSync(join(out, 'model.onnx'), 'utf8')).toBe('2');
    expect(readOutputMarker(out)).toEqual({ tool: 'prunedet', command: 'compile' });
    expect(readdirSync(parent)).toEqual(['OUT']);
  });

  it('a failing fill leaves the earlier output untouched and no staging folder', async () => {
    const parent = fresh();
    const out = join(parent, 'OUT');
    await writeOutputDir(checkOutput(out, rule([])), (stage) => writeFileSync(join(stage, 'a'), '1'));
    await expect(
      writeOutputDir(checkOutput(out, rule([])), (stage) => {
        writeFileSync(join(stage, 'b'), '2');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'a']);
    expect(readdirSync(parent)).toEqual(['OUT']);
  });

  it('stale staging and moved-aside folders of a dead process are swept; a live one is kept', async () => {
    const parent = fresh();
    const out = join(parent, 'OUT');
    const dead = 2 ** 22 + 12345; // above pid_max on Linux: no such process
    mkdirSync(join(parent, `.OUT.staging-${dead}-abc123`));
    writeFileSync(join(parent, `.OUT.staging-${dead}-abc123`, 'model.onnx'), 'half');
    mkdirSync(join(parent, `.OUT.staging-${process.ppid}-live00`));
    // a replacement killed between its two renames: the old output is restored, then replaced
    mkdirSync(join(parent, `.OUT.old-${dead}-zzz999`));
    writeFileSync(join(parent, `.OUT.old-${dead}-zzz999`, 'old.txt'), 'old');
    await writeOutputDir(checkOutput(out, rule([])), (stage) => writeFileSync(join(stage, 'new.txt'), 'new'));
    expect(readdirSync(parent).sort()).toEqual([`.OUT.staging-${process.ppid}-live00`, 'OUT']);
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'new.txt']);
  });
});

describe('claimOutputDir (search works in place)', () => {
  it('creates the folder with the marker; abandon removes it only while it holds nothing', () => {
    const out = join(fresh(), 'S');
    const t = checkOutput(out, { command: 'search', kind: 'dir', inputs: [] });
    const c = claimOutputDir(t);
    expect(readOutputMarker(out)?.command).toBe('search');
    mkdirSync(join(out, 'cache'));
    c.abandon();
    expect(existsSync(out)).toBe(false);
    const c2 = claimOutputDir(checkOutput(out, { command: 'search', kind: 'dir', inputs: [] }));
    writeFileSync(join(out, 'search-state.json'), '{}');
    c2.abandon();
    expect(existsSync(join(out, 'search-state.json'))).toBe(true);
  });

  it("keeps search's own earlier output (resume), replaces another command's", () => {
    const out = join(fresh(), 'S');
    claimOutputDir(checkOutput(out, { command: 'search', kind: 'dir', inputs: [] })).keep();
    writeFileSync(join(out, 'search-state.json'), '{}');
    claimOutputDir(checkOutput(out, { command: 'search', kind: 'dir', inputs: [] })).keep();
    expect(existsSync(join(out, 'search-state.json'))).toBe(true);
    const compiled = join(fresh(), 'C');
    mkdirSync(compiled);
    writeFileSync(join(compiled, OUTPUT_MARKER), '{"tool":"prunedet","command":"compile"}');
    writeFileSync(join(compiled, 'model.onnx'), 'x');
    claimOutputDir(checkOutput(compiled, { command: 'search', kind: 'dir', inputs: [] })).keep();
    expect(readdirSync(compiled)).toEqual([OUTPUT_MARKER]);
  });
});
