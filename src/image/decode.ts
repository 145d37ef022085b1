// Image files -> 8-bit RGB pixels: JPEG through jpeg-js, PNG through png.ts, chosen by the file's magic bytes; and the
// listing of an image folder. Resizing and normalisation are preprocess.ts. Input files are only ever read.
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PrunedetError } from '../errors';
import { inputFileError, readInputFile } from '../fs';
import { LIMITS } from '../limits';
import { decodePng, isPng } from './png';

/** 8-bit RGB, interleaved, rows top to bottom: data.length = width * height * 3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Apply the JPEG EXIF orientation tag like cv2.imread does by default (default true). */
  exifOrientation?: boolean;
  /** Refuse images above this many megapixels (default LIMITS.imageMegapixels). */
  maxMegapixels?: number;
  /** jpeg-js working-memory cap in MB (default 1024: a 100 MP image needs ~300 MB of component buffers + output). */
  maxMemoryUsageInMB?: number;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** Read and decode a JPEG or PNG file (at most LIMITS.imageFileBytes). Every failure is E_IMAGES naming the file. */
export function decodeImage(path: string, opts: DecodeOptions = {}): RgbImage {
  const bytes = readInputFile(
    path,
    'E_IMAGES',
    `image ${path}`,
    'pass an existing .jpg/.jpeg/.png file',
    LIMITS.imageFileBytes,
  );
  return decodeImageBytes(bytes, path, opts);
}

/**
 * The size a JPEG declares in its first SOF marker, read before decoding (undefined when no SOF is found: the decoder
 * then names what is wrong).
 */
export function jpegDeclaredSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const m = bytes[i + 1]!;
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      i += 2;
      continue;
    }
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 9 > bytes.length) return undefined;
      return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]! };
    }
    if (m === 0xda || len < 2) return undefined; // scan data before any frame header
    i += 2 + len;
  }
  return undefined;
}

/**
 * What the first bytes of an image say, checked without decoding: the format (JPEG or PNG, else E_IMAGES) and the
 * declared size against the megapixel limit (JPEG SOF, PNG IHDR). `bytes` may be a prefix of the file.
 */
function checkHeader(bytes: Uint8Array, name: string, maxMegapixels: number): 'jpeg' | 'png' {
  if (bytes.length === 0) {
    throw new PrunedetError('E_IMAGES', `image ${name} is empty (0 bytes)`, 'replace or remove the file');
  }
  const kind =
    bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff
      ? 'jpeg'
      : isPng(bytes)
        ? 'png'
        : undefined;
  if (!kind)
    throw new PrunedetError(
      'E_IMAGES',
      `image ${name} has an unsupported image format (not JPEG or PNG)`,
      'convert it to .jpg or .png',
    );
  const declared =
    kind === 'jpeg'
      ? jpegDeclaredSize(bytes)
      : bytes.length >= 24
        ? { width: readU32(bytes, 16), height: readU32(bytes, 20) }
        : undefined;
  if (declared && declared.width * declared.height > maxMegapixels * 1e6) {
    throw new PrunedetError(
      'E_IMAGES',
      `image ${name} is not a readable ${kind.toUpperCase()} (it declares ${declared.width}x${declared.height} pixels, above the ${maxMegapixels} MP limit)`,
      'downscale the image or remove it from the folder',
    );
  }
  if (kind === 'jpeg' && declared && (declared.width === 0 || declared.height === 0)) {
    throw new PrunedetError(
      'E_IMAGES',
      `image ${name} is not a readable JPEG (it declares ${declared.width}x${declared.height} pixels)`,
      're-encode the file or remove it from the folder',
    );
  }
  return kind;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Bytes of an image file read by checkImageFile: the signature, a PNG's IHDR, a JPEG's SOF behind usual EXIF. */
const HEADER_BYTES = 64 << 10;

/**
 * Check an image file from its first bytes (format, declared size, file size) without decoding it: commands that will
 * decode a whole folder later check every file first, so a bad one fails before anything is computed or written.
 */
export function checkImageFile(path: string, opts: DecodeOptions = {}): void {
  let fd: number | undefined;
  try {
    const size = statSync(path).size;
    if (size > LIMITS.imageFileBytes) {
      throw new PrunedetError(
        'E_IMAGES',
        `image ${path} is ${size.toLocaleString('en-US')} bytes, above prunedet's limit of ${LIMITS.imageFileBytes.toLocaleString('en-US')}`,
        'downscale the image or remove it from the folder',
      );
    }
    fd = openSync(path, 'r');
    const head = new Uint8Array(Math.min(size, HEADER_BYTES));
    const got = readSync(fd, head, 0, head.length, 0);
    checkHeader(head.subarray(0, got), path, opts.maxMegapixels ?? LIMITS.imageMegapixels);
  } catch (e) {
    if (e instanceof PrunedetError) throw e;
    throw inputFileError(e, 'E_IMAGES', `image ${path}`, 'pass an existing .jpg/.jpeg/.png file');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Decode JPEG or PNG bytes; `name` is used in error messages. */
export function decodeImageBytes(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): RgbImage {
  const maxMegapixels = opts.maxMegapixels ?? LIMITS.imageMegapixels;
  if (checkHeader(bytes, name, maxMegapixels) === 'jpeg') {
    let decoded: { width: number; height: number; data: Uint8Array; exifBuffer?: Uint8Array };
    try {
      decoded = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: false, // 3 channels; grey and CMYK/YCCK are converted to RGB by jpeg-js
        tolerantDecoding: true,
        maxResolutionInMP: maxMegapixels,
        maxMemoryUsageInMB: opts.maxMemoryUsageInMB ?? 1024,
      });
    } catch (e) {
      throw new PrunedetError(
        'E_IMAGES',
        `image ${name} is not a readable JPEG (${errorText(e)})`,
        're-encode the file or remove it from the folder',
      );
    }
    if (!(decoded.width > 0 && decoded.height > 0) || decoded.data.length !== decoded.width * decoded.height * 3) {
      throw new PrunedetError(
        'E_IMAGES',
        `image ${name} is not a readable JPEG (no image data)`,
        're-encode the file or remove it from the folder',
      );
    }
    const img: RgbImage = { width: decoded.width, height: decoded.height, data: decoded.data };
    const orientation = opts.exifOrientation === false || !decoded.exifBuffer ? 1 : exifOrientation(decoded.exifBuffer);
    return orientation > 1 ? orient(img, orientation) : img;
  }
  try {
    return decodePng(bytes, maxMegapixels * 1e6);
  } catch (e) {
    throw new PrunedetError(
      'E_IMAGES',
      `image ${name} is not a readable PNG (${errorText(e)})`,
      're-encode the file or remove it from the folder',
    );
  }
}

/**
 * The images of a folder: regular files named *.jpg, *.jpeg, *.png (any case), dot-files skipped, sorted by name
 * (code-point order, so the same on every machine). Full paths. Empty or missing folder -> E_IMAGES.
 */
export function listImages(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      throw new PrunedetError(
        'E_IMAGES',
        `image folder ${dir} is not a folder`,
        'pass a folder of .jpg/.jpeg/.png images',
      );
    }
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof PrunedetError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`;
    throw new PrunedetError('E_IMAGES', `image folder ${dir} ${why}`, 'pass a folder of .jpg/.jpeg/.png images');
  }
  const images = names
    .filter((n) => !n.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(n).toLowerCase()))
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isFile();
      } catch {
        return false; // dangling link
      }
    })
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (images.length === 0) {
    throw new PrunedetError(
      'E_IMAGES',
      `no images in ${dir} (looked for ${IMAGE_EXTENSIONS.join(', ')})`,
      'put the evaluation images in that folder or pass another one',
    );
  }
  return images.map((n) => join(dir, n));
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/**
 * EXIF orientation (tag 0x0112 in IFD0) from jpeg-js' exifBuffer (APP1 payload after "Exif\0"); 1 when absent/unreadable.
 */
export function exifOrientation(exif: Uint8Array): number {
  // jpeg-js strips "Exif\0"; the TIFF header follows the second pad byte. Accept it at 0 or 1.
  const start = exif[0] === 0 ? 1 : 0;
  if (exif.length < start + 8) return 1;
  const le = exif[start] === 0x49 && exif[start + 1] === 0x49;
  const be = exif[start] === 0x4d && exif[start + 1] === 0x4d;
  if (!le && !be) return 1;
  const dv = new DataView(exif.buffer, exif.byteOffset + start, exif.length - start);
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > dv.byteLength) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > dv.byteLength) return 1;
    if (u16(e) === 0x0112 && u16(e + 2) === 3) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** Apply EXIF orientation 2..8 so the pixels are upright (what cv2.imread returns). */
export function orient(img: RgbImage, orientation: number): RgbImage {
  const { width: W, height: H, data } = img;
  const swap = orientation >= 5;
  const w = swap ? H : W,
    h = swap ? W : H;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = W - 1 - x;
          sy = y;
          break; // mirror horizontally
        case 3:
          sx = W - 1 - x;
          sy = H - 1 - y;
          break; // rotate 180
        case 4:
          sx = x;
          sy = H - 1 - y;
          break; // mirror vertically
        case 5:
          sx = y;
          sy = x;
          break; // transpose
        case 6:
          sx = y;
          sy = H - 1 - x;
          break; // rotate 90 clockwise
        case 7:
          sx = W - 1 - y;
          sy = H - 1 - x;
          break; // transverse
        default:
          sx = W - 1 - y;
          sy = x;
          break; // 8: rotate 90 counter-clockwise
      }
      const s = (sy * W + sx) * 3,
        d = (y * w + x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: w, height: h, data: out };
}
