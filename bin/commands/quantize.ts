import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION, INPUT_SHAPE_OPTION, PREPROCESS_OPTIONS, preprocessFlags } from '../options';

interface Args {
  model: string;
  o: string;
  format: 'qdq' | 'qoperator';
  activations: 'uint8' | 'int8';
  'per-tensor': boolean;
  'qlinear-concat': boolean;
  images?: string;
  samples?: number;
  postprocess?: string;
  'input-shape'?: string;
  size?: string;
  mean?: string;
  std?: string;
  bgr: boolean;
  letterbox: boolean;
  force: boolean;
  json: boolean;
  debug: boolean;
}

export const quantizeCommand: CommandModule<object, Args> = {
  command: 'quantize <model>',
  describe: 'Quantize a float detector to int8 (QDQ or QLinearConv), calibrated on photos, for compile and verify',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'float ONNX file' })
      .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'output .onnx file' })
      .option('format', {
        choices: ['qdq', 'qoperator'] as const,
        default: 'qdq' as const,
        describe: 'QuantizeLinear/DequantizeLinear around float convs, or QLinearConv',
      })
      .option('activations', {
        choices: ['uint8', 'int8'] as const,
        default: 'uint8' as const,
        describe: 'activation type (weights are int8, symmetric)',
      })
      .option('per-tensor', { type: 'boolean', default: false, describe: 'one weight scale per conv, not per channel' })
      .option('qlinear-concat', {
        type: 'boolean',
        default: false,
        describe: "qoperator: head Concats of quantized convs become onnxruntime's com.microsoft QLinearConcat",
      })
      .option('images', { type: 'string', describe: 'calibration photos (default: seeded random inputs)' })
      .option('samples', { type: 'number', describe: 'calibrate on this many inputs (default: every photo, or 8)' })
      .option('postprocess', {
        type: 'string',
        describe: "preset whose photo normalisation to use (e.g. ultraface), as verify's",
      })
      .option('input-shape', INPUT_SHAPE_OPTION)
      .options(PREPROCESS_OPTIONS)
      .option('force', FORCE_OPTION)
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { quantize, formatQuantize } = await import('../../src/jobs/quantize');
      const { parseInputShape } = await import('../../src/flags');
      const inputShape = parseInputShape(argv['input-shape']);
      const r = await quantize({
        model: argv.model,
        output: argv.o,
        format: argv.format,
        activations: argv.activations,
        perTensor: argv['per-tensor'],
        qlinearConcat: argv['qlinear-concat'],
        ...(argv.images ? { images: argv.images } : {}),
        ...(argv.samples !== undefined ? { samples: argv.samples } : {}),
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        preprocess: preprocessFlags(argv),
        ...(inputShape ? { inputShape } : {}),
        force: argv.force,
      });
      emit(argv.json, r, () => formatQuantize(r));
    }, argv.debug),
};
