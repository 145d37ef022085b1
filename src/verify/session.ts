// One onnxruntime run of a detector on one input, as verify and bench take it.
import * as ort from 'onnxruntime-node';
import type { RunOutputs } from '../postprocess/for-model';

/** How verify and bench open the models they compare (bench's timed sessions add their own thread and graph options). */
export const RUN_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };

/** Run `s` on one float32 input `name` of shape `dims`; every output by name. */
export async function runOnce(s: ort.InferenceSession, name: string, dims: number[], data: Float32Array): Promise<RunOutputs> {
  const res = await s.run({ [name]: new ort.Tensor('float32', data, dims) });
  const out: RunOutputs = {};
  for (const [k, t] of Object.entries(res) as [string, ort.Tensor][]) out[k] = { dims: [...t.dims], data: t.data as Float32Array };
  return out;
}
