// Static calibration for the quantizer: run the float model in onnxruntime on the calibration inputs with every
// quantized activation (each conv's input and output) as an extra output, and record each one's min and max.
// Min/max, not a percentile: prunedet calibrates on tens of inputs, too few for stable tail estimates, and the head's
// largest logits are exactly the detections a percentile would clip; min/max never clips what calibration saw
// (it is onnxruntime's default calibrator too).
import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/graph';
import { loadModel } from '../onnx/load';
import { modelToBytes } from '../onnx/save';
import { setDeclaredType } from '../onnx/value-info';
import { inferShapes } from '../shape/infer';
import { PrunedetError } from '../errors';
import { uniformInput } from '../prng';
import { calibrationTargets, type Ranges } from './quantize';

/** One calibration input: the float32 data of the model's image input. */
export interface CalibrationSet {
  inputName: string;
  dims: number[];
  /** Number of inputs. */
  count: number;
  /** The i-th input (made on demand: photos are decoded one at a time). */
  make(i: number): Float32Array;
}

/** Observed [min, max] of every value the quantizer needs, over `set`. */
export async function calibrate(m: Model, set: CalibrationSet): Promise<Ranges> {
  if (set.count === 0)
    throw new PrunedetError('E_USAGE', 'calibration needs at least one input', 'give a folder with images');
  const probe = loadModel(modelToBytes(m));
  const targets = calibrationTargets(probe);
  const shapes = inferShapes(probe, { inputShapes: { [set.inputName]: set.dims } });
  const extra = targets.filter((n) => !probe.graph.outputs.some((o) => o.name === n));
  for (const name of extra) {
    const v = probe.graph.value(name);
    setDeclaredType(v, shapes.get(v)?.dtype ?? 1, undefined);
    probe.graph.outputs.push(v);
  }
  const session = await ort.InferenceSession.create(modelToBytes(probe), {
    logSeverityLevel: 3,
    graphOptimizationLevel: 'basic',
  });
  const ranges: Ranges = new Map();
  try {
    for (let i = 0; i < set.count; i++) {
      const res = await session.run({ [set.inputName]: new ort.Tensor('float32', set.make(i), set.dims) }, targets);
      for (const name of targets) {
        const data = res[name]!.data as Float32Array;
        let lo = Infinity;
        let hi = -Infinity;
        for (let k = 0; k < data.length; k++) {
          const x = data[k]!;
          if (x < lo) lo = x;
          if (x > hi) hi = x;
        }
        const r = ranges.get(name);
        ranges.set(name, r ? [Math.min(r[0], lo), Math.max(r[1], hi)] : [lo, hi]);
      }
    }
  } finally {
    await session.release();
  }
  return ranges;
}

/** Seeded uniform [-1, 1] inputs (models without photos: the synthetic detectors, or no --images). */
export function randomCalibrationSet(inputName: string, dims: number[], count: number): CalibrationSet {
  const n = dims.reduce((a, b) => a * b, 1);
  return { inputName, dims, count, make: (i) => uniformInput(n, 1000 + i) };
}
