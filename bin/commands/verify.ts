import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { INPUT_SHAPE_OPTION, PREPROCESS_OPTIONS, preprocessFlags } from '../options';

interface Args {
  original: string;
  outdir: string;
  images?: string;
  samples?: string;
  postprocess?: string;
  size?: string;
  mean?: string;
  std?: string;
  bgr: boolean;
  letterbox: boolean;
  'input-shape'?: string;
  atol?: string[];
  rtol?: string[];
  'skip-c': boolean;
  json: boolean;
  debug: boolean;
}

export const verifyCommand: CommandModule<object, Args> = {
  command: 'verify <original> <outdir>',
  describe:
    "Prove a compiled model equivalent to its original: tensors, detections (the paper's oracle) and the C module",
  builder: (y) =>
    y
      .positional('original', {
        type: 'string',
        demandOption: true,
        describe: 'the model compile read (its sha256 must match report.json)',
      })
      .positional('outdir', { type: 'string', demandOption: true, describe: 'the folder compile wrote' })
      .option('images', {
        type: 'string',
        describe: 'folder of images to use as inputs (default: seeded random tensors)',
      })
      .option('samples', { type: 'string', describe: 'number of inputs, 1 to 1000 (default 4 random, or every image)' })
      .option('postprocess', {
        type: 'string',
        describe: 'post-processing preset (default: the one compile emitted C for)',
      })
      .option('atol', {
        type: 'string',
        array: true,
        nargs: 1,
        describe: 'replace the derived tensor tolerance: --atol 1e-5, or --atol OUTPUT:1e-5 (repeatable)',
      })
      .option('rtol', {
        type: 'string',
        array: true,
        nargs: 1,
        describe: 'relative part of that tolerance: |got - expected| <= atol + rtol·|expected|',
      })
      .option('skip-c', {
        type: 'boolean',
        default: false,
        describe: 'do not build and run the emitted C module (the verdict says "C module not checked")',
      })
      .options(PREPROCESS_OPTIONS)
      .option('input-shape', INPUT_SHAPE_OPTION)
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print the result as JSON (schema prunedet.verify/1, see the README)',
      })
      .epilogue(
        'Exit codes: 0 equivalent; 1 mismatch (the first difference is named); 2 bad input (one line naming it); ' +
          '3 inconclusive (a check compared nothing or too little, e.g. gcc missing or a level without detections; the last line says what to do).',
      ) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { verify } = await import('../../src/jobs/verify/index');
      const { formatVerify } = await import('../../src/jobs/verify/format');
      const { parseCount, parseInputShape, parseToleranceFlags } = await import('../../src/flags');
      const tolerances = parseToleranceFlags(argv.atol, argv.rtol);
      const samples = argv.samples === undefined ? undefined : parseCount('--samples', argv.samples);
      const tty = process.stderr.isTTY === true;
      const r = await verify({
        original: argv.original,
        outDir: argv.outdir,
        ...(argv.images ? { images: argv.images } : {}),
        ...(samples !== undefined ? { samples } : {}),
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        ...(tolerances ? { tolerances } : {}),
        skipC: argv['skip-c'],
        preprocess: preprocessFlags(argv),
        ...(argv['input-shape'] ? { inputShape: parseInputShape(argv['input-shape'])! } : {}),
        ...(tty
          ? {
              progress: (d: number, t: number) =>
                process.stderr.write(
                  `\rverify: [${'#'.repeat(Math.round((20 * d) / t)).padEnd(20)}] ${d}/${t}${d === t ? '\n' : ''}`,
                ),
            }
          : {}),
      });
      emit(argv.json, r, () => formatVerify(r));
      process.exitCode = r.exitCode;
    }, argv.debug),
};
