// `prunedet quantize MODEL -o OUT`: post-training static quantization of a float detector, so that quantized models
// can be compiled and verified like float ones. Calibration on photos (--images, preprocessed as verify and detect
// do) or, without them, on seeded random inputs; QDQ or QOperator (QLinearConv) form; the result is re-analysed
// (still a detector, head quantization as inspect reports it) and compared with the float model on one input.
import * as ort from 'onnxruntime-node';
import { basename } from 'node:path';
import { analyzeModel } from '../detector/index';
import { keepEveryAnchor, optimizeModel } from '../optimize';
import { checkOutput } from '../fs';
import { decodeImage, listImages } from '../image/decode';
import { preprocess } from '../image/preprocess';
import { preprocessOptionsFor, type PreprocessFlags } from '../image/inputs';
import { loadModelWithInfo } from '../onnx/load';
import { producerOf } from '../onnx/producer';
import { stampProvenance, metadataOf } from '../onnx/provenance';
import { modelToBytes, saveModel } from '../onnx/save';
import { PrunedetError } from '../errors';
import { PRUNEDET_VERSION } from '../version';
import { calibrate, randomCalibrationSet, type CalibrationSet } from '../quant/calibrate';
import { describeHeadQuantization, type HeadQuantization } from '../quant/head';
import { quantizeModel, type ActivationType, type QuantFormat } from '../quant/quantize';
import { fmtBytes, fmtInt } from '../format/table';

export interface QuantizeJobOptions {
  model: string;
  output: string;
  format: QuantFormat;
  activations?: ActivationType;
  perTensor?: boolean;
  /** qoperator: head Concats of dequantized conv outputs become com.microsoft QLinearConcat. */
  qlinearConcat?: boolean;
  /** Folder of calibration photos; without it, `samples` seeded random inputs. */
  images?: string;
  /** Inputs to calibrate on (default: every photo, or 8 random inputs). */
  samples?: number;
  /** Preset whose normalisation the photos get (e.g. ultraface), as verify --images. */
  postprocess?: string;
  preprocess?: PreprocessFlags;
  inputShape?: number[];
  force?: boolean;
}

export interface QuantizeResult {
  model: string;
  output: string;
  format: QuantFormat;
  activations: ActivationType;
  perChannel: boolean;
  convs: number;
  /** Concats written as QLinearConcat. */
  concats: number;
  calibration: { source: 'images' | 'random'; inputs: number; first?: string };
  bytes: { before: number; after: number };
  quantization: HeadQuantization | null;
  /** Largest |quantized - float| per output on the first calibration input (onnxruntime, both models). */
  error: Record<string, number>;
}

const DEFAULT_RANDOM = 8;

function calibrationSet(
  o: QuantizeJobOptions,
  spec: ReturnType<typeof analyzeModel>['spec'],
): CalibrationSet & { first?: string } {
  const { name, shape } = spec.input;
  if (!o.images) return randomCalibrationSet(name, shape, o.samples ?? DEFAULT_RANDOM);
  const files = listImages(o.images);
  const chosen = o.samples ? files.slice(0, o.samples) : files;
  const opts = preprocessOptionsFor(spec, o.postprocess ?? '', o.preprocess ?? {});
  return {
    inputName: name,
    dims: shape,
    count: chosen.length,
    make: (i) => preprocess(decodeImage(chosen[i]!), opts),
    ...(chosen[0] ? { first: basename(chosen[0]) } : {}),
  };
}

export async function quantize(o: QuantizeJobOptions): Promise<QuantizeResult> {
  if (o.qlinearConcat && o.format !== 'qoperator')
    throw new PrunedetError('E_USAGE', '--qlinear-concat needs --format qoperator', 'add --format qoperator');
  if (o.samples !== undefined && !(Number.isInteger(o.samples) && o.samples >= 1 && o.samples <= 100_000))
    throw new PrunedetError('E_USAGE', `--samples ${o.samples} is not a count of inputs`, 'pass --samples 1 or more');
  const target = checkOutput(o.output, {
    command: 'quantize',
    kind: 'file',
    inputs: [o.model],
    ownsFile: (p) => /^prunedet(-|$)/.test(producerOf(p) ?? ''),
    ...(o.force ? { force: true } : {}),
  });
  const loaded = loadModelWithInfo(o.model);
  const model = loaded.model;
  const { shapes, spec } = analyzeModel(model, o.inputShape ? { inputShape: o.inputShape } : {}, loaded.source);
  if (spec.quantization?.convs)
    throw new PrunedetError(
      'E_USAGE',
      `${o.model} is already quantized (${spec.quantization.form}, ${spec.quantization.convs} head convs)`,
      'quantize the float model it came from',
    );
  const set = calibrationSet(o, spec);
  // quantize the graph compile would run (batch norms folded into their convs, constants folded), as quantizers do:
  // a batch norm left between a quantized conv and the next one would run in float between two Q/DQ pairs
  await optimizeModel(model, {
    kept: keepEveryAnchor(spec),
    initial: { shapes, spec },
    ...(o.inputShape ? { inputShape: o.inputShape } : {}),
  });
  const ranges = await calibrate(model, set);
  const floatBytes = modelToBytes(model);
  const stats = quantizeModel(model, ranges, {
    format: o.format,
    activations: o.activations ?? 'uint8',
    perChannel: !o.perTensor,
    ...(o.qlinearConcat ? { qlinearConcat: true } : {}),
  });
  const after = analyzeModel(model, { inputShape: spec.input.shape }, `the quantized ${o.model}`);
  stampProvenance(model, 'prunedet', PRUNEDET_VERSION, {
    ...metadataOf(model),
    'prunedet.quantize': `${stats.format}, ${stats.activations} activations, int8 weights ${stats.perChannel ? 'per-channel' : 'per-tensor'}, min/max calibration on ${set.count} ${o.images ? 'images' : 'random inputs'}`,
  });
  const bytes = modelToBytes(model);
  const error = await compareOnce(floatBytes, bytes, set);
  const written = saveModel(model, target.path, { externalData: 'inline' });
  return {
    model: o.model,
    output: o.output,
    format: stats.format,
    activations: stats.activations,
    perChannel: stats.perChannel,
    convs: stats.convsQuantized,
    concats: stats.concatsQuantized,
    calibration: {
      source: o.images ? 'images' : 'random',
      inputs: set.count,
      ...(set.first ? { first: set.first } : {}),
    },
    bytes: { before: loaded.byteLength, after: written },
    quantization: after.spec.quantization ?? null,
    error,
  };
}

/** Both models on the first calibration input: the largest |quantized - float| per output. */
async function compareOnce(a: Uint8Array, b: Uint8Array, set: CalibrationSet): Promise<Record<string, number>> {
  const opts = { logSeverityLevel: 3 as const };
  const [sa, sb] = [await ort.InferenceSession.create(a, opts), await ort.InferenceSession.create(b, opts)];
  try {
    const feeds = { [set.inputName]: new ort.Tensor('float32', set.make(0), set.dims) };
    const [ra, rb] = [await sa.run(feeds), await sb.run(feeds)];
    const out: Record<string, number> = {};
    for (const k of Object.keys(ra)) {
      const x = ra[k]!.data as Float32Array;
      const y = rb[k]?.data as Float32Array | undefined;
      if (!y || y.length !== x.length) continue;
      let m = 0;
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
      out[k] = m;
    }
    return out;
  } finally {
    await sa.release();
    await sb.release();
  }
}

export function formatQuantize(r: QuantizeResult): string {
  const cal =
    r.calibration.source === 'images'
      ? `${fmtInt(r.calibration.inputs)} images (min/max)`
      : `${fmtInt(r.calibration.inputs)} seeded random inputs in [-1, 1] (min/max; pass --images for real ranges)`;
  return [
    `wrote ${r.output}: ${r.format === 'qdq' ? 'QDQ' : 'QOperator (QLinearConv)'}, ${r.convs} convs${r.concats ? `, ${r.concats} QLinearConcat` : ''}, ${r.activations} activations, int8 weights ${r.perChannel ? 'per channel' : 'per tensor'}`,
    `calibrated on ${cal}`,
    `file size ${fmtBytes(r.bytes.before)} -> ${fmtBytes(r.bytes.after)}`,
    ...(r.quantization ? [describeHeadQuantization(r.quantization)] : []),
    `largest |quantized - float| on the first input: ${Object.entries(r.error)
      .map(([k, v]) => `${k} ${v.toPrecision(3)}`)
      .join(', ')}`,
  ].join('\n');
}
