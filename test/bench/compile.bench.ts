// Compile time and peak memory for the full SSD300 fixture (VGG16, ~130 MiB) with the paper's configuration B,
// next to load alone. Peak memory is measured in a fresh child process (VmHWM).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { saveModel } from '../../src/onnx/save';
import { loadModel } from '../../src/onnx/load';
import { compile } from '../../src/jobs/compile/index';

const dir = mkdtempSync(join(tmpdir(), 'pd-bench-compile-'));
const file = join(dir, 'ssd300-full.onnx');
saveModel(buildFixture('ssd300', { backbone: 'full', outputs: 'concat' }), file, { externalData: 'inline' });
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function peak(job: string): number {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '_peak-memory.ts'), job, file, join(dir, `peak-${job}`)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`peak-memory child failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { peakKiB: number }).peakKiB * 1024;
}
const noop = peak('noop');
console.log(
  `[compile] ssd300 full (${mib(statSync(file).size)}), config B: peak RSS growth load ${mib(peak('load') - noop)}, compile ${mib(peak('compile') - noop)}`,
);

let n = 0;
describe('SSD300 full fixture, configuration B', () => {
  bench(
    'load',
    () => {
      loadModel(file);
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    'compile (load, analyse, 5 passes, save)',
    async () => {
      await compile({ model: file, config: 'configs/ssd300/config_b.py', outDir: join(dir, `out${n++}`) });
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
