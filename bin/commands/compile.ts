import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION, HEAD_SPEC_OPTION, INPUT_SHAPE_OPTION } from '../options';

interface Args {
  model: string;
  config?: string;
  remove?: string;
  o: string;
  'baseline-config'?: string;
  'head-spec'?: string;
  'input-shape'?: string;
  passes?: string;
  check: boolean;
  force: boolean;
  emit?: string | string[];
  postprocess?: string;
  'cut-head': boolean;
  name?: string;
  anchors?: string;
  'input-type'?: string;
  'input-layout'?: string;
  json: boolean;
  debug: boolean;
}

export const compileCommand: CommandModule<object, Args> = {
  command: 'compile <model>',
  describe: 'Apply a pruned-anchor configuration and write OUTDIR/model.onnx + report.json (+ C post-processing)',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'ONNX detector' })
      .option('config', { type: 'string', describe: 'mmdetection-style .py or .json anchor config' })
      .option('remove', {
        type: 'string',
        describe: 'global base-anchor indices to remove, e.g. 5,7,13 (as the paper prints them)',
      })
      .option('o', {
        alias: 'output',
        type: 'string',
        demandOption: true,
        describe: 'output folder (replaced as a whole)',
      })
      .option('force', FORCE_OPTION)
      .option('baseline-config', {
        type: 'string',
        describe: 'the unpruned anchor generator config (.py), to match (scale, ratio) pairs',
      })
      .option('head-spec', HEAD_SPEC_OPTION)
      .option('input-shape', INPUT_SHAPE_OPTION)
      .option('passes', {
        type: 'string',
        describe: 'comma-separated pass pipeline (default: all; see `prunedet passes`)',
      })
      .option('check', {
        type: 'boolean',
        default: false,
        describe: 'also open the model in onnxruntime after every pass',
      })
      // one value, a comma list (not array: true, which would swallow a model path given after it)
      .option('emit', {
        type: 'string',
        requiresArg: true,
        describe:
          'extra outputs, comma-separated (--emit c,onnx-nms): c (fused C99 post-processing), onnx-nms (decode + NMS as ONNX, alone and appended to the model; onnx-nms-exact: bit-exact with the reference, slower)',
      })
      .option('postprocess', {
        type: 'string',
        describe: 'post-processing preset and overrides, e.g. mmdet-ssd300,score_thr=0.05',
      })
      .option('cut-head', {
        type: 'boolean',
        default: false,
        describe: 'end the ONNX at the head convs (per-level maps) and leave layout/decode to the C module',
      })
      .option('name', {
        type: 'string',
        describe:
          "name of the emitted C module: symbols pd_NAME_, files NAME.c and NAME.h (default: symbols from the model's file name, files postprocess.c/.h)",
      })
      .option('anchors', {
        type: 'string',
        requiresArg: true,
        describe:
          '--emit c: table (default: every anchor compiled in) or runtime (generated on demand from per-level strides and kept base anchors, bit-identical, a few hundred bytes)',
      })
      .option('input-type', {
        type: 'string',
        requiresArg: true,
        describe:
          '--emit c: quantized head inputs, ROLE:TYPE[:SCALE:ZERO_POINT] per role (scores, boxes; int8, uint8, float32), e.g. scores:int8:0.0039:-128,boxes:int8; without scale and zero point they come from the DequantizeLinear producing that output',
      })
      .option('input-layout', {
        type: 'string',
        requiresArg: true,
        describe: '--emit c, per-level maps (--cut-head): nchw (default) or nhwc (TFLite / MCU layout)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .check((a) => {
        if (a.config === undefined && a.remove === undefined) throw new Error('give --config FILE or --remove LIST');
        return true;
      }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { compile } = await import('../../src/jobs/compile/index');
      const { formatCompile } = await import('../../src/jobs/compile/format');
      const { parseInputShape } = await import('../../src/flags');
      const r = await compile({
        model: argv.model,
        outDir: argv.o,
        check: argv.check,
        force: argv.force,
        cutHead: argv['cut-head'],
        ...(argv.config !== undefined ? { config: argv.config } : {}),
        ...(argv.remove !== undefined ? { remove: argv.remove } : {}),
        ...(argv['baseline-config'] ? { baselineConfig: argv['baseline-config'] } : {}),
        ...(argv['head-spec'] ? { headSpec: argv['head-spec'] } : {}),
        ...(argv['input-shape'] ? { inputShape: parseInputShape(argv['input-shape'])! } : {}),
        ...(argv.passes
          ? {
              passes: argv.passes
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean),
            }
          : {}),
        ...(argv.emit !== undefined
          ? {
              emit: [argv.emit]
                .flat()
                .flatMap((e) => String(e).split(','))
                .map((e) => e.trim())
                .filter(Boolean),
            }
          : {}),
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        ...(argv.name !== undefined ? { name: String(argv.name) } : {}),
        ...(argv.anchors !== undefined ? { anchors: String(argv.anchors) } : {}),
        ...(argv['input-type'] !== undefined ? { inputType: String(argv['input-type']) } : {}),
        ...(argv['input-layout'] !== undefined ? { inputLayout: String(argv['input-layout']) } : {}),
      });
      emit(argv.json, r, () => formatCompile(r, argv.o));
    }, argv.debug),
};
