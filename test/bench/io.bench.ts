// Load+save of the full SSD300 fixture (about 100 MB) next to merely reading the file: prunedet's load must stay
// close to the read (weights are views, not copies). Peak memory is printed once before the timings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { loadModel } from '../../src/onnx/load';
import { saveModel } from '../../src/onnx/save';

const dir = mkdtempSync(join(tmpdir(), 'pd-bench-io-'));
const file = join(dir, 'ssd300-full.onnx');
saveModel(buildFixture('ssd300', { backbone: 'full', outputs: 'concat' }), file, { externalData: 'inline' });
const size = statSync(file).size;

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Peak RSS growth of one job, measured in a fresh process so earlier allocations do not hide it. */
function peak(job: string): number {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '_peak-memory.ts'), job, file, join(dir, 'peak.onnx')],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`peak-memory child failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { peakKiB: number }).peakKiB * 1024;
}

const noop = peak('noop');
const [readPeak, loadPeak, savePeak] = ['read', 'load', 'load-save'].map((j) => peak(j) - noop) as [
  number,
  number,
  number,
];
console.log(
  `[io] ssd300 full, file ${mib(size)}: peak RSS growth read ${mib(readPeak)}, load ${mib(loadPeak)} (${(loadPeak / readPeak).toFixed(2)}x read), load+save ${mib(savePeak)} (${(savePeak / readPeak).toFixed(2)}x read)`,
);

describe(`SSD300 full fixture (${mib(size)})`, () => {
  bench(
    'read file (floor)',
    () => {
      readFileSync(file);
    },
    { iterations: 10, warmupIterations: 2 },
  );
  bench(
    'load',
    () => {
      loadModel(file);
    },
    { iterations: 10, warmupIterations: 2 },
  );
  bench(
    'load + save',
    () => {
      saveModel(loadModel(file), join(dir, 'copy.onnx'));
    },
    { iterations: 10, warmupIterations: 2 },
  );
});
