// The cache record of one photo (format 2): exactly what the paper's oracle needs, nothing more. With the removed
// anchors' scores forced to zero, a candidate's detections depend only on the (anchor, label, score) pairs above the
// score threshold, those anchors' box values and the rank order among the pairs; so a record holds those pairs (scores
// as float32 bit patterns, in rank order: score desc, anchor asc, label asc), the 4 head box values of each anchor that
// has a pair, the photo's pixel size and its key. A record made at threshold t serves every search at a threshold >= t:
// the pairs above a higher threshold are a prefix of the list.
//
// Anchors are numbered in slots in the order their first pair appears, and the file is cut in blocks of 1024 pairs
// that carry the slots they introduce; so the pairs a candidate's walk reaches (a few hundred of tens of thousands:
// it stops at max detections) and their anchors are a prefix of the file, and evaluation reads only that (RecordReader).
// Layout (little-endian; every section starts on a multiple of 4):
//   "PDSPARSE" | u32 header bytes | u32 crc32(header) | header JSON | pad | block 0 | block 1 | ...
//   block b = score f32[n] | slot u16|u32[n] | label u16[n] | anchor u32[u] | deltas f32[4u]   (n pairs, u new slots)
//   header = { format, key, width, height, scores, background, classes, anchorCount, threshold, pairs, slots,
//              slotBytes, blockPairs, blocks: [[u, crc32(block)], ...] }
// Written atomically (temp + rename: concurrent writers of one key are safe, readers see a whole record or none);
// checked on read (magic, header CRC, every block's CRC as it is read, sizes). An older format (the dense "PDHEADC1"
// records of format 1, or any other format number) is reported stale and rebuilt, never read as this one.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { PrunedetError } from '../errors';
import { writeFileAtomic } from '../fs';
import { expF, f32, sigmoidF } from '../postprocess/float32';
import { levelMaps, type LevelShape, type PostprocessInput } from '../postprocess/reference';
import { foregroundCount, labelColumn, type PostprocessSpec } from '../postprocess/spec';
import { OrderScratch } from '../sort';
import { cachePath } from './cache';

export const RECORD_FORMAT = 2;
const MAGIC = 'PDSPARSE';
const DENSE_MAGIC = 'PDHEADC1';

/** What a record's scores were computed with; a record is only read by a search with the same. */
export interface RecordScoring {
  scores: PostprocessSpec['scores'];
  background: PostprocessSpec['background'];
  /** Score columns per anchor, background included. */
  classes: number;
  /** Anchors on the anchor axis. */
  anchorCount: number;
}

/** Scoring plus the score threshold (float32) of the search that reads the record. */
export interface RecordExpectation extends RecordScoring {
  threshold: number;
}

export interface SparseRecord {
  key: string;
  /** Pixel size of the photo (after EXIF orientation). */
  width: number;
  height: number;
  /** The float32 threshold the pairs were cut at (strictly above). */
  threshold: number;
  /** Anchor index of each slot, ascending. */
  anchors: Uint32Array;
  /** The 4 head box values of each slot, in the order the post-processing reads them (deltas, or xyxy for decoder none). */
  deltas: Float32Array;
  /** Per pair, in rank order. */
  score: Float32Array;
  slot: Uint16Array | Uint32Array;
  label: Uint16Array;
}

export type RecordRead =
  | { status: 'hit'; record: SparseRecord; bytes: number }
  | { status: 'missing' }
  | { status: 'stale'; reason: string }
  | { status: 'corrupt'; reason: string };

export function recordScoring(spec: PostprocessSpec, classes: number, anchorCount: number): RecordScoring {
  return { scores: spec.scores, background: spec.background, classes, anchorCount };
}

/** Pair collection scratch (one per thread). */
export class PairScratch {
  label = new Uint16Array(0);
  anchor = new Uint32Array(0);
  score = new Float32Array(0);
  key = new Uint32Array(0);
  order = new Int32Array(0);
  n = 0;
  readonly sort = new OrderScratch();
  private scoreBits = new Uint32Array(this.score.buffer);

  push(anchor: number, label: number, score: number): void {
    if (this.n === this.label.length) {
      const size = Math.max(4096, 2 * this.n);
      const l = new Uint16Array(size),
        a = new Uint32Array(size),
        s = new Float32Array(size);
      l.set(this.label);
      a.set(this.anchor);
      s.set(this.score);
      this.label = l;
      this.anchor = a;
      this.score = s;
      this.scoreBits = new Uint32Array(s.buffer);
      this.key = new Uint32Array(size);
      this.order = new Int32Array(size);
    }
    this.anchor[this.n] = anchor;
    this.label[this.n] = label;
    this.score[this.n] = score;
    this.n++;
  }

  /** order[0..n) = the pairs in rank order (they were pushed in anchor, label order; scores are > 0). */
  rank(): Int32Array {
    // Positive float32 values order as their bit patterns; +Inf included.
    this.key.set(this.scoreBits.subarray(0, this.n));
    this.sort.orderU32Desc(this.key, this.n, this.order);
    return this.order;
  }
}

/**
 * The record of one photo's head outputs: every (anchor, label) pair whose score (the post-processing reference's
 * scoreAnchor, bit for bit) is > f32(spec.scoreThreshold), and the box values of their anchors. Rows where no label
 * can pass are skipped without computing the softmax (a proven bound, see softmaxPairs).
 */
export function buildSparseRecord(
  spec: PostprocessSpec,
  classes: number,
  levels: readonly LevelShape[],
  input: PostprocessInput,
  meta: { key: string; width: number; height: number },
  scratch = new PairScratch(),
): SparseRecord {
  const C = classes;
  const K = foregroundCount(spec, C);
  if (K > 0xffff)
    throw new PrunedetError(
      'E_POSTPROCESS',
      `the model has ${K} classes; search's cache holds at most 65535`,
      'search a model with fewer classes',
    );
  const thr = f32(spec.scoreThreshold);
  const cols = new Int32Array(K);
  for (let k = 0; k < K; k++) cols[k] = labelColumn(spec, k);
  const row = new Float32Array(C);
  const exps = new Float64Array(C);
  scratch.n = 0;
  // Bounds that prove a label cannot pass (see softmaxPairs / sigmoid below).
  const softmaxLimit = thr > 0 ? Math.log(thr) - 1e-3 : -Infinity;
  const sigmoidLimit = thr > 0 && thr < 0.5 ? Math.log(thr / (1 - thr)) - 0.01 : -Infinity;
  let n = 0;
  levels.forEach((l, li) => {
    const hw = l.h * l.w;
    const A = l.anchorsPerLocation;
    for (let p = 0; p < hw * A; p++, n++) {
      let src: Float32Array;
      if (input.form === 'concat') {
        src = input.scores.subarray(n * C, n * C + C);
      } else {
        const a = p % A;
        const s = levelMaps(input, 'search')[li]!.cls,
          o = a * C * hw + (p - a) / A;
        for (let j = 0; j < C; j++) row[j] = s[o + j * hw]!;
        src = row;
      }
      if (spec.scores === 'softmax') softmaxPairs(src, C, cols, thr, softmaxLimit, exps, n, scratch);
      else if (spec.scores === 'sigmoid') {
        for (let k = 0; k < K; k++) {
          const x = src[cols[k]!]!;
          if (!(x > sigmoidLimit)) continue; // sigmoid(x) <= thr / 1.005 (or NaN, -Inf): never passes
          const v = sigmoidF(x);
          if (v > thr) scratch.push(n, k, v);
        }
      } else {
        for (let k = 0; k < K; k++) {
          const v = src[cols[k]!]!;
          if (v > thr) scratch.push(n, k, v);
        }
      }
    }
  });
  return assemble(levels, input, meta, thr, scratch);
}

/**
 * One softmax row, as scoreAnchor computes it: max m (NaN row: nothing; all -Inf: nothing; +Inf: 1/count to the
 * +Inf columns), then p_k = f32(expF(f32(x_k - m)) / sum) with sum in scoreAnchor's lane order. Skip rule: sum >= 1
 * (the max column contributes expF(0) = 1 and float additions of non-negatives never go below an operand), so
 * p_k <= expF(f32(x_k - m)); when f32(x_k - m) <= ln(thr) - 1e-3, exp is <= thr * (1 - 9.9e-4) and expF (within
 * 1.2 ulp) stays below thr. A row where every label is below that bound has no pair and needs no exp.
 */
function softmaxPairs(
  src: Float32Array,
  C: number,
  cols: Int32Array,
  thr: number,
  limit: number,
  exps: Float64Array,
  anchor: number,
  out: PairScratch,
): void {
  let m = -Infinity;
  for (let j = 0; j < C; j++) {
    const x = src[j]!;
    if (x !== x) return;
    if (x > m) m = x;
  }
  if (m === -Infinity) return;
  const K = cols.length;
  if (m === Infinity) {
    let inf = 0;
    for (let j = 0; j < C; j++) if (src[j] === Infinity) inf++;
    const share = f32(1 / inf);
    for (let k = 0; k < K; k++) if (src[cols[k]!] === Infinity && share > thr) out.push(anchor, k, share);
    return;
  }
  let any = false;
  for (let k = 0; k < K; k++) {
    if (f32(src[cols[k]!]! - m) > limit) {
      any = true;
      break;
    }
  }
  if (!any) return;
  const c4 = C - (C % 4);
  let l0 = 0,
    l1 = 0,
    l2 = 0,
    l3 = 0;
  for (let j = 0; j < C; j++) exps[j] = expF(f32(src[j]! - m));
  for (let j = 0; j < c4; j += 4) {
    l0 = f32(l0 + exps[j]!);
    l1 = f32(l1 + exps[j + 1]!);
    l2 = f32(l2 + exps[j + 2]!);
    l3 = f32(l3 + exps[j + 3]!);
  }
  let sum = f32(f32(l0 + l1) + f32(l2 + l3));
  for (let j = c4; j < C; j++) sum = f32(sum + exps[j]!);
  for (let k = 0; k < K; k++) {
    const v = f32(exps[cols[k]!]! / sum);
    if (v > thr) out.push(anchor, k, v);
  }
}

/** The collected pairs ranked, their anchors numbered in slots (first use in rank order), the box values copied. */
function assemble(
  levels: readonly LevelShape[],
  input: PostprocessInput,
  meta: { key: string; width: number; height: number },
  thr: number,
  s: PairScratch,
): SparseRecord {
  const P = s.n;
  const order = s.rank();
  const score = new Float32Array(P);
  const label = new Uint16Array(P);
  const slotOf = new Map<number, number>();
  const anchorsList: number[] = [];
  const pairSlot = new Uint32Array(P);
  for (let i = 0; i < P; i++) {
    const q = order[i]!;
    score[i] = s.score[q]!;
    label[i] = s.label[q]!;
    const a = s.anchor[q]!;
    let slot = slotOf.get(a);
    if (slot === undefined) {
      slot = anchorsList.length;
      slotOf.set(a, slot);
      anchorsList.push(a);
    }
    pairSlot[i] = slot;
  }
  const U = anchorsList.length;
  const anchors = Uint32Array.from(anchorsList);
  const slot = U <= 0x10000 ? Uint16Array.from(pairSlot) : pairSlot;
  const deltas = new Float32Array(4 * U);
  const offsets: number[] = [];
  let o = 0;
  for (const l of levels) {
    offsets.push(o);
    o += l.h * l.w * l.anchorsPerLocation;
  }
  offsets.push(o);
  for (let u = 0; u < U; u++) {
    const n = anchors[u]!;
    if (input.form === 'concat') {
      deltas.set(input.boxes.subarray(4 * n, 4 * n + 4), 4 * u);
      continue;
    }
    let li = 0;
    while (n >= offsets[li + 1]!) li++;
    const l = levels[li]!;
    const hw = l.h * l.w;
    const p = n - offsets[li]!;
    const a = p % l.anchorsPerLocation;
    const r = levelMaps(input, 'search')[li]!.reg,
      base = a * 4 * hw + (p - a) / l.anchorsPerLocation;
    for (let j = 0; j < 4; j++) deltas[4 * u + j] = r[base + j * hw]!;
  }
  return { key: meta.key, width: meta.width, height: meta.height, threshold: thr, anchors, deltas, score, slot, label };
}

const align4 = (n: number) => (n + 3) & ~3;

/** Pairs per block. */
export const BLOCK_PAIRS = 1024;

function blockBytes(n: number, u: number, slotBytes: number): number {
  return 4 * n + align4(slotBytes * n) + align4(2 * n) + 20 * u;
}

export function encodeSparseRecord(r: SparseRecord, scoring: RecordScoring): Uint8Array {
  const U = r.anchors.length,
    P = r.score.length;
  const slotBytes = r.slot.BYTES_PER_ELEMENT;
  // Blocks: pairs [b*B, (b+1)*B) and the slots they use first (slots are numbered in first use, so a range).
  const blocks: { p0: number; p1: number; u0: number; u1: number }[] = [];
  let u = 0;
  for (let p0 = 0; p0 < P; p0 += BLOCK_PAIRS) {
    const p1 = Math.min(P, p0 + BLOCK_PAIRS);
    const u0 = u;
    for (let i = p0; i < p1; i++) if (r.slot[i]! + 1 > u) u = r.slot[i]! + 1;
    blocks.push({ p0, p1, u0, u1: u });
  }
  const bodies = blocks.map((b) => {
    const n = b.p1 - b.p0,
      nu = b.u1 - b.u0;
    const out = new Uint8Array(blockBytes(n, nu, slotBytes));
    let o = 0;
    const put = (a: ArrayBufferView, bytes: number) => {
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
      o += align4(bytes);
    };
    put(r.score.subarray(b.p0, b.p1), 4 * n);
    put(r.slot.subarray(b.p0, b.p1), slotBytes * n);
    put(r.label.subarray(b.p0, b.p1), 2 * n);
    put(r.anchors.subarray(b.u0, b.u1), 4 * nu);
    put(r.deltas.subarray(4 * b.u0, 4 * b.u1), 16 * nu);
    return out;
  });
  if (u !== U) throw new Error(`sparse record: ${U} slots but the pairs use ${u}`);
  const header = Buffer.from(
    JSON.stringify({
      format: RECORD_FORMAT,
      key: r.key,
      width: r.width,
      height: r.height,
      ...scoring,
      threshold: r.threshold,
      pairs: P,
      slots: U,
      slotBytes,
      blockPairs: BLOCK_PAIRS,
      blocks: blocks.map((b, i) => [b.u1 - b.u0, crc32(bodies[i]!) >>> 0]),
    }),
    'utf8',
  );
  const dataStart = align4(16 + header.length);
  const out = new Uint8Array(dataStart + bodies.reduce((a, b) => a + b.length, 0));
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, header.length, true);
  dv.setUint32(12, crc32(header) >>> 0, true);
  out.set(header, 16);
  let o = dataStart;
  for (const b of bodies) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

interface Header {
  format?: unknown;
  key?: unknown;
  width?: unknown;
  height?: unknown;
  scores?: unknown;
  background?: unknown;
  classes?: unknown;
  anchorCount?: unknown;
  threshold?: unknown;
  pairs?: unknown;
  slots?: unknown;
  slotBytes?: unknown;
  blockPairs?: unknown;
  blocks?: unknown;
}

/** A checked header: where each block is and what it holds. */
interface RecordLayout {
  width: number;
  height: number;
  threshold: number;
  pairs: number;
  slots: number;
  slotBytes: 2 | 4;
  blockPairs: number;
  /** Per block: file offset, byte length, pairs, new slots, crc32. */
  blocks: { offset: number; bytes: number; n: number; u: number; crc: number }[];
  fileBytes: number;
}

type LayoutRead = { status: 'ok'; layout: RecordLayout } | Exclude<RecordRead, { status: 'hit' }>;

/** Parse and check the header (the first `head` bytes of the file, at least 16) against key and expectation. */
function parseHeader(
  head: Uint8Array,
  fileBytes: number,
  readMore: (bytes: number) => Uint8Array,
  expectedKey: string,
  expect: RecordExpectation,
): LayoutRead {
  const bad = (reason: string): LayoutRead => ({ status: 'corrupt', reason });
  const magic = head.length >= 8 ? Buffer.from(head.buffer, head.byteOffset, 8).toString('latin1') : '';
  if (magic === DENSE_MAGIC) return { status: 'stale', reason: 'an older cache format (1: dense head outputs)' };
  if (magic !== MAGIC || head.length < 16) return bad('not a prunedet cache record');
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headLen = dv.getUint32(8, true);
  if (16 + headLen > fileBytes) return bad('header overruns the file (truncated)');
  const all = head.length >= 16 + headLen ? head : readMore(16 + headLen);
  const headerBytes = all.subarray(16, 16 + headLen);
  if (crc32(headerBytes) >>> 0 !== dv.getUint32(12, true)) return bad('header checksum mismatch (altered)');
  let h: Header;
  try {
    h = JSON.parse(
      Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8'),
    ) as Header;
  } catch {
    return bad('unreadable header');
  }
  if (h.format !== RECORD_FORMAT)
    return { status: 'stale', reason: `cache format ${String(h.format)}, this prunedet reads ${RECORD_FORMAT}` };
  if (h.key !== expectedKey) return bad('key does not match (model, image or preprocessing changed)');
  if (
    h.scores !== expect.scores ||
    h.background !== expect.background ||
    h.classes !== expect.classes ||
    h.anchorCount !== expect.anchorCount
  ) {
    return {
      status: 'stale',
      reason: `made for other scores (${String(h.scores)}, background ${String(h.background)}, ${String(h.classes)} columns, ${String(h.anchorCount)} anchors)`,
    };
  }
  const { width, height, threshold, pairs: P, slots: U, slotBytes, blockPairs: B, blocks } = h;
  if (
    typeof threshold !== 'number' ||
    typeof width !== 'number' ||
    typeof height !== 'number' ||
    !isCount(P) ||
    !isCount(U) ||
    (slotBytes !== 2 && slotBytes !== 4) ||
    !isCount(B) ||
    B === 0 ||
    !Array.isArray(blocks) ||
    blocks.length !== Math.ceil(P / B)
  )
    return bad('incomplete header');
  if (threshold > expect.threshold)
    return { status: 'stale', reason: `made at score threshold ${threshold}, above this search's ${expect.threshold}` };
  const layout: RecordLayout = {
    width,
    height,
    threshold,
    pairs: P,
    slots: U,
    slotBytes,
    blockPairs: B,
    blocks: [],
    fileBytes,
  };
  let offset = align4(16 + headLen);
  let slots = 0;
  for (let b = 0; b < blocks.length; b++) {
    const e = blocks[b] as unknown;
    if (!Array.isArray(e) || !isCount(e[0]) || !isCount(e[1])) return bad('incomplete header');
    const n = Math.min(B, P - b * B),
      u = e[0];
    const bytes = blockBytes(n, u, slotBytes);
    layout.blocks.push({ offset, bytes, n, u, crc: e[1] });
    offset += bytes;
    slots += u;
  }
  if (slots !== U || offset !== fileBytes) return bad('block sizes do not match the file size (truncated?)');
  return { status: 'ok', layout };
}

/** A grow-only read buffer: records read into it stay valid until the next read into the same holder. */
export class RecordBuffer {
  buf: Buffer = Buffer.allocUnsafeSlow(0);

  /** The buffer, at least `bytes` long (not from Node's shared pool: offset 0, so typed views are aligned). */
  ensure(bytes: number): Buffer {
    if (this.buf.length < bytes) this.buf = Buffer.allocUnsafeSlow(Math.max(bytes, Math.ceil(1.5 * this.buf.length)));
    return this.buf;
  }

  read(path: string): Uint8Array {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = this.ensure(size);
      return buf.subarray(0, readFully(fd, buf, 0, size, 0));
    } finally {
      closeSync(fd);
    }
  }
}

function readFully(fd: number, into: Uint8Array, at: number, bytes: number, position: number): number {
  let o = 0;
  while (o < bytes) {
    const n = readSync(fd, into, at + o, bytes - o, position + o);
    if (n === 0) break;
    o += n;
  }
  return o;
}

/** Decode and check a whole record (every block) against the key and what the reading search expects. */
export function decodeSparseRecord(bytes: Uint8Array, expectedKey: string, expect: RecordExpectation): RecordRead {
  const parsed = parseHeader(bytes, bytes.length, () => bytes, expectedKey, expect);
  if (parsed.status !== 'ok') return parsed;
  const l = parsed.layout;
  const r = emptyRecord(expectedKey, l);
  let p = 0,
    u = 0;
  for (const b of l.blocks) {
    const body = bytes.subarray(b.offset, b.offset + b.bytes);
    if (crc32(body) >>> 0 !== b.crc) return { status: 'corrupt', reason: 'block checksum mismatch (altered)' };
    copyBlock(body, b, l.slotBytes, r, p, u);
    p += b.n;
    u += b.u;
  }
  return { status: 'hit', record: r, bytes: bytes.length };
}

function emptyRecord(key: string, l: RecordLayout): SparseRecord {
  return {
    key,
    width: l.width,
    height: l.height,
    threshold: l.threshold,
    anchors: new Uint32Array(l.slots),
    deltas: new Float32Array(4 * l.slots),
    score: new Float32Array(l.pairs),
    slot: l.slotBytes === 2 ? new Uint16Array(l.pairs) : new Uint32Array(l.pairs),
    label: new Uint16Array(l.pairs),
  };
}

/** Copy one block's sections into the record's arrays at pair p and slot u. */
function copyBlock(
  body: Uint8Array,
  b: { n: number; u: number },
  slotBytes: number,
  r: SparseRecord,
  p: number,
  u: number,
): void {
  const buf = body.byteOffset % 4 === 0 ? body : body.slice();
  let o = buf.byteOffset;
  r.score.set(new Float32Array(buf.buffer, o, b.n), p);
  o += 4 * b.n;
  r.slot.set(slotBytes === 2 ? new Uint16Array(buf.buffer, o, b.n) : new Uint32Array(buf.buffer, o, b.n), p);
  o += align4(slotBytes * b.n);
  r.label.set(new Uint16Array(buf.buffer, o, b.n), p);
  o += align4(2 * b.n);
  r.anchors.set(new Uint32Array(buf.buffer, o, b.u), u);
  o += 4 * b.u;
  r.deltas.set(new Float32Array(buf.buffer, o, 4 * b.u), 4 * u);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Read and check one whole record. */
export function readSparseRecord(
  dir: string,
  key: string,
  expect: RecordExpectation,
  into = new RecordBuffer(),
): RecordRead {
  let bytes: Uint8Array;
  try {
    bytes = into.read(cachePath(dir, key));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'corrupt', reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
  }
  return decodeSparseRecord(bytes, key, expect);
}

/**
 * Reads a record a block at a time, as far as a walk needs: after open(), record holds the first `loaded` pairs and
 * the slots they use (arrays are grow-only and reused by the next open()). Every block's CRC is checked as it is read.
 */
export class RecordReader {
  record: SparseRecord = {
    key: '',
    width: 0,
    height: 0,
    threshold: 0,
    anchors: new Uint32Array(0),
    deltas: new Float32Array(0),
    score: new Float32Array(0),
    slot: new Uint32Array(0),
    label: new Uint16Array(0),
  };
  /** Pairs (and slots) read so far. */
  loaded = 0;
  slotsLoaded = 0;
  private fd = -1;
  private path = '';
  private layout: RecordLayout | undefined;
  private next = 0;
  private readonly io = new RecordBuffer();

  /** Open a record and read its header; 'hit' (with an empty prefix loaded) or why it cannot be used. */
  open(
    dir: string,
    key: string,
    expect: RecordExpectation,
  ): { status: 'hit' } | Exclude<RecordRead, { status: 'hit' }> {
    this.close();
    this.path = cachePath(dir, key);
    try {
      this.fd = openSync(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
      return { status: 'corrupt', reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
    const fd = this.fd;
    const size = fstatSync(fd).size;
    const first = this.io.ensure(4096);
    const got = readFully(fd, first, 0, Math.min(4096, size), 0);
    const parsed = parseHeader(
      first.subarray(0, got),
      size,
      (bytes) => {
        const all = this.io.ensure(bytes);
        return all.subarray(0, readFully(fd, all, 0, bytes, 0));
      },
      key,
      expect,
    );
    if (parsed.status !== 'ok') {
      this.close();
      return parsed;
    }
    const l = parsed.layout;
    this.layout = l;
    this.loaded = 0;
    this.slotsLoaded = 0;
    this.next = 0;
    const r = this.record;
    r.key = key;
    r.width = l.width;
    r.height = l.height;
    r.threshold = l.threshold;
    if (r.score.length < l.pairs || r.slot.BYTES_PER_ELEMENT !== l.slotBytes) {
      const size = Math.max(l.pairs, r.score.length);
      r.score = new Float32Array(size);
      r.slot = l.slotBytes === 2 ? new Uint16Array(size) : new Uint32Array(size);
      r.label = new Uint16Array(size);
    }
    if (r.anchors.length < l.slots) {
      const size = Math.max(l.slots, r.anchors.length);
      r.anchors = new Uint32Array(size);
      r.deltas = new Float32Array(4 * size);
    }
    return { status: 'hit' };
  }

  /** Read blocks until at least `pairs` pairs are loaded (or all are); throws when a block does not check out. */
  ensure(pairs: number): void {
    const l = this.layout;
    if (!l) throw new PrunedetError('E_OUTPUT', 'cache record read before it was opened', 'rerun the search');
    while (this.loaded < pairs && this.next < l.blocks.length) {
      const b = l.blocks[this.next]!;
      const buf = this.io.ensure(b.bytes);
      const got = readFully(this.fd, buf, 0, b.bytes, b.offset);
      const body = buf.subarray(0, got);
      if (got !== b.bytes || crc32(body) >>> 0 !== b.crc) {
        throw new PrunedetError(
          'E_OUTPUT',
          `cache record ${this.path} changed or was damaged during the search (block ${this.next} does not check out)`,
          'rerun the search (it rebuilds the record)',
        );
      }
      copyBlock(body, b, l.slotBytes, this.record, this.loaded, this.slotsLoaded);
      this.loaded += b.n;
      this.slotsLoaded += b.u;
      this.next++;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.layout = undefined;
  }
}

/** Write a record so that readers see either no file or the whole checked record; returns its size in bytes. */
export function writeSparseRecord(dir: string, r: SparseRecord, scoring: RecordScoring): number {
  const bytes = encodeSparseRecord(r, scoring);
  writeFileAtomic(cachePath(dir, r.key), bytes);
  return bytes.length;
}

/** How many of a record's pairs (rank order) are above `threshold` (float32, >= the record's): a prefix. */
export function pairsAbove(r: SparseRecord, threshold: number): number {
  if (threshold <= r.threshold) return r.score.length;
  let lo = 0,
    hi = r.score.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r.score[mid]! > threshold) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
