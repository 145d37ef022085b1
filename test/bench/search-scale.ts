// Search at dataset scale on the SSD300 fixture with mmdet-ssd300 (issue 15): cache size per image, peak RSS while
// evaluating, and evaluation throughput (candidate configurations x images per second), on N seeded photos of COCO
// size. Each run is its own process (peak RSS is per process; worker threads are inside it):
//   1. build: `search --build-cache-only --shard i/S` in S processes at once filling one cache folder (or, --build
//      search, as before the cache could be built alone: a search that evaluates only the full model);
//   2. evaluate: a search on the warm cache with --max-candidates C on W workers (a fresh journal).
// Models: `plain` = the fixture's seeded random weights (peaked softmax: nearly every anchor has a class above the
// threshold, the heaviest case for a sparse cache); `trained-like` = the same network with its class convs scaled by
// 0.05 and +10 on the background logit (7-10% of anchors fire at 0.02, as a trained SSD's do).
// Run: node --import tsx test/bench/search-scale.ts --images 240 [--model plain|trained-like] [--candidates 100]
//      [--workers 2] [--postprocess mmdet-ssd300] [--build shards|search] [--shards 2] [--photos DIR] [--json]
// (--photos: a folder of photos made earlier, reused instead of generating N; they must be the N seeded ones.)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildFixture } from '../../fixtures/index';
import { Tensor } from '../../src/ir/tensor';
import { saveModel } from '../../src/onnx/save';
import type { Model } from '../../src/ir/graph';
import { writePhotos } from './_photos';

export interface ScaleOptions {
  images: number;
  model: 'plain' | 'trained-like';
  candidates: number;
  workers: number;
  postprocess: string;
  build?: 'shards' | 'search';
  shards?: number;
  photos?: string;
}

export interface RunFigures {
  wall: number;
  cpuSeconds: number;
  evalSeconds: number;
  candidates: number;
  evaluatedThisRun: number;
  images: number;
  peakKiB: number;
  cache: { hits: number; computed: number };
  front: [string, number][];
}

export interface ScaleResult extends ScaleOptions {
  photoSeconds: number;
  /** The build's wall time (shards in parallel) and its processes' figures. */
  buildWall: number;
  builds: RunFigures[];
  evaluate: RunFigures;
  cacheBytes: number;
  cacheFiles: number;
  /** candidates x images / evaluation seconds. */
  throughput: number;
}

/** The SSD300 fixture's class convs scaled and the background logit raised (see the header). */
function trainedLike(m: Model): Model {
  for (const v of m.graph.initializers) {
    const k = /^bbox_head\.cls_convs\.\d\.(bias|weight)$/.exec(v.name)?.[1];
    if (!k) continue;
    const d = v.initializer!.float32().slice();
    if (k === 'bias') for (let a = 0; a < d.length / 81; a++) d[a * 81 + 80]! += 10;
    else for (let i = 0; i < d.length; i++) d[i]! *= 0.05;
    v.initializer = Tensor.fromFloat32(v.initializer!.dims, d);
  }
  return m;
}

const RUNNER = fileURLToPath(new URL('./_search-run.ts', import.meta.url));

function run(opts: object): RunFigures {
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUNNER, JSON.stringify(opts)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`search run failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RunFigures;
}

/** Several runs at once (the shards of a cache build), each in its own process. */
async function runAll(all: object[]): Promise<RunFigures[]> {
  return Promise.all(
    all.map(
      (opts) =>
        new Promise<RunFigures>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, JSON.stringify(opts)], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '',
            err = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) =>
            code === 0
              ? resolve(JSON.parse(out.trim().split('\n').pop()!) as RunFigures)
              : reject(new Error(`cache build failed (${code}): ${err}`)),
          );
        }),
    ),
  );
}

function folderBytes(dir: string): [number, number] {
  let bytes = 0,
    files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += statSync(join(e.parentPath, e.name)).size;
    files++;
  }
  return [bytes, files];
}

export async function searchScale(o: ScaleOptions): Promise<ScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-scale-'));
  try {
    const t = performance.now();
    const images = o.photos ?? join(dir, 'images');
    if (!o.photos) writePhotos(images, o.images);
    const photoSeconds = (performance.now() - t) / 1000;
    const fixture = buildFixture('ssd300', { backbone: 'tiny', outputs: 'concat', seed: 1 });
    const model = join(dir, 'ssd300.onnx');
    saveModel(o.model === 'trained-like' ? trainedLike(fixture) : fixture, model, { externalData: 'inline' });
    const out = join(dir, 'out');
    const common = { model, images, outDir: out, postprocess: o.postprocess, workers: o.workers };
    const b0 = performance.now();
    let builds: RunFigures[];
    if ((o.build ?? 'shards') === 'search') {
      builds = [run({ ...common, maxCandidates: 1 })];
      rmSync(join(out, 'search-state.json'));
    } else {
      const S = o.shards ?? 2;
      builds = await runAll(
        Array.from({ length: S }, (_, i) => ({ ...common, mode: 'build', shard: { index: i + 1, count: S } })),
      );
    }
    const buildWall = (performance.now() - b0) / 1000;
    const [cacheBytes, cacheFiles] = folderBytes(join(out, 'cache'));
    const evaluate = run({ ...common, maxCandidates: o.candidates });
    return {
      ...o,
      photoSeconds,
      buildWall,
      builds,
      evaluate,
      cacheBytes,
      cacheFiles,
      throughput: (evaluate.evaluatedThisRun * evaluate.images) / evaluate.evalSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatScale(r: ScaleResult): string {
  const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
  return [
    `[search-scale] SSD300 fixture (${r.model}), ${r.postprocess}, ${r.images} photos of COCO size, ${r.workers} workers`,
    `  cache: ${(r.cacheBytes / 1e6).toFixed(1)} MB in ${r.cacheFiles} files, ${(r.cacheBytes / r.images / 1e3).toFixed(1)} KB per image; built in ${r.buildWall.toFixed(1)} s by ${r.builds.length} process${r.builds.length > 1 ? 'es' : ''} (${(r.images / r.buildWall).toFixed(1)} images/s, peak RSS ${r.builds.map((b) => mib(b.peakKiB)).join(' / ')})`,
    `  evaluate: ${r.evaluate.evaluatedThisRun} candidates x ${r.images} images in ${r.evaluate.evalSeconds.toFixed(2)} s = ${r.throughput.toFixed(0)} candidate-images/s; search wall ${r.evaluate.wall.toFixed(1)} s, CPU ${r.evaluate.cpuSeconds.toFixed(1)} s; peak RSS ${mib(r.evaluate.peakKiB)}`,
  ].join('\n');
}

if (process.argv[1] && /search-scale\.ts$/.test(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '240' },
      model: { type: 'string', default: 'plain' },
      candidates: { type: 'string', default: '100' },
      workers: { type: 'string', default: '2' },
      postprocess: { type: 'string', default: 'mmdet-ssd300' },
      json: { type: 'boolean', default: false },
      build: { type: 'string', default: 'shards' },
      shards: { type: 'string', default: '2' },
      photos: { type: 'string' },
    },
  });
  const r = await searchScale({
    images: Number(values.images),
    model: values.model as ScaleOptions['model'],
    candidates: Number(values.candidates),
    workers: Number(values.workers),
    postprocess: values.postprocess!,
    build: values.build as ScaleOptions['build'],
    shards: Number(values.shards),
    ...(values.photos ? { photos: values.photos } : {}),
  });
  console.log(values.json ? JSON.stringify(r) : formatScale(r));
}
