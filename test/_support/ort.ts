// Running models in onnxruntime-node for tests (the real runtime, never mocked).
import * as ort from 'onnxruntime-node';
import type { Model } from '../../src/ir/graph';
import { modelToBytes } from '../../src/onnx/save';
import { uniformInput } from '../../src/prng';

export type Feeds = Record<string, { dims: number[]; data: Float32Array }>;
export type Outputs = Record<string, { dims: number[]; data: Float32Array }>;

export async function session(model: Model | Uint8Array | string): Promise<ort.InferenceSession> {
  const src = model instanceof Uint8Array || typeof model === 'string' ? model : modelToBytes(model);
  return ort.InferenceSession.create(src as Uint8Array, {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 2,
    logSeverityLevel: 3,
  });
}

export async function run(model: Model | Uint8Array | string | ort.InferenceSession, feeds: Feeds): Promise<Outputs> {
  const s = typeof model === 'object' && 'run' in model ? model : await session(model);
  const inputs: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
  const res = await s.run(inputs);
  const out: Outputs = {};
  for (const [k, t] of Object.entries(res) as [string, ort.Tensor][])
    out[k] = { dims: [...t.dims], data: t.data as Float32Array };
  return out;
}

/** A seeded random image-like input in [-1, 1]. */
export function randomInput(dims: number[], seed = 1): Float32Array {
  return uniformInput(
    dims.reduce((a, b) => a * b, 1),
    seed,
  );
}
