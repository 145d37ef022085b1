import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores: a single worker on a 2-core machine, while most test time is
    // spent waiting on gcc, onnxruntime and CLI child processes; two workers there halve the idle core's time
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['test/_support/global-tmp.ts'],
  },
});
