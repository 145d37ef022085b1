// The head-output cache record: round trip, and every kind of damage detected (never a silently wrong array).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey, cachePath, decodeCacheRecord, encodeCacheRecord, readCacheRecord, writeCacheRecord, type CacheRecord } from '../../src/search/cache';
import { mulberry32 } from '../_support/prng';

const dir = mkdtempSync(join(tmpdir(), 'pd-search-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function record(key: string): CacheRecord {
  const r = mulberry32(3);
  return {
    key,
    width: 640,
    height: 480,
    arrays: [
      { name: 'scores', data: Float32Array.from({ length: 4420 * 2 }, () => r()) },
      { name: 'boxes', data: Float32Array.from({ length: 4420 * 4 }, () => r() * 2 - 1) },
    ],
  };
}

describe('head-output cache records', () => {
  const key = cacheKey({ modelSha256: 'm', imageSha256: 'i', preprocess: { size: [320, 240], mean: [127, 127, 127] }, inputShape: [1, 3, 240, 320], outputs: ['boxes', 'scores'] });

  it('keys change with every part and not with property order', () => {
    const base = { modelSha256: 'm', imageSha256: 'i', preprocess: { a: 1, b: [2] }, inputShape: [1, 3, 2, 2], outputs: ['x'] };
    const k = cacheKey(base);
    expect(cacheKey({ ...base, preprocess: { b: [2], a: 1 } })).toBe(k);
    for (const change of [{ modelSha256: 'n' }, { imageSha256: 'j' }, { preprocess: { a: 2, b: [2] } }, { inputShape: [1, 3, 2, 3] }, { outputs: ['y'] }]) {
      expect(cacheKey({ ...base, ...change })).not.toBe(k);
    }
    expect(k).toMatch(/^[0-9a-f]{64}$/);
  });

  it('round-trips arrays bit for bit', () => {
    const r = record(key);
    writeCacheRecord(dir, r);
    const got = readCacheRecord(dir, key);
    expect(got.status).toBe('hit');
    if (got.status !== 'hit') return;
    expect(got.record.width).toBe(640);
    expect(got.record.arrays.map((a) => a.name)).toEqual(['scores', 'boxes']);
    expect(Buffer.from(got.record.arrays[1]!.data.buffer, got.record.arrays[1]!.data.byteOffset, got.record.arrays[1]!.data.byteLength))
      .toEqual(Buffer.from(r.arrays[1]!.data.buffer));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]); // atomic write left no temp file
  });

  it('reports a missing record, and a truncated, altered, foreign or mismatched one as corrupt', () => {
    expect(readCacheRecord(dir, 'f'.repeat(64)).status).toBe('missing');
    const bytes = encodeCacheRecord(record(key));
    const flipped = bytes.slice();
    flipped[5000] = flipped[5000]! ^ 1;
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 100), /checksum/],
      [bytes.subarray(0, 20), /checksum|not a prunedet/],
      [flipped, /checksum/],
      [new TextEncoder().encode('{"not": "a cache"}'.repeat(4)), /not a prunedet/],
      [new Uint8Array(0), /not a prunedet/],
    ];
    for (const [b, why] of cases) {
      const r = decodeCacheRecord(b, key);
      expect(r.status).toBe('corrupt');
      if (r.status === 'corrupt') expect(r.reason).toMatch(why);
    }
    const other = decodeCacheRecord(bytes, 'a'.repeat(64));
    expect(other).toEqual({ status: 'corrupt', reason: expect.stringMatching(/key does not match/) });
    // a damaged file on disk is reported, not thrown
    writeFileSync(cachePath(dir, key), flipped);
    expect(readCacheRecord(dir, key).status).toBe('corrupt');
    expect(readFileSync(cachePath(dir, key)).length).toBe(bytes.length);
  });
});
