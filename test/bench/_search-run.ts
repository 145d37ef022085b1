// Child process of search-scale.ts: one `search` run (the library call behind `prunedet search`) in a fresh process,
// printing its result's figures and the process's peak RSS as one JSON line (worker threads share the process).
// Run as: node --import tsx test/bench/_search-run.ts '<SearchOptions as JSON>'
import { existsSync, readFileSync } from 'node:fs';
import { search, type SearchOptions } from '../../src/search/index';

const opts = JSON.parse(process.argv[2]!) as SearchOptions;
const t0 = performance.now();
const r = await search(opts);
const wall = (performance.now() - t0) / 1000;
// VmHWM is this process image's own high-water mark (getrusage's maxRSS would include the forking parent's).
const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
process.stdout.write(`${JSON.stringify({
  wall, evalSeconds: r.stats.seconds, candidates: r.stats.candidates, evaluatedThisRun: r.stats.evaluatedThisRun, images: r.images,
  cache: r.cache, peakKiB: hwm ? Number(hwm) : process.resourceUsage().maxRSS, front: r.points.map((p) => [p.removed.join(','), p.map]),
})}\n`);
