// Compiling and running C in a temporary folder for the emitted-C tests. Tests that need gcc use
// `describe.skipIf(!hasGcc)`; the reason is logged once when gcc is missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrunedetError } from '../../src/errors';

function probe(): boolean {
  const r = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

export const hasGcc = probe();
if (!hasGcc) console.warn('[prunedet tests] gcc not found on PATH: tests that compile the emitted C are skipped');

/** Warnings are errors: the emitted C must compile cleanly as C99. */
export const STRICT_FLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-ffp-contract=off'];
export const O2_FLAGS = [...STRICT_FLAGS, '-O2'];
export const SANITIZE_FLAGS = [
  ...STRICT_FLAGS,
  '-O1',
  '-g',
  '-fno-omit-frame-pointer',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
];

/** A fresh folder under the system temp dir; remove it with `dispose`. */
export function tempDir(prefix = 'prunedet-c-'): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(dir: string, files: { name: string; text: string | Uint8Array }[]): void {
  for (const f of files) writeFileSync(join(dir, f.name), f.text);
}

/** gcc `sources` (relative to dir) into dir/out with `flags` (+ -lm); throws with gcc's output on failure. */
export function compile(dir: string, sources: string[], out: string, flags: string[]): string {
  if (!hasGcc) throw new PrunedetError('E_TOOLCHAIN', 'gcc is not on PATH', 'install gcc to build the emitted C');
  const exe = join(dir, out);
  const r = spawnSync('gcc', [...flags, ...sources, '-o', exe, '-lm'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${flags.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return exe;
}

/** Run a program; throws unless it exits 0 (sanitizer reports end up in the message). */
export function run(exe: string, args: string[], cwd?: string): string {
  const r = spawnSync(exe, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  if (r.status !== 0) throw new Error(`${exe} exited with ${r.status ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
