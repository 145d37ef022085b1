// prunedet detect: detections as JSON, PNGs with the boxes drawn, and test_vectors.h, which compiled with the emitted
// module and a tiny main gives back exactly the detections detect reported (concat and per-level modules).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { buildFullExport } from '../../fixtures/full-export';
import { decodeImage } from '../../src/image/decode';
import { encodePng } from '../../src/image/png-encode';
import type { DetectResult } from '../../src/jobs/detect';
import { saveTemp, tempDir } from '../_support/compile';
import { expectUserError, prunedet } from '../_support/cli';
import { hasGcc, STRICT_FLAGS } from '../_support/gcc';
import { mulberry32 } from '../_support/prng';
import { FACES, hasShared, ultraface } from '../_support/shared';

/** A folder of two noisy photos of different sizes (PNG, written with the encoder detect uses). */
function photos(): string {
  const dir = join(tempDir(), 'photos');
  mkdirSync(dir);
  const rand = mulberry32(7);
  for (const [name, w, h] of [
    ['a', 200, 150],
    ['b', 96, 160],
  ] as const) {
    const data = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rand() * 256));
    writeFileSync(join(dir, `${name}.png`), encodePng({ width: w, height: h, data }));
  }
  return dir;
}

/** A main that runs every vector through the module and prints its detections, exit 1 when one differs from the header's. */
function mainC(prefix: string, header: string, input: 'concat' | 'per-level' | 'yolo'): string {
  const P = prefix;
  const M = P.toUpperCase();
  const call =
    input === 'yolo'
      ? `{ const float *rows[${M}NUM_LEVELS]; ${P}tv_levels(in, rows); st = ${P}run(rows, ws, ws_size, dets, ${M}MAX_DETECTIONS, &n); }`
      : input === 'concat'
        ? `st = ${P}run(in, in + (size_t)${M}NUM_ANCHORS * ${M}NUM_CLASSES, ws, ws_size, dets, ${M}MAX_DETECTIONS, &n);`
        : `{ const float *cls[${M}NUM_LEVELS], *reg[${M}NUM_LEVELS]; ${P}tv_levels(in, cls, reg); st = ${P}run(cls, reg, ws, ws_size, dets, ${M}MAX_DETECTIONS, &n); }`;
  return `#include <stdio.h>
#include <stdlib.h>
#include "${header}"
#include "test_vectors.h"
int main(void) {
  size_t ws_size = ${P}workspace_size(), i, k, n;
  void *ws = malloc(ws_size);
  static ${P}detection_t dets[${M}MAX_DETECTIONS];
  int bad = 0;
  for (i = 0; i < ${M}TV_COUNT; ++i) {
    const float *in = ${P}tv_inputs[i];
    const ${P}tv_detection_t *want = ${P}tv_expected + ${P}tv_begin[i];
    ${P}status_t st;
    n = 0;
    ${call}
    if (st != ${M}OK) return 3;
    printf("input %lu %lu\\n", (unsigned long)i, (unsigned long)n);
    if (n != ${P}tv_begin[i + 1] - ${P}tv_begin[i]) bad = 1;
    for (k = 0; k < n; ++k) {
      printf("%lu %lu %.9g %.9g %.9g %.9g %.9g\\n", (unsigned long)dets[k].label, (unsigned long)dets[k].anchor, (double)dets[k].score,
             (double)dets[k].box[0], (double)dets[k].box[1], (double)dets[k].box[2], (double)dets[k].box[3]);
      if (k < ${P}tv_begin[i + 1] - ${P}tv_begin[i] && (dets[k].label != want[k].label || dets[k].anchor != want[k].anchor || dets[k].score != want[k].score
          || dets[k].box[0] != want[k].box[0] || dets[k].box[1] != want[k].box[1] || dets[k].box[2] != want[k].box[2] || dets[k].box[3] != want[k].box[3])) bad = 1;
    }
  }
  free(ws);
  puts(bad ? "MISMATCH" : "OK");
  return bad;
}
`;
}

/** Build the compiled folder's module with test_vectors.h and the main; its detections per vector. */
function runOnDevice(
  compiled: string,
  detected: string,
  r: DetectResult,
): { label: number; anchor: number; score: number; box: number[] }[][] {
  const dir = tempDir();
  for (const f of [r.module.header!, r.module.header!.replace(/\.h$/, '.c')])
    writeFileSync(join(dir, f), readFileSync(join(compiled, f)));
  writeFileSync(join(dir, 'test_vectors.h'), readFileSync(join(detected, 'test_vectors.h')));
  writeFileSync(join(dir, 'main.c'), mainC(r.module.prefix, r.module.header!, r.module.input));
  execFileSync('gcc', [...STRICT_FLAGS, '-O2', '-o', 'main', 'main.c', r.module.header!.replace(/\.h$/, '.c'), '-lm'], {
    cwd: dir,
    stdio: 'pipe',
  });
  const run = spawnSync(join(dir, 'main'), { encoding: 'utf8' });
  expect(run.stdout.trim().split('\n').at(-1), run.stdout.slice(-500)).toBe('OK');
  expect(run.status).toBe(0);
  const out: { label: number; anchor: number; score: number; box: number[] }[][] = [];
  for (const line of run.stdout.trim().split('\n').slice(0, -1)) {
    if (line.startsWith('input ')) out.push([]);
    else {
      const [label, anchor, score, ...box] = line.split(' ').map(Number);
      out.at(-1)!.push({ label: label!, anchor: anchor!, score: score!, box });
    }
  }
  return out;
}

/** compile MODEL --emit c ARGS, then detect on two photos with 2 test vectors: the folders and detect's JSON. */
function compileAndDetect(model: string, args: string[]): { compiled: string; out: string; r: DetectResult } {
  const compiled = join(tempDir(), 'compiled');
  const c = prunedet(['compile', model, '--emit', 'c', ...args, '-o', compiled]);
  expect(c.code, c.stderr).toBe(0);
  const out = join(tempDir(), 'detected');
  const d = prunedet(['detect', compiled, photos(), '-o', out, '--vectors', '2', '--json']);
  expect(d.code, d.stderr).toBe(0);
  return { compiled, out, r: JSON.parse(d.stdout) as DetectResult };
}

/** The module's detections are detect's, field for field (the %.9g print of a float reads back as that float). */
function expectSameDetections(got: ReturnType<typeof runOnDevice>, r: DetectResult): void {
  expect(got.length).toBe(r.module.vectors);
  got.forEach((dets, i) => {
    const want = r.images[i]!.detections;
    expect(dets.length).toBe(want.length);
    dets.forEach((d, k) => {
      expect(d.label).toBe(want[k]!.label);
      expect(d.anchor).toBe(want[k]!.anchor);
      expect(Math.fround(d.score)).toBe(Math.fround(want[k]!.score));
      expect(d.box.map(Math.fround)).toEqual(want[k]!.modelBox.map(Math.fround));
    });
  });
}

describe('prunedet detect on a compiled folder', () => {
  const images = photos();
  for (const [form, cutHead] of [
    ['concat', false],
    ['per-level', true],
  ] as const) {
    it(`${form} module: JSON, PNGs with boxes, and test vectors the module reproduces bit for bit`, () => {
      const model = saveTemp(
        buildFixture('retinanet', { outputs: cutHead ? 'concat' : 'decoded', inputSize: [128, 192] }),
        'retina.onnx',
      );
      const compiled = join(tempDir(), 'compiled');
      const c = prunedet([
        'compile',
        model,
        '--config',
        'configs/retinanet/pruned.py',
        '--emit',
        'c',
        '--postprocess',
        'mmdet-retinanet,score_thr=0.001',
        '--name',
        'det',
        ...(cutHead ? ['--cut-head'] : []),
        '-o',
        compiled,
      ]);
      expect(c.code, c.stderr).toBe(0);
      const out = join(tempDir(), 'detected');
      const d = prunedet(['detect', compiled, images, '-o', out, '--vectors', '2', '--json']);
      expect(d.code, d.stderr).toBe(0);
      const r = JSON.parse(d.stdout) as DetectResult;
      expect(JSON.parse(readFileSync(join(out, 'detections.json'), 'utf8'))).toEqual(r);
      expect(readdirSync(out).sort()).toEqual([
        '.prunedet-output',
        'a.png',
        'b.png',
        'detections.json',
        'test_vectors.h',
      ]);
      expect(r.module).toMatchObject({ prefix: 'pd_det_', header: 'det.h', input: form, vectors: 2 });
      expect(r.postprocess).toMatch(/^decoder=(mmdet-delta-xywh|none),/);
      const total = r.images.reduce((s, i) => s + i.detections.length, 0);
      expect(total).toBeGreaterThan(0);
      // the PNG is the photo, same size, with pixels changed along the drawn boxes only
      const png = decodeImage(join(out, 'a.png'));
      const src = decodeImage(join(images, 'a.png'));
      expect([png.width, png.height]).toEqual([200, 150]);
      const changed = png.data.reduce((s, v, i) => s + (v !== src.data[i] ? 1 : 0), 0);
      expect(changed > 0).toBe(r.images[0]!.detections.length > 0);
      for (const i of r.images) for (const b of i.detections) expect(b.box[2]).toBeGreaterThanOrEqual(b.box[0]);
      if (hasGcc) expectSameDetections(runOnDevice(compiled, out, r), r);
    });
  }
});

describe('prunedet detect on a compiled YOLOv5 (raw rows, one anchor removed per level)', () => {
  it('yolo module: detections with the yolov5 preset, test vectors the module reproduces bit for bit', () => {
    const model = saveTemp(buildFixture('yolov5', { outputs: 'raw', inputSize: [160, 160] }), 'y5.onnx');
    const { compiled, out, r } = compileAndDetect(model, [
      '--remove',
      '0,4,8',
      '--postprocess',
      'yolov5',
      '--name',
      'det',
    ]);
    expect(r.module).toMatchObject({ prefix: 'pd_det_', header: 'det.h', input: 'yolo', vectors: 2 });
    expect(r.postprocess).toMatch(/^decoder=yolov5,.*objectness=on,labels=best/);
    const scores = r.images.flatMap((i) => i.detections.map((b) => b.score));
    expect(scores.length).toBeGreaterThan(0);
    expect(scores.every((s) => s > 0.25 && s <= 1)).toBe(true);
    if (hasGcc) expectSameDetections(runOnDevice(compiled, out, r), r);
  });
});

describe.skipIf(!hasGcc)('prunedet detect on a full export compiled with --cut-head', () => {
  it("the module's anchor table is the original graph's at the kept anchors: the vectors still match the module", () => {
    const model = saveTemp(buildFullExport({ style: 'retinanet' }), 'full.onnx');
    const { compiled, out, r } = compileAndDetect(model, [
      '--remove',
      '0,9',
      '--cut-head',
      '--postprocess',
      'torchvision-retinanet,score_thr=0.001',
      '--name',
      'full',
    ]);
    expect(r.module.input).toBe('per-level');
    expect(r.images.reduce((s, i) => s + i.detections.length, 0)).toBeGreaterThan(0);
    expectSameDetections(runOnDevice(compiled, out, r), r);
  });
});

describe.skipIf(!hasShared)('prunedet detect on the real face detector', () => {
  it('a plain model and a photo: faces found, the default test vector in the concat layout', () => {
    const out = join(tempDir(), 'faces');
    const r = prunedet([
      'detect',
      ultraface('version-RFB-320_without_postprocessing.onnx'),
      join(FACES, '12.jpg'),
      '--postprocess',
      'ultraface',
      '-o',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as DetectResult;
    expect(v.compiled).toBe(false);
    expect(v.images[0]!.detections.filter((d) => d.score > 0.9).length).toBeGreaterThanOrEqual(3);
    expect(v.module).toMatchObject({
      prefix: 'pd_version_rfb_320_without_postprocessing_',
      input: 'concat',
      inputLength: 4420 * 6,
      vectors: 1,
    });
    expect(existsSync(join(out, '12.png'))).toBe(true);
  });

  it.skipIf(!hasGcc)(
    'a compiled folder (--name face) over the photo folder: the module reproduces the first 3 images',
    () => {
      const compiled = join(tempDir(), 'c');
      expect(
        prunedet([
          'compile',
          ultraface('version-RFB-320_without_postprocessing.onnx'),
          '--remove',
          '2,4,6,9',
          '--emit',
          'c',
          '--postprocess',
          'ultraface',
          '--name',
          'face',
          '-o',
          compiled,
        ]).code,
      ).toBe(0);
      const out = join(tempDir(), 'd');
      const d = prunedet(['detect', compiled, FACES, '-o', out, '--vectors', '3', '--json']);
      expect(d.code, d.stderr).toBe(0);
      const r = JSON.parse(d.stdout) as DetectResult;
      expect(r.images.length).toBeGreaterThan(3);
      expect(r.images.slice(0, 3).every((i) => i.detections.length > 0)).toBe(true);
      expectSameDetections(runOnDevice(compiled, out, r), r);
    },
  );
});

describe('prunedet detect refuses bad input with one line, exit 2', () => {
  const model = saveTemp(buildFixture('retinanet', { outputs: 'decoded', inputSize: [128, 192] }));
  const images = photos();
  const out = () => join(tempDir(), 'never');
  it('missing model, missing image, a file that is no image, no preset, --vectors out of range', () => {
    const bad = join(tempDir(), 'bad.jpg');
    writeFileSync(bad, 'not a jpeg');
    const o = out();
    expectUserError(
      prunedet(['detect', '/nonexistent/m.onnx', images, '-o', o]),
      /model \/nonexistent\/m\.onnx does not exist; pass an ONNX detector or the folder prunedet compile wrote/,
      expect as never,
    );
    expectUserError(
      prunedet(['detect', model, '/nonexistent/x.jpg', '--postprocess', 'mmdet-retinanet', '-o', o]),
      /image \/nonexistent\/x\.jpg does not exist/,
      expect as never,
    );
    expectUserError(
      prunedet(['detect', model, bad, '--postprocess', 'mmdet-retinanet', '-o', o]),
      /bad\.jpg/,
      expect as never,
    );
    expectUserError(
      prunedet(['detect', model, images, '-o', o]),
      /detect needs post-processing semantics .*; pass --postprocess PRESET/,
      expect as never,
    );
    expectUserError(
      prunedet(['detect', model, images, '--postprocess', 'mmdet-retinanet', '--vectors', '65', '-o', o]),
      /--vectors 65 is not a whole number from 0 to 64/,
      expect as never,
    );
    expect(existsSync(o)).toBe(false);
  });
});
