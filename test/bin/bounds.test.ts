// Resource bounds reached from the command line, each refused with one line and exit 2 before the work starts.
import { describe, expect, it } from 'vitest';
import { bench } from '../../src/jobs/bench/index';
import { PrunedetError } from '../../src/errors';
import { LIMITS } from '../../src/limits';
import { expectUserError, prunedet } from '../_support/cli';

describe('bench --runs is bounded', () => {
  it('1e12, 1e308, Infinity, 2^31 and 1.5 are refused before anything is read', async () => {
    for (const runs of [1e12, 1e308, Infinity, 2 ** 31, 200.5]) {
      const err = await bench({ outDir: '/nonexistent', runs }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PrunedetError);
      expect((err as PrunedetError).oneLine()).toMatch(
        new RegExp(
          `--runs ${String(runs).replace('+', '\\+')} is not a whole number from 1 to ${LIMITS.benchRuns.toLocaleString('en-US')}`,
        ),
      );
    }
  });

  it('through the CLI: one line, exit 2, in well under the time one run would take', () => {
    const t0 = Date.now();
    expectUserError(
      prunedet(['bench', '/nonexistent', '--runs', '1e12']),
      /--runs 1000000000000 is not a whole number from 1 to 100,000; medians and p99 settle/,
      expect as never,
    );
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
});
