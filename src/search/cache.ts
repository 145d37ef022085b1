// On-disk cache of one image's head outputs (the post-processing reference's input arrays, float32), so a search
// runs the network once per image across runs. One file per image, named by the key (a hash of everything that
// decides the outputs); written atomically (temp + rename); checked on read (magic, header, key, sizes, SHA-256 of the
// whole record), and anything that does not check out is reported as corrupt so the caller recomputes it.
//
// Layout (little-endian):  "PDHEADC1" | u32 header bytes | header JSON | zero pad to 4 | float32 arrays | sha256 (32)
//   header = { format, key, width, height, arrays: [{ name, length }] }  (width/height: the photo's pixel size)
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs';

const MAGIC = 'PDHEADC1';
export const CACHE_FORMAT = 1;

export interface CacheRecord {
  key: string;
  /** Pixel size of the photo (after EXIF orientation): what boxes map back to. */
  width: number;
  height: number;
  arrays: { name: string; data: Float32Array }[];
}

export type CacheRead = { status: 'hit'; record: CacheRecord } | { status: 'missing' } | { status: 'corrupt'; reason: string };

/** The key of one image's record: SHA-256 over a canonical JSON of what decides the outputs. */
export function cacheKey(parts: { modelSha256: string; imageSha256: string; preprocess: unknown; inputShape: readonly number[]; outputs: readonly string[] }): string {
  const canonical = JSON.stringify({ format: CACHE_FORMAT, ...parts }, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
  return sha256Hex(canonical);
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function cachePath(dir: string, key: string): string {
  return join(dir, `${key}.bin`);
}

export function encodeCacheRecord(r: CacheRecord): Uint8Array {
  const header = Buffer.from(JSON.stringify({ format: CACHE_FORMAT, key: r.key, width: r.width, height: r.height, arrays: r.arrays.map((a) => ({ name: a.name, length: a.data.length })) }), 'utf8');
  const headStart = 12;
  const dataStart = align4(headStart + header.length);
  const floats = r.arrays.reduce((s, a) => s + a.data.length, 0);
  const end = dataStart + 4 * floats;
  const out = new Uint8Array(end + 32);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, headStart);
  const f = new Float32Array(out.buffer, dataStart, floats);
  let o = 0;
  for (const a of r.arrays) {
    f.set(a.data, o);
    o += a.data.length;
  }
  out.set(createHash('sha256').update(out.subarray(0, end)).digest(), end);
  return out;
}

/** Decode and check a record; `expectedKey` must match the one stored. */
export function decodeCacheRecord(bytes: Uint8Array, expectedKey: string): CacheRead {
  const bad = (reason: string): CacheRead => ({ status: 'corrupt', reason });
  if (bytes.length < 12 + 32 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) return bad('not a prunedet head-output cache file');
  const end = bytes.length - 32;
  const digest = createHash('sha256').update(bytes.subarray(0, end)).digest();
  if (Buffer.compare(digest, Buffer.from(bytes.subarray(end))) !== 0) return bad('checksum mismatch (truncated or altered)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headLen = dv.getUint32(8, true);
  if (12 + headLen > end) return bad('header overruns the file');
  let header: { format?: unknown; key?: unknown; width?: unknown; height?: unknown; arrays?: { name: string; length: number }[] };
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + headLen)).toString('utf8'));
  } catch {
    return bad('unreadable header');
  }
  if (header.format !== CACHE_FORMAT) return bad(`format ${String(header.format)}, expected ${CACHE_FORMAT}`);
  if (header.key !== expectedKey) return bad('key does not match (model, image or preprocessing changed)');
  const width = header.width, height = header.height;
  if (typeof width !== 'number' || typeof height !== 'number' || !Array.isArray(header.arrays)) return bad('incomplete header');
  const dataStart = align4(12 + headLen);
  const floats = header.arrays.reduce((s, a) => s + (Number.isInteger(a.length) && a.length >= 0 ? a.length : NaN), 0);
  if (!(dataStart + 4 * floats === end)) return bad('array sizes do not match the file size');
  // Copy out: the file buffer may not be 4-byte aligned.
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart, bytes.byteOffset + end));
  let o = 0;
  const arrays = header.arrays.map((a) => {
    const data = all.subarray(o, o + a.length);
    o += a.length;
    return { name: String(a.name), data };
  });
  return { status: 'hit', record: { key: expectedKey, width, height, arrays } };
}

export function readCacheRecord(dir: string, key: string): CacheRead {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(cachePath(dir, key));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'corrupt', reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  return decodeCacheRecord(bytes, key);
}

/** Write a record so that readers see either no file or the whole checked record. */
export function writeCacheRecord(dir: string, r: CacheRecord): void {
  writeFileAtomic(cachePath(dir, r.key), encodeCacheRecord(r));
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
