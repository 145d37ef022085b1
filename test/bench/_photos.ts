// Seeded "photos of COCO size" for the search benchmarks: images of the sizes COCO val2017 has most (640 wide or 640
// high, landscape and portrait), each a smooth background with a dozen coloured shapes and sensor-like noise, so the
// network sees varied content. Generated at bench time as PNG (zlib is native; jpeg-js needs ~0.2 s to encode one
// 640x480 photo, which would dominate a 5,000-image bench). The same seed gives the same files on every machine.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { mulberry32 } from '../_support/prng';
import { pngChunk } from '../_support/png';

/** Sizes [width, height] common in COCO val2017. */
const SIZES: [number, number][] = [
  [640, 480],
  [640, 427],
  [640, 425],
  [480, 640],
  [640, 428],
  [640, 512],
  [427, 640],
  [640, 360],
  [500, 375],
  [640, 640],
];

/** One photo's RGB pixels and size. */
export function photoPixels(seed: number): { width: number; height: number; data: Buffer } {
  const r = mulberry32(seed * 2654435761);
  const [width, height] = SIZES[Math.floor(r() * SIZES.length)]!;
  const data = Buffer.alloc(width * height * 3);
  const c0 = [r() * 255, r() * 255, r() * 255],
    c1 = [r() * 255, r() * 255, r() * 255];
  for (let y = 0; y < height; y++) {
    const t = y / height;
    const cr = c0[0]! + (c1[0]! - c0[0]!) * t,
      cg = c0[1]! + (c1[1]! - c0[1]!) * t,
      cb = c0[2]! + (c1[2]! - c0[2]!) * t;
    for (let o = 3 * y * width, e = o + 3 * width; o < e; o += 3) {
      data[o] = cr;
      data[o + 1] = cg;
      data[o + 2] = cb;
    }
  }
  const shapes = 6 + Math.floor(r() * 10);
  for (let s = 0; s < shapes; s++) {
    const cx = r() * width,
      cy = r() * height,
      rx = 10 + r() * width * 0.3,
      ry = 10 + r() * height * 0.3;
    const ellipse = r() < 0.5,
      cr = r() * 255,
      cg = r() * 255,
      cb = r() * 255;
    for (let y = Math.max(0, Math.ceil(cy - ry)); y < Math.min(height, cy + ry); y++) {
      const dy = (y - cy) / ry;
      const half = ellipse ? rx * Math.sqrt(Math.max(0, 1 - dy * dy)) : rx;
      for (let x = Math.max(0, Math.ceil(cx - half)); x < Math.min(width, cx + half); x++) {
        const o = 3 * (y * width + x);
        data[o] = cr;
        data[o + 1] = cg;
        data[o + 2] = cb;
      }
    }
  }
  // Noise from a cheap integer hash (a generator call per pixel would dominate).
  let h = seed | 0;
  for (let o = 0; o < data.length; o += 3) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) + o;
    const n = ((h >>> 24) % 25) - 12;
    data[o] = Math.min(255, Math.max(0, data[o]! + n));
    data[o + 1] = Math.min(255, Math.max(0, data[o + 1]! + n));
    data[o + 2] = Math.min(255, Math.max(0, data[o + 2]! + n));
  }
  return { width, height, data };
}

/** An 8-bit RGB PNG of the pixels (filter 0 on every row, zlib level 1). */
export function encodePng(p: { width: number; height: number; data: Buffer }): Buffer {
  const row = 3 * p.width;
  const raw = Buffer.alloc((row + 1) * p.height);
  for (let y = 0; y < p.height; y++) p.data.copy(raw, y * (row + 1) + 1, y * row, (y + 1) * row);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(p.width, 0);
  ihdr.writeUInt32BE(p.height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 1 })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Write photos seed .. seed + count - 1 as dir/img-NNNNN.png. */
export function writePhotos(dir: string, count: number, seed = 1): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++)
    writeFileSync(join(dir, `img-${String(i).padStart(5, '0')}.png`), encodePng(photoPixels(seed + i)));
}
