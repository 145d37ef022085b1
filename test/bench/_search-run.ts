// Child process of search-scale.ts: one `search` run, or one `search --build-cache-only` shard (the library calls
// behind `prunedet search`), in a fresh process, printing its figures and the process's peak RSS as one JSON line
// (worker threads share the process, so their memory is in it).
// Run as: node --import tsx test/bench/_search-run.ts '<SearchOptions as JSON, plus "mode": "search" | "build">'
import { existsSync, readFileSync } from 'node:fs';
import * as index from '../../src/jobs/search/index';
import type { SearchOptions } from '../../src/jobs/search/index';

const { mode, ...opts } = JSON.parse(process.argv[2]!) as SearchOptions & { mode?: 'search' | 'build' };
const t0 = performance.now();
let figures: object;
if (mode === 'build') {
  const build = (
    index as unknown as { buildSearchCache: (o: SearchOptions) => Promise<{ cache: object; covered: number }> }
  ).buildSearchCache;
  const r = await build(opts);
  figures = { cache: r.cache, images: r.covered };
} else {
  const r = await index.search(opts);
  figures = {
    evalSeconds: r.stats.seconds,
    candidates: r.stats.candidates,
    evaluatedThisRun: r.stats.evaluatedThisRun,
    images: r.images,
    cache: r.cache,
    front: r.points.map((p) => [p.removed.join(','), p.map]),
  };
}
const wall = (performance.now() - t0) / 1000;
// CPU time of the whole process (main thread and workers): the machine is shared, so wall time depends on its load.
const cpu = process.cpuUsage();
// VmHWM is this process image's own high-water mark (getrusage's maxRSS would include the forking parent's).
const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
process.stdout.write(
  `${JSON.stringify({ wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakKiB: hwm ? Number(hwm) : process.resourceUsage().maxRSS, ...figures })}\n`,
);
