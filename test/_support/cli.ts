// Spawning the real `prunedet` bin, as a user would, and hashing files to prove inputs stay untouched.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const BIN = resolve(__dirname, '../../bin/prunedet.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function prunedet(
  args: string[],
  opts: { cwd?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd,
    timeout: opts.timeout ?? 300_000,
    ...(opts.env ? { env: opts.env } : {}),
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The user-error contract: exit 2, exactly one stderr line starting `prunedet: `, no stack trace. */
export function expectUserError(
  r: CliResult,
  pattern: RegExp,
  expect: (v: unknown) => { toBe(x: unknown): void; toMatch(x: RegExp): void; toEqual(x: unknown): void },
): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^prunedet: /);
  expect(lines[0]).toMatch(pattern);
  expect(/\n\s+at /.test(r.stderr)).toBe(false);
}
