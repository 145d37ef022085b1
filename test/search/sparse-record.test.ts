// The search cache's record (format 2): its pairs are exactly the reference's scores above the threshold (every
// score function, NaN and infinite rows included), it round-trips bit for bit, a reader reads only the blocks a walk
// needs, and every kind of damage or staleness (an older format, a future one, other scores, a higher threshold)
// is reported, never read as a record.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32, floatBits } from '../../src/postprocess/float32';
import { parsePostprocess } from '../../src/postprocess/presets';
import { compareRank, scoreAnchor, type LevelShape } from '../../src/postprocess/reference';
import { foregroundCount, labelColumn, type PostprocessSpec } from '../../src/postprocess/spec';
import { cacheKey, cachePath } from '../../src/search/cache';
import {
  BLOCK_PAIRS,
  buildSparseRecord,
  decodeSparseRecord,
  encodeSparseRecord,
  pairsAbove,
  readSparseRecord,
  RecordReader,
  recordScoring,
  writeSparseRecord,
  type RecordExpectation,
  type SparseRecord,
} from '../../src/search/sparse-record';
import { mulberry32 } from '../_support/prng';
import { LEVELS, synthInput } from './synthetic';

const dir = mkdtempSync(join(tmpdir(), 'pd-sparse-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const anchorCount = (levels: readonly LevelShape[]) => levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);

/** Every (anchor, label, score) above the threshold by the reference's scoreAnchor, in rank order. */
function referencePairs(
  spec: PostprocessSpec,
  classes: number,
  levels: readonly LevelShape[],
  scores: Float32Array,
): { anchor: number; label: number; score: number }[] {
  const K = foregroundCount(spec, classes);
  const out = new Float64Array(K);
  const thr = f32(spec.scoreThreshold);
  const pairs: { anchor: number; label: number; score: number }[] = [];
  for (let n = 0; n < anchorCount(levels); n++) {
    scoreAnchor(spec, classes, (j) => scores[n * classes + j]!, out);
    for (let k = 0; k < K; k++) if (out[k]! > thr) pairs.push({ anchor: n, label: k, score: out[k]! });
  }
  return pairs.sort(compareRank);
}

function recordPairs(r: SparseRecord): { anchor: number; label: number; score: number }[] {
  return Array.from(r.score, (score, i) => ({ anchor: r.anchors[r.slot[i]!]!, label: r.label[i]!, score }));
}

const expectOf = (spec: PostprocessSpec, classes: number, levels: readonly LevelShape[]): RecordExpectation => ({
  ...recordScoring(spec, classes, anchorCount(levels)),
  threshold: f32(spec.scoreThreshold),
});

describe('sparse record pairs', () => {
  const cases: [string, number][] = [
    ['mmdet-ssd300,score_thr=0.05', 5], // softmax, background last
    ['ultraface,score_thr=0.3', 3], // probabilities, background first
    ['mmdet-retinanet,score_thr=0.2', 4], // sigmoid
    ['mmdet-retinanet,score_thr=0.7', 4], // sigmoid above 0.5: no skip bound
    ['torchvision-ssd,score_thr=0', 4], // softmax at threshold 0: every finite pair
  ];
  for (const [text, classes] of cases) {
    it(`are the reference's scores above the threshold, bit for bit: ${text}`, () => {
      const spec = parsePostprocess(text);
      let total = 0;
      for (let seed = 1; seed <= 6; seed++) {
        const input = synthInput({ numClasses: classes, spec, seed, quantize: seed % 2 ? 0.25 : undefined });
        if (input.form !== 'concat') throw new Error('concat expected');
        // special rows: NaN, all -Inf, one +Inf, two +Inf, huge logits
        const C = classes;
        input.scores[0] = NaN;
        input.scores.fill(-Infinity, C, 2 * C);
        input.scores[2 * C + 1] = Infinity;
        input.scores[3 * C] = Infinity;
        input.scores[3 * C + 1] = Infinity;
        input.scores[4 * C] = 1e30;
        const record = buildSparseRecord(spec, classes, LEVELS, input, { key: 'k', width: 64, height: 48 });
        const want = referencePairs(spec, classes, LEVELS, input.scores);
        expect(recordPairs(record)).toEqual(want);
        total += want.length;
        // scores stored as the float32 the reference computed (bit patterns equal)
        record.score.forEach((s, i) => expect(floatBits(s)).toBe(floatBits(want[i]!.score)));
        // the box values of every anchor with a pair, in the reference's delta order
        record.anchors.forEach((n, u) =>
          expect(Array.from(record.deltas.subarray(4 * u, 4 * u + 4))).toEqual(
            Array.from(input.boxes.subarray(4 * n, 4 * n + 4)),
          ),
        );
      }
      expect(total).toBeGreaterThan(30);
    });
  }

  it('reads per-level maps (channel a*K + k) as the concatenated rows', () => {
    const spec = parsePostprocess('torchvision-retinanet,score_thr=0.1');
    const concat = synthInput({ numClasses: 3, spec, seed: 5 });
    const perLevel = synthInput({ numClasses: 3, spec, seed: 5, form: 'per-level' });
    const a = buildSparseRecord(spec, 3, LEVELS, concat, { key: 'k', width: 1, height: 1 });
    const b = buildSparseRecord(spec, 3, LEVELS, perLevel, { key: 'k', width: 1, height: 1 });
    expect(b.score.length).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });
});

/** The record with its header JSON changed (and its header checksum made to match): a record another version wrote. */
function withHeader(bytes: Uint8Array, change: (h: Record<string, unknown>) => Record<string, unknown>): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(8, true);
  const pad = (n: number) => (n + 3) & ~3;
  const header = Buffer.from(
    JSON.stringify(change(JSON.parse(Buffer.from(bytes.subarray(16, 16 + len)).toString('utf8')))),
  );
  const out = Buffer.alloc(pad(16 + header.length) + bytes.length - pad(16 + len));
  out.set(bytes.subarray(0, 8), 0);
  out.writeUInt32LE(header.length, 8);
  out.writeUInt32LE(crc32(header) >>> 0, 12);
  out.set(header, 16);
  out.set(bytes.subarray(pad(16 + len)), pad(16 + header.length));
  return out;
}

/** A record with many pairs (several blocks): big levels, low threshold. */
function bigRecord(key: string): {
  record: SparseRecord;
  spec: PostprocessSpec;
  levels: LevelShape[];
  classes: number;
} {
  const spec = parsePostprocess('mmdet-ssd300,score_thr=0.02');
  const levels = [
    { h: 30, w: 40, anchorsPerLocation: 3, stride: 2 },
    { h: 15, w: 20, anchorsPerLocation: 2, stride: 4 },
  ];
  const input = synthInput({ numClasses: 6, spec, seed: 11, levels });
  return {
    record: buildSparseRecord(spec, 6, levels, input, { key, width: 640, height: 480 }),
    spec,
    levels,
    classes: 6,
  };
}

describe('sparse record files', () => {
  const key = cacheKey({
    modelSha256: 'm',
    imageSha256: 'i',
    preprocess: { size: [320, 240] },
    inputShape: [1, 3, 240, 320],
    outputs: ['boxes', 'scores'],
  });
  const { record, spec, levels, classes } = bigRecord(key);
  const expect0 = expectOf(spec, classes, levels);
  const scoring = recordScoring(spec, classes, anchorCount(levels));

  it('round-trips bit for bit through a file, in several blocks, without leaving a temp file', () => {
    expect(record.score.length).toBeGreaterThan(3 * BLOCK_PAIRS);
    const bytes = writeSparseRecord(dir, record, scoring);
    expect(readFileSync(cachePath(dir, key)).length).toBe(bytes);
    const got = readSparseRecord(dir, key, expect0);
    expect(got.status).toBe('hit');
    if (got.status === 'hit') expect(got.record).toEqual(record);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a reader reads only the blocks asked for; the slots a prefix of pairs uses come with it', () => {
    const reader = new RecordReader();
    expect(reader.open(dir, key, expect0)).toEqual({ status: 'hit' });
    expect(reader.loaded).toBe(0);
    reader.ensure(10);
    expect(reader.loaded).toBe(BLOCK_PAIRS);
    const r = reader.record;
    for (let i = 0; i < BLOCK_PAIRS; i++) {
      expect(r.slot[i]!).toBeLessThan(reader.slotsLoaded);
      expect(r.score[i]).toBe(record.score[i]);
    }
    reader.ensure(BLOCK_PAIRS + 1);
    expect(reader.loaded).toBe(2 * BLOCK_PAIRS);
    reader.ensure(Infinity);
    expect(reader.loaded).toBe(record.score.length);
    expect(Array.from(r.deltas.subarray(0, 4 * record.anchors.length))).toEqual(Array.from(record.deltas));
    reader.close();
  });

  it('pairs above a higher threshold are a prefix', () => {
    const thr = f32(0.3);
    const n = pairsAbove(record, thr);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(record.score.length);
    expect(record.score[n - 1]!).toBeGreaterThan(thr);
    expect(record.score[n]!).toBeLessThanOrEqual(thr);
  });

  it('reports damage as corrupt: truncated, a flipped byte in a block or the header, a foreign or empty file', () => {
    const bytes = encodeSparseRecord(record, scoring);
    const flip = (at: number) => {
      const b = bytes.slice();
      b[at]! ^= 1;
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 100), /truncated/],
      [bytes.subarray(0, 20), /truncated|header/],
      [flip(bytes.length - 5000), /block checksum/],
      [flip(30), /header checksum/],
      [new TextEncoder().encode('{"not": "a cache"}'.repeat(4)), /not a prunedet/],
      [new Uint8Array(0), /not a prunedet/],
    ];
    for (const [b, why] of cases) {
      const r = decodeSparseRecord(b, key, expect0);
      expect(r.status).toBe('corrupt');
      if (r.status === 'corrupt') expect(r.reason).toMatch(why);
    }
    expect(decodeSparseRecord(bytes, 'a'.repeat(64), expect0)).toEqual({
      status: 'corrupt',
      reason: expect.stringMatching(/key does not match/),
    });
    // a reader meets the damage in the block it reads, as a one-line error
    writeFileSync(cachePath(dir, 'damaged'), flip(bytes.length - 5000));
    const reader = new RecordReader();
    expect(reader.open(dir, 'damaged', expect0)).toEqual({
      status: 'corrupt',
      reason: expect.stringMatching(/key does not match/),
    });
    const other = encodeSparseRecord({ ...record, key: 'damaged' }, scoring);
    other[other.length - 5000]! ^= 1;
    writeFileSync(cachePath(dir, 'damaged'), other);
    expect(reader.open(dir, 'damaged', expect0)).toEqual({ status: 'hit' });
    expect(() => reader.ensure(Infinity)).toThrow(/changed or was damaged during the search/);
    reader.close();
  });

  it('reports an older format, a future one, other scores and a higher threshold as stale', () => {
    const bytes = encodeSparseRecord(record, scoring);
    // format 1 (dense head outputs): magic, header, float32 arrays, sha256, as prunedet wrote them before
    const header = Buffer.from(
      JSON.stringify({ format: 1, key, width: 640, height: 480, arrays: [{ name: 'scores', length: 4 }] }),
    );
    const body = Buffer.concat([
      Buffer.from('PDHEADC1', 'latin1'),
      Buffer.from(new Uint32Array([header.length]).buffer),
      header,
      Buffer.alloc((4 - (header.length % 4)) % 4),
      Buffer.alloc(16),
    ]);
    const dense = Buffer.concat([body, createHash('sha256').update(body).digest()]);
    expect(decodeSparseRecord(dense, key, expect0)).toEqual({
      status: 'stale',
      reason: expect.stringMatching(/older cache format \(1/),
    });
    expect(
      decodeSparseRecord(
        withHeader(bytes, (h) => ({ ...h, format: 3 })),
        key,
        expect0,
      ),
    ).toEqual({ status: 'stale', reason: 'cache format 3, this prunedet reads 2' });
    expect(decodeSparseRecord(bytes, key, { ...expect0, scores: 'sigmoid' })).toEqual({
      status: 'stale',
      reason: expect.stringMatching(/other scores/),
    });
    expect(decodeSparseRecord(bytes, key, { ...expect0, classes: 7 }).status).toBe('stale');
    expect(decodeSparseRecord(bytes, key, { ...expect0, threshold: f32(0.01) })).toEqual({
      status: 'stale',
      reason: expect.stringMatching(/threshold .* above this search's/),
    });
    expect(decodeSparseRecord(bytes, key, { ...expect0, threshold: f32(0.5) }).status).toBe('hit');
  });

  it('labels of every column but the background, for every background position', () => {
    const r = mulberry32(3);
    for (const text of ['torchvision-ssd,score_thr=0.1', 'mmdet-ssd300,score_thr=0.1']) {
      const spec = parsePostprocess(text);
      const input = synthInput({ numClasses: 4, spec, seed: Math.floor(r() * 100) });
      const rec = buildSparseRecord(spec, 4, LEVELS, input, { key: 'k', width: 1, height: 1 });
      for (const l of rec.label) expect(labelColumn(spec, l)).not.toBe(spec.background === 'first' ? 0 : 3);
    }
  });
});
