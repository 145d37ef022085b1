import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION, INPUT_SHAPE_OPTION, PREPROCESS_OPTIONS, preprocessFlags } from '../options';

interface Args {
  model: string;
  images: string;
  o: string;
  postprocess?: string;
  vectors?: string;
  size?: string;
  mean?: string;
  std?: string;
  bgr: boolean;
  letterbox: boolean;
  'input-shape'?: string;
  force: boolean;
  json: boolean;
  debug: boolean;
}

export const detectCommand: CommandModule<object, Args> = {
  command: 'detect <model> <images>',
  describe:
    'Run a model (an ONNX detector or a compiled OUTDIR) on an image or a folder: detections as JSON, PNGs with the boxes, and C test vectors for the module',
  builder: (y) =>
    y
      .positional('model', {
        type: 'string',
        demandOption: true,
        describe: 'ONNX detector, or the folder prunedet compile wrote',
      })
      .positional('images', {
        type: 'string',
        demandOption: true,
        describe: 'an image (.jpg/.jpeg/.png) or a folder of images',
      })
      .option('o', {
        alias: 'output',
        type: 'string',
        demandOption: true,
        describe: 'output folder (replaced as a whole): detections.json, one PNG per image, test_vectors.h',
      })
      .option('force', FORCE_OPTION)
      .option('postprocess', {
        type: 'string',
        describe: 'post-processing preset and overrides (default: the one report.json records)',
      })
      .option('vectors', {
        type: 'string',
        describe: 'images whose head outputs go into test_vectors.h, 0 to 64 (default 1)',
      })
      .options(PREPROCESS_OPTIONS)
      .option('input-shape', INPUT_SHAPE_OPTION)
      .option('json', {
        type: 'boolean',
        default: false,
        describe: "print detections.json's content (schema prunedet.detect/1)",
      }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { detect } = await import('../../src/jobs/detect');
      const { formatDetect } = await import('../../src/jobs/detect/format');
      const { parseCount, parseInputShape } = await import('../../src/flags');
      const r = await detect({
        model: argv.model,
        images: argv.images,
        outDir: argv.o,
        force: argv.force,
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        ...(argv.vectors !== undefined ? { vectors: parseCount('--vectors', argv.vectors) } : {}),
        preprocess: preprocessFlags(argv),
        ...(argv['input-shape'] ? { inputShape: parseInputShape(argv['input-shape'])! } : {}),
      });
      emit(argv.json, r, () => formatDetect(r, argv.o));
    }, argv.debug),
};
