import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, decodeImageBytes, listImages, type RgbImage } from '../../src/image/decode';
import {
  ULTRA_LIGHT_FACE_320,
  boxToImage,
  preprocess,
  resizeGeometry,
  type PreprocessOptions,
} from '../../src/image/preprocess';
import { resizeBilinear } from '../../src/image/resize';
import { PrunedetError } from '../../src/errors';
import { FACES } from '../_support/shared';
import { pngChunk, pngFile } from '../_support/png';

const dir = mkdtempSync(join(tmpdir(), 'prunedet-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RGB -> JPEG bytes through jpeg-js' encoder (it wants RGBA). */
function encodeJpeg(img: RgbImage, quality = 95): Uint8Array {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    rgba.set(img.data.subarray(3 * i, 3 * i + 3), 4 * i);
    rgba[4 * i + 3] = 255;
  }
  return jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data;
}

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { width, height, data };
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function expectImagesError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PrunedetError);
    expect((e as PrunedetError).code).toBe('E_IMAGES');
    expect((e as PrunedetError).message).toMatch(pattern);
    expect((e as PrunedetError).oneLine()).not.toMatch(/\n/);
    return;
  }
  throw new Error('expected an E_IMAGES error');
}

describe('resizeBilinear (cv2.INTER_LINEAR semantics)', () => {
  it('2x2 -> 4x4 upscaling with half-pixel centres, hand-computed', () => {
    // Columns: dx = 0..3 -> fx = (dx + .5) * .5 - .5 = -.25, .25, .75, 1.25; clamped at both borders:
    //   weights (a0, a1) = (2048, 0) on col 0, (1536, 512), (512, 1536), (2048, 0) on col 1.
    //   row 0 = [0, 100] -> D = [0, 51200, 153600, 204800]; row 1 = [200, 40] -> D = [409600, 327680, 163840, 81920]
    // Rows are not clamped: dy = 0 -> sy = -1, fy = .75, rows (0, 0); dy = 1 -> rows (0, 1), b = (1536, 512);
    // dy = 2 -> b = (512, 1536); dy = 3 -> sy = 1, fy = .25, rows (1, 1).
    // out = (((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2, e.g. dy = 1, dx = 1:
    //   (1536 * 3200) >> 16 = 75, (512 * 20480) >> 16 = 160 -> (75 + 160 + 2) >> 2 = 59 (exact: 58.75).
    // Same numbers as cv2.resize(np.array([[0, 100], [200, 40]], np.uint8), (4, 4)) (OpenCV 4.6).
    const out = resizeBilinear(Uint8Array.from([0, 100, 200, 40]), 2, 2, 1, 4, 4);
    expect(Array.from(out)).toEqual([0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40]);
  });

  it('truncates like OpenCV, not like exact rounding', () => {
    // [[168, 229], [184, 171]] -> 4x4, pixel (1, 1): D0 = 168 * 1536 + 229 * 512 = 375296,
    // D1 = 184 * 1536 + 171 * 512 = 370176, b = (1536, 512):
    //   (1536 * 23456) >> 16 = 549, (512 * 23136) >> 16 = 180 -> (549 + 180 + 2) >> 2 = 182 (cv2: 182; exact 183.1).
    expect(resizeBilinear(Uint8Array.from([168, 229, 184, 171]), 2, 2, 1, 4, 4)[5]).toBe(182);
    // 17 x 2 (top row 1, bottom row 7) -> 17 x 5, output row 1: fy = float(1.5 * 0.4 - 0.5) = 0.1, sy = 0,
    // b = (round(0.9 * 2048), round(0.1 * 2048)) = (1843, 205): ((1843 * 128) >> 16) + ((205 * 896) >> 16) = 3 + 2
    // -> (5 + 2) >> 2 = 1 for every byte, SIMD body and scalar tail alike (exact value 1.6).
    const src = Uint8Array.from({ length: 34 }, (_, i) => (i < 17 ? 1 : 7));
    expect(Array.from(resizeBilinear(src, 17, 2, 1, 17, 5).subarray(17, 34))).toEqual(new Array(17).fill(1));
  });

  it('half-way samples: 2x1 -> 3x1', () => {
    // dx = 1: fx = float(1.5 * 2/3 - .5) = .5 -> a = (1024, 1024), D = 1024 * (1 + 2) = 3072. One row: fy = 0,
    // b = (2048, 0): (2048 * (3072 >> 4)) >> 16 = 6 -> (6 + 0 + 2) >> 2 = 2 (1.5 rounds up).
    expect(Array.from(resizeBilinear(Uint8Array.from([1, 2]), 2, 1, 1, 3, 1))).toEqual([1, 2, 2]);
  });

  it('identity size is an exact copy; 2x downscale averages 2x2 blocks', () => {
    const src = Uint8Array.from({ length: 6 * 4 * 3 }, (_, i) => (i * 37) % 256);
    expect(resizeBilinear(src, 6, 4, 3, 6, 4)).toEqual(src);
    // fx = 2 dx + .5: weights (1024, 1024) both ways -> (a + b + c + d + 2) >> 2.
    const g = Uint8Array.from([10, 20, 30, 41, 50, 60, 70, 81]); // 4x2, one channel
    expect(Array.from(resizeBilinear(g, 4, 2, 1, 2, 1))).toEqual([
      (10 + 20 + 50 + 60 + 2) >> 2,
      (30 + 41 + 70 + 81 + 2) >> 2,
    ]);
  });

  it('writes into a region of a larger canvas', () => {
    const canvas = new Uint8Array(5 * 3 * 3).fill(9);
    resizeBilinear(solid(2, 2, [1, 2, 3]).data, 2, 2, 3, 3, 2, { data: canvas, width: 5, x: 1, y: 1 });
    expect(Array.from(canvas.subarray(0, 15))).toEqual(new Array(15).fill(9)); // row 0 untouched
    expect(Array.from(canvas.subarray(15, 18))).toEqual([9, 9, 9]); // (0, 1) untouched
    expect(Array.from(canvas.subarray(18, 27))).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  });
});

describe('preprocess', () => {
  it('Ultra-Light preset: 320x240, (x - 127) / 128, NCHW RGB', () => {
    const img = solid(64, 48, [127, 255, 0]);
    const t = preprocess(img, ULTRA_LIGHT_FACE_320);
    expect(t.length).toBe(3 * 240 * 320);
    const plane = 240 * 320;
    expect(t[0]).toBe(0);
    expect(t[plane + 1234]).toBe(1);
    expect(t[2 * plane + 77]).toBe(-127 / 128); // exact in float32
  });

  it('bgr puts the blue plane first; mean/std are read in R, G, B order', () => {
    const opts: PreprocessOptions = {
      size: [4, 2],
      mean: [10, 20, 30],
      std: [1, 2, 4],
      channelOrder: 'bgr',
      resize: 'bilinear',
    };
    const t = preprocess(solid(4, 2, [11, 22, 34]), opts);
    expect(t[0]).toBe(1); // B: (34 - 30) / 4
    expect(t[8]).toBe(1); // G: (22 - 20) / 2
    expect(t[16]).toBe(1); // R: (11 - 10) / 1
  });

  it('letterbox geometry: keeps the aspect ratio, centres, pads with the mean colour', () => {
    const g = resizeGeometry(200, 100, { size: [320, 240], letterbox: true });
    expect(g).toMatchObject({ resizedWidth: 320, resizedHeight: 160, padX: 0, padY: 40, scaleX: 1.6, scaleY: 1.6 });
    expect(boxToImage([0, 40, 320, 200], g)).toEqual([0, 0, 200, 100]);
    const p = resizeGeometry(100, 200, { size: [320, 240], letterbox: true });
    expect(p).toMatchObject({ resizedWidth: 120, resizedHeight: 240, padX: 100, padY: 0 });
    expect(boxToImage([100, 0, 160, 120], p)).toEqual([0, 0, 50, 100]);
    const s = resizeGeometry(640, 480, { size: [320, 240] });
    expect(s).toMatchObject({ scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0 });

    const opts: PreprocessOptions = {
      size: [8, 8],
      mean: [100, 100, 100],
      std: [50, 50, 50],
      channelOrder: 'rgb',
      letterbox: true,
      resize: 'bilinear',
    };
    const t = preprocess(solid(8, 4, [200, 200, 200]), opts);
    // 8x4 -> 8x4 at padY = 2: rows 0-1 and 6-7 are padding (0), rows 2-5 are (200 - 100) / 50 = 2.
    const rows = Array.from({ length: 8 }, (_, y) => t[y * 8 + 3]);
    expect(rows).toEqual([0, 0, 2, 2, 2, 2, 0, 0]);
    const padded = preprocess(solid(8, 4, [200, 200, 200]), { ...opts, padColor: [0, 0, 0] });
    expect(padded[0]).toBe(-2);
  });

  it('rejects unusable options', () => {
    const bad = { ...ULTRA_LIGHT_FACE_320, std: [0, 1, 1] as [number, number, number] };
    expect(() => preprocess(solid(2, 2, [0, 0, 0]), bad)).toThrow(/std != 0/);
    expect(() => preprocess(solid(2, 2, [0, 0, 0]), { ...ULTRA_LIGHT_FACE_320, size: [0, 5] })).toThrow(PrunedetError);
  });
});

describe('decodeImage: JPEG', () => {
  it('decodes a synthetic JPEG made with jpeg-js', () => {
    const p = join(dir, 'red-blue.jpg');
    const img = solid(32, 16, [0, 0, 255]);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) img.data.set([255, 0, 0], (y * 32 + x) * 3);
    writeFileSync(p, encodeJpeg(img));
    const d = decodeImage(p);
    expect([d.width, d.height, d.data.length]).toEqual([32, 16, 32 * 16 * 3]);
    const px = (x: number, y: number) => Array.from(d.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
    px(4, 4).forEach((v, c) => expect(Math.abs(v - [255, 0, 0][c]!)).toBeLessThan(8));
    px(28, 12).forEach((v, c) => expect(Math.abs(v - [0, 0, 255][c]!)).toBeLessThan(8));
  });

  it('applies the EXIF orientation like cv2.imread (6 = rotate 90 degrees clockwise)', () => {
    const img = solid(32, 16, [0, 0, 255]);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) img.data.set([255, 0, 0], (y * 32 + x) * 3); // left half red
    const plain = encodeJpeg(img);
    // APP1 "Exif\0\0" + little-endian TIFF header + IFD0 with one entry: 0x0112 SHORT 1 = 6.
    const tiff = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0];
    const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
    const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
    const bytes = Uint8Array.from([...plain.subarray(0, 2), ...app1, ...plain.subarray(2)]);
    const d = decodeImageBytes(bytes, 'rotated.jpg');
    expect([d.width, d.height]).toEqual([16, 32]);
    expect(d.data[(4 * 16 + 8) * 3]).toBeGreaterThan(240); // top half red (was the left half)
    expect(d.data[(28 * 16 + 8) * 3 + 2]).toBeGreaterThan(240); // bottom half blue
    const raw = decodeImageBytes(bytes, 'rotated.jpg', { exifOrientation: false });
    expect([raw.width, raw.height]).toEqual([32, 16]);
  });

  it('a corrupt or truncated JPEG is E_IMAGES naming the file, and the file is left alone', () => {
    const good = encodeJpeg(solid(16, 16, [10, 200, 30]));
    const truncated = join(dir, 'truncated.jpg');
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const before = sha(truncated);
    expectImagesError(() => decodeImage(truncated), new RegExp(`image ${truncated} is not a readable JPEG \\(`));
    expect(sha(truncated)).toBe(before);
    const junk = join(dir, 'junk.jpg');
    writeFileSync(
      junk,
      Uint8Array.from({ length: 400 }, (_, i) => (i < 3 ? [0xff, 0xd8, 0xff][i]! : (i * 7919) & 255)),
    );
    expectImagesError(() => decodeImage(junk), /junk\.jpg is not a readable JPEG/);
  });

  it('unknown formats, empty and missing files are E_IMAGES', () => {
    const gif = join(dir, 'fake.jpg');
    writeFileSync(gif, 'GIF89a........');
    expectImagesError(() => decodeImage(gif), /fake\.jpg has an unsupported image format \(not JPEG or PNG\)/);
    const empty = join(dir, 'empty.png');
    writeFileSync(empty, '');
    expectImagesError(() => decodeImage(empty), /empty\.png is empty/);
    expectImagesError(() => decodeImage(join(dir, 'nope.jpg')), /nope\.jpg does not exist/);
  });
});

// --- PNG: a tiny encoder for the tests (filter per row chosen by the caller, optional Adam7) ---------------------------
/** `rows(w, h)` returns the packed (unfiltered) scanlines of a w x h sub-image; filters cycle 0..4. */
function encodePng(
  width: number,
  height: number,
  depth: number,
  colorType: number,
  pixel: (x: number, y: number) => number[],
  opts: { interlace?: boolean; palette?: number[] } = {},
): Uint8Array {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType]!;
  const bpp = Math.max(1, (channels * depth) >> 3);
  const passes = opts.interlace
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const raw: number[] = [];
  let filterType = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0!) / dx!),
      ph = Math.ceil((height - y0!) / dy!);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * channels * depth) / 8);
    let prev = new Array(stride).fill(0);
    for (let r = 0; r < ph; r++) {
      const line = new Array(stride).fill(0);
      let bit = 0;
      for (let q = 0; q < pw; q++) {
        for (const v of pixel(x0! + q * dx!, y0! + r * dy!)) {
          if (depth === 16) {
            line[bit >> 3] = v >> 8;
            line[(bit >> 3) + 1] = v & 255;
          } else {
            line[bit >> 3] |= v << (8 - depth - (bit & 7));
          }
          bit += depth;
        }
      }
      const f = filterType++ % 5;
      const enc = line.map((v, i) => {
        const a = i >= bpp ? line[i - bpp] : 0,
          b = prev[i],
          c = i >= bpp ? prev[i - bpp] : 0;
        const p = a + b - c;
        const pred = [
          0,
          a,
          b,
          (a + b) >> 1,
          Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
            ? a
            : Math.abs(p - b) <= Math.abs(p - c)
              ? b
              : c,
        ][f]!;
        return (v - pred) & 255;
      });
      raw.push(f, ...enc);
      prev = line;
    }
  }
  const chunks: Uint8Array[] = [];
  if (opts.palette) chunks.push(pngChunk('PLTE', Uint8Array.from(opts.palette)));
  const z = deflateSync(Uint8Array.from(raw));
  chunks.push(pngChunk('IDAT', z.subarray(0, 10)), pngChunk('IDAT', z.subarray(10)));
  return pngFile({ width, height, depth, colorType, interlace: opts.interlace }, chunks);
}

describe('decodeImage: PNG', () => {
  const W = 11,
    H = 9; // odd sizes exercise partial bytes and the small Adam7 passes
  const rgb = (x: number, y: number) => [(x * 23) & 255, (y * 29) & 255, (x * y * 7) & 255];

  it.each([
    ['RGB 8-bit', 8, 2, (x: number, y: number) => rgb(x, y), (x: number, y: number) => rgb(x, y)],
    [
      'RGBA 8-bit (alpha dropped)',
      8,
      6,
      (x: number, y: number) => [...rgb(x, y), 17],
      (x: number, y: number) => rgb(x, y),
    ],
    [
      'RGB 16-bit (high byte)',
      16,
      2,
      (x: number, y: number) => rgb(x, y).map((v) => v * 256 + 255),
      (x: number, y: number) => rgb(x, y),
    ],
    ['grey 8-bit', 8, 0, (x: number) => [x * 20], (x: number) => [x * 20, x * 20, x * 20]],
    [
      'grey 1-bit',
      1,
      0,
      (x: number, y: number) => [(x + y) & 1],
      (x: number, y: number) => new Array(3).fill(((x + y) & 1) * 255),
    ],
    ['grey 4-bit', 4, 0, (x: number) => [x], (x: number) => new Array(3).fill(x * 17)],
    ['grey + alpha 16-bit', 16, 4, (x: number) => [x * 4000, 65535], (x: number) => new Array(3).fill((x * 4000) >> 8)],
  ] as const)('%s', (_name, depth, colorType, pixel, expected) => {
    for (const interlace of [false, true]) {
      const img = decodeImageBytes(encodePng(W, H, depth, colorType, pixel, { interlace }), 'x.png');
      expect([img.width, img.height]).toEqual([W, H]);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          expect(
            Array.from(img.data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)),
            `${x},${y} interlace=${interlace}`,
          ).toEqual(expected(x, y));
        }
    }
  });

  it('palette 2-bit', () => {
    const palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9];
    const img = decodeImageBytes(
      encodePng(W, H, 2, 3, (x, y) => [(x + 2 * y) % 4], { palette }),
      'p.png',
    );
    const i = (3 + 2 * 5) % 4;
    expect(Array.from(img.data.subarray((5 * W + 3) * 3, (5 * W + 3) * 3 + 3))).toEqual(
      palette.slice(3 * i, 3 * i + 3),
    );
  });

  it('truncated or damaged PNGs are E_IMAGES naming the file', () => {
    const good = encodePng(W, H, 8, 2, rgb);
    const p = join(dir, 'cut.png');
    writeFileSync(p, good.subarray(0, good.length - 30));
    expectImagesError(() => decodeImage(p), /cut\.png is not a readable PNG \(.*truncated/);
    const flipped = good.slice();
    flipped[70] = flipped[70]! ^ 0xff; // inside the second IDAT chunk's data (it starts at byte 55)
    expectImagesError(
      () => decodeImageBytes(flipped, 'flip.png'),
      /flip\.png is not a readable PNG \(chunk IDAT fails its CRC\)/,
    );
  });
});

describe('listImages', () => {
  it('lists jpg/jpeg/png by name (code-point order), skipping other files, dot-files and folders', () => {
    const d = join(dir, 'list');
    mkdirSync(join(d, 'sub.jpg'), { recursive: true });
    for (const n of ['b.jpg', 'a.PNG', 'c.jpeg', 'B.JPG', 'notes.txt', '.hidden.jpg', '10.jpg', '9.jpg'])
      writeFileSync(join(d, n), 'x');
    expect(listImages(d).map((p) => p.slice(d.length + 1))).toEqual([
      '10.jpg',
      '9.jpg',
      'B.JPG',
      'a.PNG',
      'b.jpg',
      'c.jpeg',
    ]);
  });
  it('an empty or missing folder is E_IMAGES', () => {
    const d = join(dir, 'empty');
    mkdirSync(d);
    writeFileSync(join(d, 'readme.md'), '');
    expectImagesError(() => listImages(d), new RegExp(`^no images in ${d} \\(looked for .jpg, .jpeg, .png\\)$`));
    expectImagesError(() => listImages(join(dir, 'missing')), /image folder .*missing does not exist/);
    expectImagesError(() => listImages(join(d, 'readme.md')), /is not a folder/);
  });
});

const hasFaces = existsSync(FACES);
if (!hasFaces) console.warn(`skipping the real-photo tests: ${FACES} is absent`);

describe.skipIf(!hasFaces)('real photos (shared/images/faces)', () => {
  it('decodes every photo (baseline and progressive) and preprocesses it for Ultra-Light', () => {
    const files = listImages(FACES);
    expect(files.length).toBeGreaterThanOrEqual(20);
    const sizes: Record<string, [number, number]> = {
      '1.jpg': [720, 478],
      '17.jpg': [1600, 898],
      '13.jpg': [450, 344],
    };
    for (const f of files) {
      const before = sha(f);
      const img = decodeImage(f);
      const name = f.slice(FACES.length + 1);
      if (sizes[name]) expect([img.width, img.height], name).toEqual(sizes[name]);
      const t = preprocess(img, ULTRA_LIGHT_FACE_320);
      expect(t.length).toBe(3 * 320 * 240);
      let min = Infinity,
        max = -Infinity;
      for (const v of t) ((min = Math.min(min, v)), (max = Math.max(max, v)));
      expect(min).toBeGreaterThanOrEqual(-127 / 128);
      expect(max).toBeLessThanOrEqual(1);
      expect(sha(f)).toBe(before);
    }
  });
});
