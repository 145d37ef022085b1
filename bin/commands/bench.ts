import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { LIMITS } from '../../src/limits';

/** Fewer timed rounds than this get a warning (medians and p99 settle from a few hundred). */
const RECOMMENDED_RUNS = 200;

interface Args {
  outdir: string;
  original?: string;
  images?: string;
  postprocess?: string;
  load?: string[];
  anchors?: string;
  runs: number;
  'slow-runs': number;
  'model-runs': number;
  'skip-model': boolean;
  only?: string;
  json: boolean;
  debug: boolean;
}

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench <outdir>',
  describe:
    'Post-processing latency on named loads (fused C, onnxruntime NMS op, mmdeploy-style graph, onnx-nms, TypeScript) for the original and pruned anchors, and model latency',
  builder: (y) =>
    y
      .positional('outdir', { type: 'string', demandOption: true, describe: 'the folder compile wrote' })
      .option('original', { type: 'string', describe: 'the original model (default: the path in report.json)' })
      .option('load', {
        type: 'string',
        array: true,
        describe:
          'light, real, medium, heavy, photos (default: light to heavy, and photos with --images); comma-separated or repeated',
      })
      .option('anchors', {
        type: 'string',
        choices: ['original', 'pruned', 'both'],
        default: 'both',
        describe: 'which anchor sets to measure',
      })
      .option('images', {
        type: 'string',
        describe: "the photos load: the original model's head outputs on (up to 8) images of this folder",
      })
      .option('postprocess', {
        type: 'string',
        describe: 'post-processing preset (default: the one compile emitted C for)',
      })
      .option('runs', {
        type: 'number',
        default: 200,
        describe: `timed rounds for the C and onnxruntime peers (1 to ${LIMITS.benchRuns}; below ${RECOMMENDED_RUNS} gets a warning)`,
      })
      .option('slow-runs', {
        type: 'number',
        default: 20,
        describe: `timed runs of the TypeScript reference and the bit-exact graph (5 to ${LIMITS.benchRuns})`,
      })
      .option('model-runs', { type: 'number', default: 20, describe: `model latency runs (20 to ${LIMITS.benchRuns})` })
      .option('skip-model', { type: 'boolean', default: false, describe: 'skip the model latency' })
      .option('only', {
        type: 'string',
        describe:
          'time only C builds of the module and the floor, no onnxruntime or TypeScript peers, no model latency: c (shipped flags), or a list of c, c-portable, c-runtime-anchors (--anchors runtime), c-int8 (int8 inputs)',
      })
      .option('json', { type: 'boolean', default: false })
      .check((a) => {
        const only = a.only === undefined ? [] : String(a.only).split(',');
        for (const p of only)
          if (!['c', 'c-portable', 'c-runtime-anchors', 'c-int8'].includes(p.trim()))
            throw new Error(`--only ${p}: choose from c, c-portable, c-runtime-anchors, c-int8`);
        if (!(Number(a['slow-runs']) >= 5)) throw new Error('--slow-runs must be at least 5');
        if (!(Number(a['model-runs']) >= 20)) throw new Error('--model-runs must be at least 20');
        return true;
      }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { bench } = await import('../../src/jobs/bench/index');
      const { checkLoads } = await import('../../src/postprocess/loads');
      const { formatBench } = await import('../../src/jobs/bench/format');
      if (Number.isInteger(argv.runs) && argv.runs >= 1 && argv.runs < RECOMMENDED_RUNS)
        process.stderr.write(
          `[bench] warning: --runs ${argv.runs} is below ${RECOMMENDED_RUNS}: the medians and the p99 of fewer rounds are noisy; use it for a quick look, not for figures you quote\n`,
        );
      const loads = argv.load
        ?.flatMap((l) => l.split(','))
        .map((l) => l.trim())
        .filter(Boolean);
      const r = await bench({
        outDir: argv.outdir,
        runs: argv.runs,
        slowRuns: argv['slow-runs'],
        modelRuns: argv['model-runs'],
        noModel: argv['skip-model'] || argv.only !== undefined,
        ...(argv.only !== undefined
          ? {
              peers: String(argv.only)
                .split(',')
                .map((p) => p.trim() as 'c' | 'c-portable' | 'c-runtime-anchors' | 'c-int8'),
            }
          : {}),
        ...(loads?.length ? { loads: checkLoads(loads) } : {}),
        ...(argv.anchors && argv.anchors !== 'both' ? { sets: [argv.anchors as 'original' | 'pruned'] } : {}),
        ...(argv.original ? { original: argv.original } : {}),
        ...(argv.images ? { images: argv.images } : {}),
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        progress: (m) => process.stderr.write(`[bench] ${m}\n`),
      });
      emit(argv.json, r, () => formatBench(r));
    }, argv.debug),
};
