// `prunedet search` through the real bin: bad inputs are one-line user errors (exit 2, no stack), inputs are never
// written, and the head-output cache is never left corrupt by a failure or a kill mid-run.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDetector } from '../../src/detector/index';
import { postprocessForModel } from '../../src/postprocess/for-model';
import { recordExpectation } from '../../src/search/sparse-cache';
import { readSparseRecord } from '../../src/search/sparse-record';
import { expectUserError, prunedet, sha256 } from '../_support/cli';
import { SYNTH_POSTPROCESS, makeProject, photo, type Project } from './project';

const root = mkdtempSync(join(tmpdir(), 'pd-search-cli-'));
let p: Project;
let hashes: Record<string, string>;

beforeAll(() => {
  p = makeProject(root, 4);
  hashes = Object.fromEntries(
    [p.model, ...readdirSync(p.images).map((f) => join(p.images, f))].map((f) => [f, sha256(f)]),
  );
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const base = (out: string, images = p.images) => [
  'search',
  p.model,
  '--images',
  images,
  '--postprocess',
  SYNTH_POSTPROCESS,
  '-o',
  out,
];

/** Every record in a cache folder decodes and checks out (temp files of a killed write are not records). */
function expectCacheIntact(dir: string): number {
  if (!existsSync(dir)) return 0;
  const pp = postprocessForModel(loadDetector(p.model).spec, SYNTH_POSTPROCESS);
  const expectation = recordExpectation(pp.spec, pp.numClasses, pp.levels);
  const records = readdirSync(dir).filter((f) => f.endsWith('.bin'));
  for (const f of records) expect(readSparseRecord(dir, f.slice(0, -4), expectation).status, f).toBe('hit');
  return records.length;
}

describe('prunedet search: bad inputs', () => {
  it('an image folder with no images', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'no photos here');
    expectUserError(
      prunedet(base(join(root, 'o1'), empty)),
      /no images in .*empty \(looked for \.jpg, \.jpeg, \.png\)/,
      expect,
    );
  });

  it('an unreadable image, named; the records of the images before it stay valid and a rerun reuses them', () => {
    const dir = join(root, 'broken');
    mkdirSync(dir);
    for (const f of readdirSync(p.images)) copyFileSync(join(p.images, f), join(dir, f));
    writeFileSync(
      join(dir, 'zz-broken.jpg'),
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not really a jpeg')]),
    );
    const out = join(root, 'o2');
    expectUserError(prunedet(base(out, dir)), /image .*zz-broken\.jpg is not a readable JPEG/, expect);
    expect(expectCacheIntact(join(out, 'cache'))).toBe(4);
    expect(readdirSync(join(out, 'cache')).filter((f) => !f.endsWith('.bin'))).toEqual([]);
    rmSync(join(dir, 'zz-broken.jpg'));
    const ok = prunedet([...base(out, dir), '--max-candidates', '5', '--workers', '1', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).cache).toMatchObject({ hits: 4, computed: 0 });
  });

  it('annotations that do not list the images, naming one', () => {
    const ann = join(root, 'other.json');
    writeFileSync(
      ann,
      JSON.stringify({ images: [{ id: 1, file_name: 'cat.jpg' }], annotations: [], categories: [{ id: 1 }] }),
    );
    expectUserError(
      prunedet([...base(join(root, 'o3')), '--annotations', ann]),
      /image p00\.jpg is not in the annotations .*other\.json/,
      expect,
    );
  });

  it('annotations that are not COCO', () => {
    const ann = join(root, 'bad.json');
    writeFileSync(ann, '{"images": 3}');
    expectUserError(prunedet([...base(join(root, 'o4')), '--annotations', ann]), /has no "images" array/, expect);
  });

  it('a model that is not a detector', () => {
    expectUserError(
      prunedet(['search', p.classifier, '--images', p.images, '--postprocess', 'ultraface', '-o', join(root, 'o5')]),
      /no detection head found/,
      expect,
    );
  });

  it.each([
    [['--min-map', '1.5'], /--min-map 1\.5 is out of range/],
    [['--workers', '0'], /--workers 0 is out of range/],
    [['--max-candidates', '0'], /--max-candidates 0 is out of range/],
    [['--anchors-per-level', '2.5'], /--anchors-per-level 2\.5 is out of range/],
    [['--strategy', 'greedy'], /--strategy greedy is unknown; use one of pareto, layerwise, shared/],
    [['--size', '640x480'], /--size 640x480 does not match the model's input 300x300/],
    [['--mean', 'a,b,c'], /--mean "a,b,c" is not three numbers/],
    [['--progress', '-1'], /--progress -1 is out of range/],
    [['--build-cache-only', '--shard', '3/2'], /--shard "3\/2" is not i\/n/],
    [['--shard', '1/2'], /--shard only splits --build-cache-only/],
  ])('flag out of range: %j', (flags, pattern) => {
    expectUserError(prunedet([...base(join(root, 'o6')), ...flags]), pattern, expect);
  });

  it('no --postprocess', () => {
    expectUserError(
      prunedet(['search', p.model, '--images', p.images, '-o', join(root, 'o7')]),
      /search needs the post-processing .*--postprocess/,
      expect,
    );
  });

  it('an output path that is a file', () => {
    const f = join(root, 'a-file');
    writeFileSync(f, 'x');
    expectUserError(prunedet(base(f)), /-o .*a-file exists and is not a folder; pass a folder path with -o/, expect);
  });

  it('never writes its inputs', () => {
    for (const [f, h] of Object.entries(hashes)) expect(sha256(f), f).toBe(h);
  });
});

describe('prunedet search: killed mid-run', () => {
  it('leaves only valid cache records; the rerun completes and reuses them', async () => {
    const dir = join(root, 'many');
    mkdirSync(dir);
    for (let i = 0; i < 16; i++)
      writeFileSync(join(dir, `m${String(i).padStart(2, '0')}.jpg`), photo(220 + 8 * i, 200, i));
    const out = join(root, 'killed');
    const cache = join(out, 'cache');
    const child = spawn(
      process.execPath,
      [resolve(__dirname, '../../bin/prunedet.js'), ...base(out, dir), '--workers', '1'],
      { stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // kill as soon as a few records exist (the run is then in the middle of inference)
    for (let t = 0; t < 600; t++) {
      if (existsSync(cache) && readdirSync(cache).filter((f) => f.endsWith('.bin')).length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
    const kept = expectCacheIntact(cache);
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(kept).toBeLessThan(16);
    expect(existsSync(join(out, 'pareto.json'))).toBe(false);
    const r = prunedet([...base(out, dir), '--workers', '1', '--max-candidates', '10', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.cache.hits).toBeGreaterThanOrEqual(kept);
    expect(res.cache.hits + res.cache.computed).toBe(16);
    expect(expectCacheIntact(cache)).toBe(16);
    expect(res.points[0].removed).toEqual([]);
  });
});
