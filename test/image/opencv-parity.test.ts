// Byte-for-byte parity with OpenCV where a python3 with cv2 is installed (e.g. Debian's python3-opencv); skipped
// elsewhere. resizeBilinear must equal cv2.resize(INTER_LINEAR); the PNG decoder must equal cv2.imread.
// (JPEG is not compared: jpeg-js and libjpeg-turbo differ in chroma upsampling and IDCT.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/image/decode';
import { resizeBilinear } from '../../src/image/resize';
import { mulberry32 } from '../_support/prng';
import { pngChunk, pngFile } from '../_support/png';

const here = dirname(fileURLToPath(import.meta.url));
const python = ['python3', '/usr/bin/python3'].find(
  (py) => spawnSync(py, ['-c', 'import cv2'], { encoding: 'utf8' }).status === 0,
);
if (!python)
  console.warn('skipping the OpenCV parity tests: no python3 with cv2 (apt-get install python3-opencv to run them)');

function png(width: number, height: number, colorType: 2 | 6, rows: Uint8Array): Uint8Array {
  return pngFile({ width, height, depth: 8, colorType }, [pngChunk('IDAT', deflateSync(rows))]);
}

describe.skipIf(!python)('OpenCV parity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunedet-cv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resizeBilinear == cv2.resize(INTER_LINEAR) and the PNG decoder == cv2.imread', () => {
    const rnd = mulberry32(42);
    const sizes: [number, number, number, number, number][] = [
      [2, 2, 4, 4, 1],
      [17, 2, 17, 5, 1],
      [640, 480, 320, 240, 3],
      [1024, 768, 320, 240, 3],
      [720, 478, 320, 240, 3],
      [100, 75, 300, 300, 3],
      [33, 17, 7, 5, 3],
      [7, 5, 33, 17, 3],
      [1600, 898, 640, 480, 3],
      [5, 3, 64, 48, 3],
      [13, 11, 26, 22, 1],
      [301, 199, 300, 300, 3],
      [320, 240, 320, 240, 3],
    ];
    const resize = sizes.map(([w, h, dw, dh, cn]) => {
      // Smooth image plus noise: both flat and busy regions.
      const data = Uint8Array.from(
        { length: w * h * cn },
        (_, i) => (Math.floor((((i / cn) % w) * 255) / w) + Math.floor(rnd() * 60)) & 255,
      );
      return { w, h, cn, dw, dh, data };
    });
    const pngs = [2, 6].map((colorType, q) => {
      const [w, h] = [37 + q, 23];
      const bpp = colorType === 2 ? 3 : 4;
      const rows = new Uint8Array(h * (1 + w * bpp));
      for (let y = 0; y < h; y++) {
        rows[y * (1 + w * bpp)] = 0;
        for (let i = 1; i <= w * bpp; i++) rows[y * (1 + w * bpp) + i] = Math.floor(rnd() * 256);
      }
      const path = join(dir, `t${q}.png`);
      writeFileSync(path, png(w, h, colorType as 2 | 6, rows));
      return path;
    });
    const job = {
      resize: resize.map((r) => ({ ...r, data: undefined, hex: Buffer.from(r.data).toString('hex') })),
      read: pngs,
    };
    const run = spawnSync(python!, [join(here, 'opencv-reference.py')], {
      input: JSON.stringify(job),
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    expect(run.status, run.stderr).toBe(0);
    const ref = JSON.parse(run.stdout) as {
      version: string;
      resize: string[];
      read: { w: number; h: number; hex: string }[];
    };
    resize.forEach((r, q) => {
      const got = Buffer.from(resizeBilinear(r.data, r.w, r.h, r.cn, r.dw, r.dh)).toString('hex');
      expect(got === ref.resize[q], `${r.w}x${r.h}x${r.cn} -> ${r.dw}x${r.dh} vs OpenCV ${ref.version}`).toBe(true);
    });
    pngs.forEach((p, q) => {
      const img = decodeImage(p);
      expect([img.width, img.height]).toEqual([ref.read[q]!.w, ref.read[q]!.h]);
      expect(Buffer.from(img.data).toString('hex') === ref.read[q]!.hex, p).toBe(true);
    });
  });
});
