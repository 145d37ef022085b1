// The search cache folder: keys, building it in shards (separate processes filling one folder at once, then one
// search over it), and versioning (a record of an older format, or made for other scores or a higher threshold, is
// rebuilt in place, never read as a current one).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDetector } from '../../src/detector/index';
import { postprocessForModel } from '../../src/postprocess/for-model';
import { buildSearchCache, search } from '../../src/jobs/search/index';
import { cacheKey, cachePath } from '../../src/search/cache';
import { recordExpectation, shardIndices, parseShard } from '../../src/search/sparse-cache';
import { readSparseRecord } from '../../src/search/sparse-record';
import { SYNTH_POSTPROCESS, makeProject, type Project } from './project';

const root = mkdtempSync(join(tmpdir(), 'pd-search-cache-'));
let p: Project;
beforeAll(() => {
  p = makeProject(root, 6);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Status of every record in a cache folder, read as a search with `postprocess` reads them. */
function statuses(dir: string, postprocess = SYNTH_POSTPROCESS): string[] {
  const det = loadDetector(p.model).spec;
  const pp = postprocessForModel(det, postprocess);
  const expect_ = recordExpectation(pp.spec, pp.numClasses, pp.levels);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => readSparseRecord(dir, f.slice(0, -4), expect_).status);
}

describe('cache keys', () => {
  it('change with every part and not with property order', () => {
    const base = {
      modelSha256: 'm',
      imageSha256: 'i',
      preprocess: { a: 1, b: [2] },
      inputShape: [1, 3, 2, 2],
      outputs: ['x'],
    };
    const k = cacheKey(base);
    expect(cacheKey({ ...base, preprocess: { b: [2], a: 1 } })).toBe(k);
    for (const change of [
      { modelSha256: 'n' },
      { imageSha256: 'j' },
      { preprocess: { a: 2, b: [2] } },
      { inputShape: [1, 3, 2, 3] },
      { outputs: ['y'] },
    ]) {
      expect(cacheKey({ ...base, ...change })).not.toBe(k);
    }
    expect(k).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('shards', () => {
  it('split the sorted photos i, i+n, ... and refuse anything but i/n', () => {
    expect(shardIndices(7, parseShard('1/3'))).toEqual([0, 3, 6]);
    expect(shardIndices(7, parseShard(' 3 / 3 '))).toEqual([2, 5]);
    const all = [1, 2, 3].flatMap((i) => shardIndices(10, { index: i, count: 3 })).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => i));
    for (const bad of ['0/2', '3/2', '2', 'a/b', '1/0'])
      expect(() => parseShard(bad)).toThrow(/--shard .* is not i\/n/);
  });

  it('two processes fill one cache folder at once; the search then runs the model on nothing', async () => {
    const cache = join(root, 'shared-cache');
    const run = (shard: string) =>
      new Promise<{ code: number | null; out: string }>((res) => {
        const child = spawn(
          process.execPath,
          [
            resolve(__dirname, '../../bin/prunedet.js'),
            'search',
            p.model,
            '--images',
            p.images,
            '--postprocess',
            SYNTH_POSTPROCESS,
            '-o',
            join(root, `o-${shard.replace('/', '-')}`),
            '--cache-dir',
            cache,
            '--build-cache-only',
            '--shard',
            shard,
            '--json',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('exit', (code) => res({ code, out }));
      });
    const [a, b] = await Promise.all([run('1/2'), run('2/2')]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const ra = JSON.parse(a.out),
      rb = JSON.parse(b.out);
    expect([ra.covered, rb.covered]).toEqual([3, 3]);
    expect(ra.cache).toMatchObject({ computed: 3, hits: 0 });
    expect(rb.cache).toMatchObject({ computed: 3, hits: 0 });
    expect(statuses(cache)).toEqual(new Array(6).fill('hit'));
    expect(readdirSync(cache).filter((f) => !f.endsWith('.bin'))).toEqual([]);
    // the shard runs wrote no search outputs
    expect(existsSync(join(root, 'o-1-2', 'pareto.json'))).toBe(false);
    const r = await search({
      model: p.model,
      images: p.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'after-shards'),
      cacheDir: cache,
      maxCandidates: 5,
      workers: 1,
    });
    expect(r.cache).toMatchObject({ hits: 6, computed: 0 });
    // a second build of a shard finds everything there
    const again = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'again'),
      cacheDir: cache,
      shard: { index: 1, count: 2 },
    });
    expect(again.cache).toMatchObject({ hits: 3, computed: 0 });
  });

  it('--shard is refused without --build-cache-only', async () => {
    await expect(
      search({
        model: p.model,
        images: p.images,
        postprocess: SYNTH_POSTPROCESS,
        outDir: join(root, 'x'),
        shard: { index: 1, count: 2 },
      }),
    ).rejects.toThrow(/--shard only splits --build-cache-only/);
  });
});

describe('format versioning', () => {
  it('an older format, a record for other scores and one at a higher threshold are rebuilt in place, never read', async () => {
    const cache = join(root, 'versions');
    mkdirSync(cache, { recursive: true });
    const first = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'v'),
      cacheDir: cache,
    });
    expect(first.cache).toMatchObject({ computed: 6, rebuilt: 0 });
    const names = readdirSync(cache).sort();
    // photo 0's record replaced by a format-1 file (dense head outputs) under the same key
    const header = Buffer.from(
      JSON.stringify({
        format: 1,
        key: names[0]!.slice(0, -4),
        width: 200,
        height: 180,
        arrays: [{ name: 'scores', length: 4 }],
      }),
    );
    const body = Buffer.concat([
      Buffer.from('PDHEADC1', 'latin1'),
      Buffer.from(new Uint32Array([header.length]).buffer),
      header,
      Buffer.alloc((4 - (header.length % 4)) % 4),
      Buffer.alloc(16),
    ]);
    writeFileSync(join(cache, names[0]!), Buffer.concat([body, createHash('sha256').update(body).digest()]));
    expect(statuses(cache)[0]).toBe('stale');
    const second = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: SYNTH_POSTPROCESS,
      outDir: join(root, 'v'),
      cacheDir: cache,
    });
    expect(second.cache).toMatchObject({ hits: 5, computed: 1, rebuilt: 1 });
    expect(readdirSync(cache).sort()).toEqual(names); // rebuilt under the same name: nothing orphaned
    expect(statuses(cache)).toEqual(new Array(6).fill('hit'));
    // a higher threshold reads the records (a prefix of their pairs); a lower one, or another score function, rebuilds them
    const higher = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: 'mmdet-ssd300,score_thr=0.05',
      outDir: join(root, 'v'),
      cacheDir: cache,
    });
    expect(higher.cache).toMatchObject({ hits: 6, computed: 0 });
    expect(higher.cache.pairs).toBeLessThan(second.cache.pairs);
    const lower = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: 'mmdet-ssd300,score_thr=0.01',
      outDir: join(root, 'v'),
      cacheDir: cache,
    });
    expect(lower.cache).toMatchObject({ hits: 0, computed: 6, rebuilt: 6 });
    expect(statuses(cache, SYNTH_POSTPROCESS)).toEqual(new Array(6).fill('hit')); // made at 0.01, they serve 0.013
    const other = await buildSearchCache({
      model: p.model,
      images: p.images,
      postprocess: 'mmdet-ssd300,score_thr=0.01,background=first',
      outDir: join(root, 'v'),
      cacheDir: cache,
    });
    expect(other.cache).toMatchObject({ computed: 6, rebuilt: 6 });
    expect(
      readFileSync(cachePath(cache, names[0]!.slice(0, -4)))
        .subarray(0, 8)
        .toString('latin1'),
    ).toBe('PDSPARSE');
  });
});
