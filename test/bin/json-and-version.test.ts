// `--version`, `passes --json`, and errors as JSON on stderr when --json is given (exit codes unchanged).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PASSES, DEFAULT_PIPELINE } from '../../passes/index';
import { prunedet } from '../_support/cli';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** stderr holds exactly one line, a JSON object {error: {code, message, fix}}. */
function jsonError(stderr: string): { code: string; message: string; fix: string | null } {
  const lines = stderr.trim().split('\n');
  expect(lines.length, stderr).toBe(1);
  const v = JSON.parse(lines[0]!) as { error: { code: string; message: string; fix: string | null } };
  expect(Object.keys(v.error).sort()).toEqual(['code', 'fix', 'message']);
  return v.error;
}

describe('prunedet --version', () => {
  it("prints package.json's version", () => {
    const r = prunedet(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('prunedet passes --json', () => {
  it('lists every pass with its summary and whether the default pipeline runs it', () => {
    const r = prunedet(['passes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as {
      passes: { name: string; summary: string; default: boolean }[];
      defaultPipeline: string[];
    };
    expect(v.passes.map((p) => p.name)).toEqual(PASSES.map((p) => p.name));
    expect(v.passes.every((p) => p.summary.length > 0)).toBe(true);
    expect(v.defaultPipeline).toEqual([...DEFAULT_PIPELINE]);
    expect(
      v.passes
        .filter((p) => p.default)
        .map((p) => p.name)
        .sort(),
    ).toEqual([...DEFAULT_PIPELINE].sort());
  });
});

describe('--json errors', () => {
  it('a user error: one JSON line on stderr with the code, the message and the fix; exit 2; nothing on stdout', () => {
    const r = prunedet(['compile', '/nonexistent/m.onnx', '--remove', '1', '-o', '/nonexistent/out', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const e = jsonError(r.stderr);
    expect(e.code).toBe('E_FILE_NOT_FOUND');
    expect(e.message).toMatch(/m\.onnx does not exist/);
    expect(e.fix).toMatch(/check the path/);
  });

  it('a usage error yargs reports before any handler runs is JSON too', () => {
    const r = prunedet(['compile', 'm.onnx', '--json']);
    expect(r.code).toBe(2);
    const e = jsonError(r.stderr);
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/Missing required argument: o/);
  });

  it('without --json the same error stays one text line', () => {
    const r = prunedet(['compile', '/nonexistent/m.onnx', '--remove', '1', '-o', '/nonexistent/out']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^prunedet: \/nonexistent\/m\.onnx does not exist; check the path\n$/);
  });
});
