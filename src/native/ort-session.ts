// One onnxruntime run of a detector on one input, as verify and bench take it.
import * as ort from 'onnxruntime-node';
import type { RunOutputs } from '../postprocess/for-model';

/**
 * How verify and bench open the models they compare (bench's timed sessions add their own thread and graph options).
 * 'extended', not onnxruntime's default 'all': level 3 adds the NCHWc layout transform, whose channel blocking (and
 * so the order of float sums) depends on a conv's channel count, which pruning changes; at 'extended' a kept channel
 * is computed in the same order in both models, so slicing alone leaves outputs bit for bit equal (verify checks that).
 */
export const RUN_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  logSeverityLevel: 3,
  graphOptimizationLevel: 'extended',
};

/** Run `s` on one float32 input `name` of shape `dims`; every output by name. */
export async function runOnce(
  s: ort.InferenceSession,
  name: string,
  dims: number[],
  data: Float32Array,
): Promise<RunOutputs> {
  const res = await s.run({ [name]: new ort.Tensor('float32', data, dims) });
  const out: RunOutputs = {};
  for (const [k, t] of Object.entries(res) as [string, ort.Tensor][])
    out[k] = { dims: [...t.dims], data: t.data as Float32Array };
  return out;
}
