// The output-safety rule through every command that writes (compile, search, synth), on crafted inputs: outputs that
// would destroy or swallow an input are refused with one line and exit 2 before anything is written, inputs keep
// their bytes, an earlier output is replaced as a whole, a foreign folder needs --force.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { modelToBytes, saveModel } from '../../src/onnx/save';
import { compile } from '../../src/jobs/compile/index';
import { search } from '../../src/jobs/search/index';
import { synth } from '../../src/jobs/synth';
import { refused as refusedSync, refusedAsync } from '../_support/refused';
import { OUTPUT_MARKER } from '../../src/fs';
import { expectUserError, prunedet, sha256 } from '../_support/cli';
import { makeProject, photo, SYNTH_POSTPROCESS } from '../search/project';
import { pngChunk, pngFile } from '../_support/png';

const pngHeaderOnly = (w: number, h: number) =>
  pngFile({ width: w, height: h, depth: 8, colorType: 2 }, [pngChunk('IDAT', new Uint8Array(8))]);

const root = mkdtempSync(join(tmpdir(), 'pd-output-'));
let n = 0;
const fresh = (tag = 'c') => {
  const d = join(root, `${tag}${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const ssdlite = modelToBytes(buildFixture('ssdlite', { outputs: 'concat' }));
const CONFIG_A = 'configs/ssd300/config_a.py';
let tiny: string | undefined;
/** The tiny-backbone SSD300 (fits the paper's configs), saved once. */
const ssd300 = () => {
  if (!tiny) {
    tiny = join(fresh('tiny'), 'ssd300.onnx');
    saveModel(buildFixture('ssd300', { backbone: 'tiny', outputs: 'concat' }), tiny, { externalData: 'inline' });
  }
  return tiny;
};

/** A user error from a promise or a function (see _support/refused.ts). */
async function refused(p: Promise<unknown> | (() => unknown), code: string, pattern: RegExp): Promise<void> {
  if (typeof p === 'function') refusedSync(p, code, pattern);
  else await refusedAsync(p, code, pattern);
}

/** sha256 of every file under `dir` (what "inputs are never modified" compares). */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name)] = sha256(join(e.parentPath, e.name));
  }
  return out;
}

describe('compile never writes over or around its inputs', () => {
  it('a model whose external data lives in OUTDIR (model.onnx.data, the name compile writes): refused, data intact', async () => {
    for (const location of ['model.onnx.data', 'weights.bin']) {
      const d = fresh();
      saveModel(buildFixture('ssdlite', { outputs: 'concat' }), join(d, 'in.onnx'), {
        externalData: 'external',
        location,
      });
      const before = hashes(d);
      await refused(
        compile({ model: join(d, 'in.onnx'), remove: '0', outDir: d }),
        'E_OUTPUT',
        /holds the input .*in\.onnx/,
      );
      expect(hashes(d)).toEqual(before);
      // the data file alone inside the output folder is caught too (found by the loader, not named on the command line)
      const e = fresh();
      saveModel(buildFixture('ssdlite', { outputs: 'concat' }), join(e, 'in.onnx'), {
        externalData: 'external',
        location: `out/${location}`,
      });
      const inside = hashes(e);
      await refused(
        compile({ model: join(e, 'in.onnx'), remove: '0', outDir: join(e, 'out'), force: true }),
        'E_OUTPUT',
        new RegExp(`holds the input .*out/${location.replace('.', '\\.')}`),
      );
      expect(hashes(e)).toEqual(inside);
    }
  });

  it('a config, its _base_, a head spec or a baseline config inside OUTDIR: refused, files intact', async () => {
    const d = fresh();
    const out = join(d, 'out');
    await compile({ model: ssd300(), config: CONFIG_A, outDir: out });
    expect(existsSync(join(out, OUTPUT_MARKER))).toBe(true); // prunedet's own output, replaceable...
    const cfg = join(out, 'report.json'); // ...but not while it holds an input: the report used as a config
    writeFileSync(cfg, JSON.stringify({ levels: [[0], [0], [0], [0], [0], [0]].map((keep) => ({ keep })) }));
    const before = hashes(out);
    await refused(compile({ model: ssd300(), config: cfg, outDir: out }), 'E_OUTPUT', /holds the input .*report\.json/);
    const sub = join(d, 'cfg');
    mkdirSync(join(sub, 'bases'), { recursive: true });
    writeFileSync(join(sub, 'bases', 'baseline.py'), readFileSync('configs/ssd300/baseline.py'));
    writeFileSync(
      join(sub, 'a.py'),
      readFileSync(CONFIG_A, 'utf8').replace("'./baseline.py'", "'./bases/baseline.py'"),
    );
    // --force: the folder is foreign, but even forced, prunedet does not replace a folder holding a config's _base_
    await refused(
      compile({ model: ssd300(), config: join(sub, 'a.py'), outDir: join(sub, 'bases'), force: true }),
      'E_OUTPUT',
      /holds the input .*bases\/baseline\.py/,
    );
    await refused(
      compile({ model: ssd300(), remove: '0', headSpec: cfg, outDir: out }),
      'E_OUTPUT',
      /holds the input .*report\.json/,
    );
    await refused(
      compile({
        model: ssd300(),
        remove: '0',
        baselineConfig: join(sub, 'bases', 'baseline.py'),
        outDir: join(sub, 'bases'),
        force: true,
      }),
      'E_OUTPUT',
      /holds the input .*baseline\.py/,
    );
    expect(hashes(out)).toEqual(before);
  });

  it("-o '' and -o . are refused; nothing is written in the current folder", async () => {
    const d = fresh();
    writeFileSync(join(d, 'm.onnx'), ssdlite);
    writeFileSync(join(d, 'notes.txt'), 'mine');
    expectUserError(
      prunedet(['compile', 'm.onnx', '--remove', '0', '-o', ''], { cwd: d }),
      /-o '' names no output folder; pass a new folder, e\.g\. -o out/,
      expect as never,
    );
    await refused(
      compile({ model: join(d, 'm.onnx'), remove: '0', outDir: '.' }),
      'E_OUTPUT',
      /-o \. would replace the current folder/,
    );
    expect(readdirSync(d).sort()).toEqual(['m.onnx', 'notes.txt']);
  });

  it('an earlier output is replaced as a whole: a stale postprocess.c does not survive', async () => {
    const out = join(fresh(), 'out');
    const first = await compile({
      model: ssd300(),
      config: CONFIG_A,
      outDir: out,
      emit: ['c'],
      postprocess: 'mmdet-ssd300',
    });
    expect(first.files).toContain('postprocess.c');
    await compile({ model: ssd300(), config: CONFIG_A, outDir: out });
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'model.onnx', 'report.json']);
  });

  it('a non-empty folder prunedet did not make needs --force, which replaces it as a whole', async () => {
    const d = fresh();
    const model = join(d, 'm.onnx');
    writeFileSync(model, ssdlite);
    const out = join(d, 'theirs');
    mkdirSync(out);
    writeFileSync(join(out, 'postprocess.c'), "/* someone else's */");
    expectUserError(
      prunedet(['compile', model, '--remove', '0', '-o', out]),
      /theirs is a non-empty folder prunedet did not make \(1 entries: postprocess\.c\); choose a new or empty folder, or pass --force/,
      expect as never,
    );
    expect(readdirSync(out)).toEqual(['postprocess.c']);
    await compile({ model, remove: '0', outDir: out, force: true });
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'model.onnx', 'report.json']);
  });

  it('unusable output locations are one line, exit 2 (not an internal error)', async () => {
    const d = fresh();
    const model = join(d, 'm.onnx');
    writeFileSync(model, ssdlite);
    writeFileSync(join(d, 'file'), 'x');
    const cases: [string, RegExp][] = [
      [join(model, 'out'), /lies inside the input .*m\.onnx/],
      [join(d, 'file', 'out'), /cannot be created: .*file is a file, not a folder/],
      [join(d, 'file'), /exists and is not a folder/],
      ['/proc/prunedet-x/y', /cannot create folder \/proc\/prunedet-x \(ENOENT\)/], // mkdir -p loops forever there
      ['/sys/prunedet-x', /cannot (create folder|stage the outputs in) \/sys.* \((EPERM|EACCES|EROFS|ENOENT)\)/],
    ];
    for (const [out, pattern] of cases)
      await refused(compile({ model, remove: '0', outDir: out }), 'E_OUTPUT', pattern);
    // and through the CLI: exit 2 and one line (mkdir -p on /proc loops forever in Node: prunedet creates folders one by one)
    expectUserError(
      prunedet(['compile', model, '--remove', '0', '-o', '/proc/prunedet-x/y'], { timeout: 60_000 }),
      /cannot create folder \/proc\/prunedet-x \(ENOENT\)/,
      expect as never,
    );
  });
});

describe('search and synth follow the same rule', () => {
  const proj = () => {
    const d = fresh('s');
    return { d, ...makeProject(d, 2) };
  };

  it('search -o the images folder, its parent, or a folder holding the annotations: refused, images intact', async () => {
    const p = proj();
    const before = hashes(p.images);
    const opts = { model: p.model, images: p.images, postprocess: SYNTH_POSTPROCESS, maxCandidates: 2 };
    await refused(search({ ...opts, outDir: p.images }), 'E_OUTPUT', /is the input .*images/);
    await refused(search({ ...opts, outDir: p.d }), 'E_OUTPUT', /holds the input/);
    await refused(search({ ...opts, outDir: join(p.images, 'out') }), 'E_OUTPUT', /lies inside the input .*images/);
    const out = join(p.d, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'ann.json'), '{"images": [], "annotations": [], "categories": []}');
    await refused(
      search({ ...opts, annotations: join(out, 'ann.json'), outDir: out }),
      'E_OUTPUT',
      /holds the input .*ann\.json/,
    );
    expect(hashes(p.images)).toEqual(before);
  });

  it('a search that fails on an image leaves no output folder behind', async () => {
    const p = proj();
    const out = join(p.d, 'out');
    const opts = { model: p.model, images: p.images, postprocess: SYNTH_POSTPROCESS, maxCandidates: 2, outDir: out };
    // a file that is no image, or declares too many pixels, is caught from its header before anything runs, wherever it sorts
    writeFileSync(join(p.images, 'zz-text.jpg'), 'not a jpeg');
    await refused(search(opts), 'E_IMAGES', /zz-text\.jpg has an unsupported image format/);
    expect(existsSync(out)).toBe(false);
    writeFileSync(join(p.images, 'zz-text.jpg'), pngHeaderOnly(60000, 60000));
    await refused(search(opts), 'E_IMAGES', /zz-text\.jpg is not a readable PNG \(it declares 60000x60000 pixels/);
    expect(existsSync(out)).toBe(false);
    rmSync(join(p.images, 'zz-text.jpg'));
    // a JPEG cut short decodes only partly: when it is the first photo, nothing was cached and no folder is left
    writeFileSync(join(p.images, 'a-cut.jpg'), photo(40, 30, 1).subarray(0, 100));
    await refused(search(opts), 'E_IMAGES', /a-cut\.jpg/);
    expect(existsSync(out)).toBe(false);
  });

  it("synth: -o '' and a folder are refused; a file prunedet did not make needs --force; its own is replaced", () => {
    const d = fresh();
    expectUserError(
      prunedet(['synth', 'ssdlite', '-o', ''], { cwd: d }),
      /-o '' names no output file/,
      expect as never,
    );
    refusedSync(() => synth('ssdlite', d, {}), 'E_OUTPUT', /is a folder; pass a file path with -o/);
    const theirs = join(d, 'theirs.onnx');
    writeFileSync(theirs, 'precious');
    refusedSync(
      () => synth('ssdlite', theirs, {}),
      'E_OUTPUT',
      /exists and prunedet did not make it; choose a new file name, or pass --force/,
    );
    expect(readFileSync(theirs, 'utf8')).toBe('precious');
    const mine = join(d, 'mine.onnx');
    synth('ssdlite', mine, {});
    const first = sha256(mine);
    synth('ssdlite', mine, { seed: 7 });
    expect(sha256(mine)).not.toBe(first);
    synth('ssdlite', theirs, { force: true });
    expect(readFileSync(theirs).length).toBeGreaterThan(1000);
    expect(readdirSync(d).sort()).toEqual(['mine.onnx', 'theirs.onnx']);
  });
});
