// Where search keeps one record per photo (sparse-record.ts): OUTDIR/cache or --cache-dir, one file per photo named
// by its key, a hash of everything that decides the model's outputs on it. The key does not carry the record format
// or the scoring: those are in the record's header, so a record of another format or for another score function is
// found under the same name, reported stale and rebuilt in place (no orphaned files), never misread.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** Version of the key's hash input (unchanged since format 1, so existing records are found and rebuilt in place). */
const KEY_SCHEME = 1;

/** The key of one image's record: SHA-256 over a canonical JSON of what decides the outputs. */
export function cacheKey(parts: {
  modelSha256: string;
  imageSha256: string;
  preprocess: unknown;
  inputShape: readonly number[];
  outputs: readonly string[];
  /** YOLO heads: the YOLO post-processing the records were derived with (absent otherwise: older keys unchanged). */
  yolo?: string;
}): string {
  const canonical = JSON.stringify({ format: KEY_SCHEME, ...parts }, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
  return sha256Hex(canonical);
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function cachePath(dir: string, key: string): string {
  return join(dir, `${key}.bin`);
}
