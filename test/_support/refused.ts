// Asserting a user error: what `f` throws (or its promise rejects with) is a PrunedetError with `code`, and the one
// line the CLI would print for it matches `pattern`.
import { expect } from 'vitest';
import { PrunedetError } from '../../src/errors';

function check(err: unknown, code: string, pattern: RegExp | undefined): PrunedetError {
  expect(err, 'not refused').toBeInstanceOf(PrunedetError);
  const e = err as PrunedetError;
  expect(e.code).toBe(code);
  if (pattern) expect(e.oneLine()).toMatch(pattern);
  expect(e.oneLine()).not.toMatch(/\n/);
  return e;
}

export function refused(f: () => unknown, code: string, pattern?: RegExp): PrunedetError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  return check(err, code, pattern);
}

export async function refusedAsync(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<PrunedetError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  return check(err, code, pattern);
}
