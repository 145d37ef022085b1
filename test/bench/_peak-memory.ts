// Child process for io.bench.ts: does one job on a model file and prints the process's peak RSS (KiB) as JSON.
// Run as: node --import tsx test/bench/_peak-memory.ts <noop|read|load|load-save|compile> <file> [out]
import { existsSync, readFileSync } from 'node:fs';
import { loadModel } from '../../src/onnx/load';
import { saveModel } from '../../src/onnx/save';
import { compile } from '../../src/jobs/compile/index';

const [job, file, out] = process.argv.slice(2) as [string, string, string | undefined];
if (job === 'noop') void 0;
else if (job === 'read') readFileSync(file);
else if (job === 'load') loadModel(file);
else if (job === 'compile') await compile({ model: file, config: 'configs/ssd300/config_b.py', outDir: out! });
else saveModel(loadModel(file), out!);
// VmHWM is this process image's own high-water mark; getrusage's maxRSS would include the forking parent's.
const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
process.stdout.write(JSON.stringify({ job, peakKiB: hwm ? Number(hwm) : process.resourceUsage().maxRSS }));
