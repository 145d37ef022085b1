// Running the original model once over a folder of photos (onnxruntime-node, batched when the input's batch dimension
// is dynamic) and handing each photo's head outputs, in the post-processing reference's input form, to the caller.
// The caller decides per photo (from its bytes) whether it needs running: search's cache (sparse-cache.ts) skips the
// photos whose record is valid. Not post-processing.
import { readFileSync } from 'node:fs';
import type { Model } from '../ir/graph';
import { declaredType } from '../onnx/value-info';
import { PrunedetError } from '../errors';
import type { DetectorSpec } from '../detector/spec';
import { decodeImageBytes } from '../image/decode';
import { preprocess, resizeGeometry, type PreprocessOptions, type ResizeGeometry } from '../image/preprocess';
import { referenceInput, type RunOutputs } from '../postprocess/for-model';
import { levelMaps, type PostprocessInput } from '../postprocess/reference';

/** Batch size used for models whose input batch dimension is symbolic. */
export const DYNAMIC_BATCH = 8;

/** onnxruntime session options of search (verify should open models the same way to see the same numbers). */
export const ORT_SESSION_OPTIONS = { logSeverityLevel: 3 as const, graphOptimizationLevel: 'all' as const };

export interface HeadRunOptions {
  modelPath: string;
  model: Model;
  det: DetectorSpec;
  images: string[];
  preprocess: PreprocessOptions;
  /** The photos to consider (indices into images, in this order); default all. */
  indices?: readonly number[];
  /** Told each photo's bytes before it is decoded; false = skip it (its outputs are not needed). */
  want?: (index: number, bytes: Uint8Array) => boolean;
  /** After each photo (skipped or run): how many of the considered photos are done. */
  onProgress?: (p: { done: number; total: number }) => void;
  /** Turns a run's reference input into what the evaluators read (YOLO rows -> scores and boxes); default a copy. */
  toInput?: (x: PostprocessInput) => PostprocessInput;
}

export interface ImageHeadOutputs {
  index: number;
  path: string;
  geometry: ResizeGeometry;
  input: PostprocessInput;
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
  geometry: ResizeGeometry;
  tensor: Float32Array;
}

/**
 * Call `visit` once per photo that is wanted (in the order considered; `index` says which) with its head outputs, by
 * running the model in batches. Unreadable images fail with E_IMAGES naming the file. Returns the batch size used and
 * how many photos ran.
 */
export async function forEachHeadOutput(
  o: HeadRunOptions,
  visit: (img: ImageHeadOutputs) => void,
): Promise<{ batch: number; computed: number }> {
  const { det } = o;
  const inputShape = [1, ...det.input.shape.slice(1)];
  const [batch, dynamic] = batchOf(o.model, det);
  const outputs = det.outputs.map((x) => x.name).sort();
  const indices = o.indices ?? o.images.map((_, i) => i);
  let session: import('onnxruntime-node').InferenceSession | undefined;
  let ort: typeof import('onnxruntime-node') | undefined;
  let done = 0;
  let computed = 0;
  const pending: Pending[] = [];
  const report = () => o.onProgress?.({ done, total: indices.length });

  const flush = async () => {
    if (pending.length === 0) return;
    ort ??= await import('onnxruntime-node');
    if (!session) {
      try {
        session = await ort.InferenceSession.create(o.modelPath, ORT_SESSION_OPTIONS);
      } catch (e) {
        throw new PrunedetError(
          'E_ONNX_INVALID',
          `onnxruntime cannot open ${o.modelPath}: ${(e as Error).message.split('\n')[0]}`,
          'check that the model runs in onnxruntime',
        );
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
      throw new PrunedetError(
        'E_ONNX_INVALID',
        `onnxruntime failed to run ${o.modelPath} on ${pending[0]!.path}: ${(e as Error).message.split('\n')[0]}`,
        'check the input size and preprocessing (--input-shape, --size)',
      );
    }
    pending.forEach((p, b) => {
      const outs: RunOutputs = {};
      for (const name of outputs) {
        const t = res[name];
        if (!t)
          throw new PrunedetError('E_ONNX_INVALID', `onnxruntime returned no output "${name}"`, 'check the model');
        const all = t.data as Float32Array;
        const size = all.length / n;
        outs[name] = { dims: [1, ...t.dims.slice(1)], data: all.subarray(b * size, (b + 1) * size) }; // copied by copyInput
      }
      computed++;
      done++;
      const input = referenceInput(det, outs);
      visit({
        index: p.index,
        path: p.path,
        geometry: p.geometry,
        input: o.toInput ? o.toInput(input) : copyInput(input),
      });
    });
    pending.length = 0;
    report();
  };

  try {
    report();
    for (const index of indices) {
      const path = o.images[index]!;
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        throw new PrunedetError(
          'E_IMAGES',
          `image ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
          'fix its permissions or remove it from the folder',
        );
      }
      if (o.want && !o.want(index, bytes)) {
        done++;
        report();
        continue;
      }
      const img = decodeImageBytes(bytes, path);
      pending.push({
        index,
        path,
        geometry: resizeGeometry(img.width, img.height, o.preprocess),
        tensor: preprocess(img, o.preprocess),
      });
      if (pending.length >= batch) await flush();
    }
    await flush();
  } finally {
    await session?.release();
  }
  return { batch, computed };
}

/** Own copies of the arrays (referenceInput returns views into onnxruntime's buffers). */
function copyInput(input: PostprocessInput): PostprocessInput {
  if (input.form === 'concat') return { form: 'concat', scores: input.scores.slice(), boxes: input.boxes.slice() };
  return {
    form: 'per-level',
    levels: levelMaps(input, 'search').map((l) => ({ cls: l.cls.slice(), reg: l.reg.slice() })),
  };
}
