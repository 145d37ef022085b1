// Running the original model once over a folder of photos (onnxruntime-node, batched when the input's batch dimension
// is dynamic) and handing each photo's head outputs, in the post-processing reference's input form, to the caller;
// through the on-disk cache (cache.ts) so later runs skip both decoding and inference. Not post-processing.
import { mkdirSync, readFileSync } from 'node:fs';
import type { Model } from '../ir/graph';
import { declaredType } from '../onnx/value-info';
import { PrunedetError } from '../errors';
import type { DetectorSpec } from '../detector/spec';
import { decodeImageBytes } from '../image/decode';
import { preprocess, resizeGeometry, type PreprocessOptions, type ResizeGeometry } from '../image/preprocess';
import { referenceInput, referenceInputForm, type RunOutputs } from '../postprocess/for-model';
import type { PostprocessInput } from '../postprocess/reference';
import { cacheKey, readCacheRecord, sha256Hex, writeCacheRecord, type CacheRecord } from './cache';

/** Batch size used for models whose input batch dimension is symbolic. */
export const DYNAMIC_BATCH = 8;

/** onnxruntime session options of search (verify should open models the same way to see the same numbers). */
export const ORT_SESSION_OPTIONS = { logSeverityLevel: 3 as const, graphOptimizationLevel: 'all' as const };

export interface HeadRunOptions {
  modelPath: string;
  /** The model file's bytes (hashed into the cache key). */
  modelBytes: Uint8Array;
  model: Model;
  det: DetectorSpec;
  images: string[];
  preprocess: PreprocessOptions;
  /** Folder of cache records; created if missing. */
  cacheDir: string;
  onProgress?: (p: { done: number; total: number; cached: number }) => void;
  /** Told each image's cache key (what identifies its outputs). */
  onKey?: (index: number, key: string) => void;
}

export interface ImageHeadOutputs {
  index: number;
  path: string;
  geometry: ResizeGeometry;
  input: PostprocessInput;
}

export interface CacheStats {
  hits: number;
  computed: number;
  /** Records found corrupt or stale and recomputed. */
  rebuilt: number;
  batch: number;
}

/** The reference input's arrays with stable names (what a cache record stores). */
export function inputArrays(input: PostprocessInput): { name: string; data: Float32Array }[] {
  if (input.form === 'concat') return [{ name: 'scores', data: input.scores }, { name: 'boxes', data: input.boxes }];
  return input.levels.flatMap((l, i) => [{ name: `cls${i}`, data: l.cls }, { name: `reg${i}`, data: l.reg }]);
}

function inputFromArrays(form: PostprocessInput['form'], arrays: { name: string; data: Float32Array }[]): PostprocessInput | undefined {
  const by = new Map(arrays.map((a) => [a.name, a.data]));
  if (form === 'concat') {
    const scores = by.get('scores'), boxes = by.get('boxes');
    return scores && boxes ? { form, scores, boxes } : undefined;
  }
  const levels: { cls: Float32Array; reg: Float32Array }[] = [];
  for (let i = 0; by.has(`cls${i}`); i++) {
    const cls = by.get(`cls${i}`)!, reg = by.get(`reg${i}`);
    if (!reg) return undefined;
    levels.push({ cls, reg });
  }
  return { form, levels };
}

/** [batch size, dynamic?] of the model's image input. */
function batchOf(model: Model, det: DetectorSpec): [number, boolean] {
  const v = model.graph.inputs.find((x) => x.name === det.input.name);
  const d0 = v ? declaredType(v)?.shape?.[0] : undefined;
  if (typeof d0 === 'number' && d0 > 0) return [d0, false];
  if (d0 === undefined) return [det.input.shape[0] ?? 1, false];
  return [DYNAMIC_BATCH, true];
}

interface Pending {
  index: number;
  path: string;
  key: string;
  geometry: ResizeGeometry;
  tensor: Float32Array;
  rebuilt: boolean;
}

/**
 * Call `visit` once per image (in any order; `index` says which) with its head outputs: from the cache when a valid
 * record exists, else by running the model (records written as they are computed, so an interrupted run keeps what
 * it finished). Unreadable images fail with E_IMAGES naming the file.
 */
export async function forEachHeadOutput(o: HeadRunOptions, visit: (img: ImageHeadOutputs) => void): Promise<CacheStats> {
  const { det } = o;
  mkdirSync(o.cacheDir, { recursive: true });
  const modelSha256 = sha256Hex(o.modelBytes);
  const form = referenceInputForm(det);
  const inputShape = [1, ...det.input.shape.slice(1)];
  const [batch, dynamic] = batchOf(o.model, det);
  const outputs = det.outputs.map((x) => x.name).sort();
  const stats: CacheStats = { hits: 0, computed: 0, rebuilt: 0, batch };
  let session: import('onnxruntime-node').InferenceSession | undefined;
  let ort: typeof import('onnxruntime-node') | undefined;
  let done = 0;
  const pending: Pending[] = [];
  const report = () => o.onProgress?.({ done, total: o.images.length, cached: stats.hits });

  const flush = async () => {
    if (pending.length === 0) return;
    ort ??= await import('onnxruntime-node');
    if (!session) {
      try {
        session = await ort.InferenceSession.create(o.modelPath, ORT_SESSION_OPTIONS);
      } catch (e) {
        throw new PrunedetError('E_ONNX_INVALID', `onnxruntime cannot open ${o.modelPath}: ${(e as Error).message.split('\n')[0]}`, 'check that the model runs in onnxruntime');
      }
    }
    const n = dynamic ? pending.length : batch;
    const per = inputShape.slice(1).reduce((a, b) => a * b, 1);
    const data = new Float32Array(n * per);
    for (let b = 0; b < n; b++) data.set(pending[Math.min(b, pending.length - 1)]!.tensor, b * per);
    let res: Record<string, import('onnxruntime-node').Tensor>;
    try {
      res = await session.run({ [det.input.name]: new ort.Tensor('float32', data, [n, ...inputShape.slice(1)]) });
    } catch (e) {
      throw new PrunedetError('E_ONNX_INVALID', `onnxruntime failed to run ${o.modelPath} on ${pending[0]!.path}: ${(e as Error).message.split('\n')[0]}`, 'check the input size and preprocessing (--input-shape, --size)');
    }
    pending.forEach((p, b) => {
      const outs: RunOutputs = {};
      for (const name of outputs) {
        const t = res[name];
        if (!t) throw new PrunedetError('E_ONNX_INVALID', `onnxruntime returned no output "${name}"`, 'check the model');
        const all = t.data as Float32Array;
        const size = all.length / n;
        outs[name] = { dims: [1, ...t.dims.slice(1)], data: all.subarray(b * size, (b + 1) * size) }; // copied by copyInput
      }
      const input = copyInput(referenceInput(det, outs));
      const record: CacheRecord = { key: p.key, width: p.geometry.imageWidth, height: p.geometry.imageHeight, arrays: inputArrays(input) };
      writeCacheRecord(o.cacheDir, record);
      stats.computed++;
      if (p.rebuilt) stats.rebuilt++;
      done++;
      visit({ index: p.index, path: p.path, geometry: p.geometry, input });
    });
    pending.length = 0;
    report();
  };

  report();
  for (let index = 0; index < o.images.length; index++) {
    const path = o.images[index]!;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new PrunedetError('E_IMAGES', `image ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'fix its permissions or remove it from the folder');
    }
    const key = cacheKey({ modelSha256, imageSha256: sha256Hex(bytes), preprocess: o.preprocess, inputShape, outputs });
    o.onKey?.(index, key);
    const cached = readCacheRecord(o.cacheDir, key);
    if (cached.status === 'hit') {
      const input = inputFromArrays(form, cached.record.arrays);
      if (input) {
        stats.hits++;
        done++;
        visit({ index, path, geometry: resizeGeometry(cached.record.width, cached.record.height, o.preprocess), input });
        report();
        continue;
      }
    }
    const img = decodeImageBytes(bytes, path);
    pending.push({ index, path, key, geometry: resizeGeometry(img.width, img.height, o.preprocess), tensor: preprocess(img, o.preprocess), rebuilt: cached.status !== 'missing' });
    if (pending.length >= batch) await flush();
  }
  await flush();
  return stats;
}

/** Own copies of the arrays (referenceInput returns views into onnxruntime's buffers). */
function copyInput(input: PostprocessInput): PostprocessInput {
  if (input.form === 'concat') return { form: 'concat', scores: input.scores.slice(), boxes: input.boxes.slice() };
  return { form: 'per-level', levels: input.levels.map((l) => ({ cls: l.cls.slice(), reg: l.reg.slice() })) };
}
