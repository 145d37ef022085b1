// Minimal PNG decoder (Node zlib for the inflate): every colour type and bit depth, Adam7 interlacing, CRCs checked.
// Output is 8-bit RGB the way cv2.imread(path, IMREAD_COLOR) sees it: alpha dropped (not composited), 16-bit samples
// reduced to their high byte, low-bit-depth grey scaled to 0..255. Ancillary chunks (gAMA, iCCP, tRNS, ...) ignored.
import { crc32, inflateSync } from 'node:zlib';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Channels per colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const VALID_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
// Adam7 passes: [x0, y0, dx, dy].
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Decode PNG bytes to RGB. Throws a plain Error with the reason; the caller adds the file name. */
export function decodePng(bytes: Uint8Array, maxPixels: number): { width: number; height: number; data: Uint8Array } {
  if (!isPng(bytes)) throw new Error('missing PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0,
    height = 0,
    depth = 0,
    colorType = -1,
    interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw new Error(`chunk header cut short at byte ${pos}`);
    const len = view.getUint32(pos);
    // Printable in messages even when damaged.
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8)).replace(/[^A-Za-z]/g, '?');
    if (pos + 12 + len > bytes.length) throw new Error(`chunk ${type} cut short (file truncated?)`);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) >>> 0 !== view.getUint32(pos + 8 + len))
      throw new Error(`chunk ${type} fails its CRC`);
    pos += 12 + len;
    if (type === 'IHDR') {
      if (len !== 13) throw new Error('bad IHDR length');
      const ihdr = new DataView(data.buffer, data.byteOffset, 13);
      width = ihdr.getUint32(0);
      height = ihdr.getUint32(4);
      depth = data[8]!;
      colorType = data[9]!;
      interlace = data[12]!;
      if (!(colorType in CHANNELS) || !VALID_DEPTHS[colorType]!.includes(depth))
        throw new Error(`colour type ${colorType} with bit depth ${depth} is not valid PNG`);
      if (data[10] !== 0 || data[11] !== 0 || interlace > 1)
        throw new Error('unknown compression, filter or interlace method');
      if (width === 0 || height === 0) throw new Error('zero width or height');
      if (width * height > maxPixels)
        throw new Error(`it declares ${width}x${height} pixels, above the ${Math.round(maxPixels / 1e6)} MP limit`);
    } else if (type === 'PLTE') {
      palette = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
  }
  if (colorType < 0) throw new Error('no IHDR chunk');
  if (idat.length === 0) throw new Error('no image data (IDAT)');
  if (!sawEnd) throw new Error('no IEND chunk (file truncated?)');
  if (colorType === 3 && !palette) throw new Error('palette image without PLTE chunk');

  const channels = CHANNELS[colorType]!;
  const bitsPerPixel = channels * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter byte distance
  const passes = interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  // The exact inflated size the header implies: a filter byte plus the packed samples per row of every pass. Inflate
  // stops there, so a small file that inflates to gigabytes (a "zip bomb") costs no more memory than its image.
  let expected = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx),
      ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * bitsPerPixel) / 8));
  }
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(
        `image data inflates past the ${expected.toLocaleString('en-US')} bytes a ${width}x${height} image needs`,
      );
    throw new Error(`image data does not inflate (${(e as Error).message})`);
  }
  if (raw.length > expected)
    throw new Error(
      `image data inflates past the ${expected.toLocaleString('en-US')} bytes a ${width}x${height} image needs`,
    );
  const out = new Uint8Array(width * height * 3);
  let offset = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitsPerPixel) / 8);
    let prev: Uint8Array = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      if (offset + 1 + stride > raw.length) throw new Error('image data too short (file truncated?)');
      const filter = raw[offset]!;
      const line = raw.subarray(offset + 1, offset + 1 + stride);
      offset += 1 + stride;
      unfilter(filter, line, prev, bpp);
      const y = y0 + r * dy;
      for (let q = 0; q < pw; q++) {
        const o = (y * width + x0 + q * dx) * 3;
        writePixel(line, q, depth, colorType, palette, out, o);
      }
      prev = line;
    }
  }
  return { width, height, data: out };
}

function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = line.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i]! + prev[i]!) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) line[i] = (line[i]! + ((i >= bpp ? line[i - bpp]! : 0) + prev[i]!) / 2) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp]! : 0,
          b = prev[i]!,
          c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a),
          pb = Math.abs(p - b),
          pc = Math.abs(p - c);
        line[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw new Error(`unknown row filter ${filter}`);
  }
}

/** Sample `k` (0-based) of a line of `depth`-bit samples, as an 8-bit value (high byte for 16-bit). */
function sample8(line: Uint8Array, k: number, depth: number): number {
  if (depth === 8) return line[k]!;
  if (depth === 16) return line[2 * k]!;
  const perByte = 8 / depth;
  const byte = line[Math.floor(k / perByte)]!;
  const shift = 8 - depth * ((k % perByte) + 1);
  return (byte >> shift) & ((1 << depth) - 1);
}

function writePixel(
  line: Uint8Array,
  q: number,
  depth: number,
  colorType: number,
  palette: Uint8Array | undefined,
  out: Uint8Array,
  o: number,
): void {
  switch (colorType) {
    case 0: {
      const v = sample8(line, q, depth);
      const g = depth < 8 ? (v * 255) / ((1 << depth) - 1) : v;
      out[o] = out[o + 1] = out[o + 2] = g;
      return;
    }
    case 2:
      out[o] = sample8(line, 3 * q, depth);
      out[o + 1] = sample8(line, 3 * q + 1, depth);
      out[o + 2] = sample8(line, 3 * q + 2, depth);
      return;
    case 3: {
      const idx = sample8(line, q, depth);
      // Out-of-range indices are an error in libpng's eyes; show them black rather than failing the whole image.
      out[o] = palette![3 * idx] ?? 0;
      out[o + 1] = palette![3 * idx + 1] ?? 0;
      out[o + 2] = palette![3 * idx + 2] ?? 0;
      return;
    }
    case 4:
      out[o] = out[o + 1] = out[o + 2] = sample8(line, 2 * q, depth);
      return;
    case 6:
      out[o] = sample8(line, 4 * q, depth);
      out[o + 1] = sample8(line, 4 * q + 1, depth);
      out[o + 2] = sample8(line, 4 * q + 2, depth);
      return;
  }
}
