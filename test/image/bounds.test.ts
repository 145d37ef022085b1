// Image decoder bounds (src/limits.ts), on crafted files: a PNG whose data inflates far past what its header needs
// (inflate stops at the header's size), PNGs and JPEGs declaring more pixels than the limit (refused from the header,
// before any pixel memory), and input files above a byte limit.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { refused } from '../_support/refused';
import { readInputFile } from '../../src/fs';
import { decodeImageBytes, jpegDeclaredSize } from '../../src/image/decode';
import { pngChunk, pngFile } from '../_support/png';

const imagesError = (f: () => unknown, pattern: RegExp) => refused(f, 'E_IMAGES', pattern);

/** A 64x48 JPEG whose SOF header then claims `w`x`h`. */
function jpegDeclaring(w: number, h: number): Uint8Array {
  const data = Buffer.alloc(64 * 48 * 4, 128);
  const b = Buffer.from(jpeg.encode({ data, width: 64, height: 48 }, 80).data);
  const at = b.indexOf(Buffer.from([0xff, 0xc0]));
  b.writeUInt16BE(h, at + 5);
  b.writeUInt16BE(w, at + 7);
  return b;
}

describe('PNG', () => {
  it('a 1x1 PNG whose data inflates to 64 MB: refused when inflate passes the 4 bytes the header needs', () => {
    const bomb = pngFile({ width: 1, height: 1, depth: 8, colorType: 2 }, [
      pngChunk('IDAT', deflateSync(Buffer.alloc(64 << 20), { level: 9 })),
    ]);
    expect(bomb.length).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    imagesError(
      () => decodeImageBytes(bomb, 'bomb.png'),
      /image bomb\.png is not a readable PNG \(image data inflates past the 4 bytes a 1x1 image needs\)/,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
  });

  it('a PNG declaring more pixels than the limit is refused from its header', () => {
    const huge = pngFile({ width: 60000, height: 60000, depth: 8, colorType: 2 }, [
      pngChunk('IDAT', deflateSync(Buffer.alloc(100))),
    ]);
    imagesError(
      () => decodeImageBytes(huge, 'huge.png'),
      /huge\.png is not a readable PNG \(it declares 60000x60000 pixels, above the 100 MP limit\)/,
    );
  });

  it('an exact-size PNG still decodes (interlaced too)', () => {
    for (const interlace of [false, true]) {
      const w = 5,
        h = 3;
      // Adam7 rows for 5x3: passes 1..7 have widths 1,0,1,1,2,2,5... rebuilt here from the same rule the decoder uses
      const passes = interlace
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
      const rows: number[] = [];
      for (const [x0, y0, dx, dy] of passes) {
        const pw = Math.ceil((w - x0!) / dx!),
          ph = Math.ceil((h - y0!) / dy!);
        if (pw <= 0 || ph <= 0) continue;
        for (let r = 0; r < ph; r++) rows.push(0, ...new Array<number>(pw * 3).fill(7));
      }
      const img = decodeImageBytes(
        pngFile({ width: w, height: h, depth: 8, colorType: 2, interlace }, [
          pngChunk('IDAT', deflateSync(Uint8Array.from(rows))),
        ]),
        'ok.png',
      );
      expect([img.width, img.height, img.data.every((v) => v === 7)]).toEqual([5, 3, true]);
    }
  });
});

describe('JPEG', () => {
  it('the declared size is read from the SOF header', () => {
    expect(jpegDeclaredSize(jpegDeclaring(12000, 9000))).toEqual({ width: 12000, height: 9000 });
  });

  it('a JPEG declaring more pixels than the limit is refused before decoding', () => {
    imagesError(
      () => decodeImageBytes(jpegDeclaring(65000, 65000), 'huge.jpg'),
      /huge\.jpg is not a readable JPEG \(it declares 65000x65000 pixels, above the 100 MP limit\)/,
    );
    imagesError(
      () => decodeImageBytes(jpegDeclaring(12000, 9000), 'big.jpg'),
      /it declares 12000x9000 pixels, above the 100 MP limit/,
    );
    imagesError(
      () => decodeImageBytes(jpegDeclaring(0, 0), 'zero.jpg'),
      /zero\.jpg is not a readable JPEG \(it declares 0x0 pixels\)/,
    );
  });
});

describe('input files', () => {
  it('a file above the byte limit is refused by its size, before it is read', () => {
    const p = join(mkdtempSync(join(tmpdir(), 'pd-img-bounds-')), 'big.jpg');
    writeFileSync(p, Buffer.alloc(2048));
    refused(
      () => readInputFile(p, 'E_IMAGES', `image ${p}`, 'downscale it', 1024),
      'E_IMAGES',
      /image .*big\.jpg is 2,048 bytes, above prunedet's limit of 1,024; downscale it/,
    );
  });
});
