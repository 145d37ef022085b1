import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION, HEAD_SPEC_OPTION, INPUT_SHAPE_OPTION } from '../options';
import type { SearchOptions } from '../../src/jobs/search/index';

interface Args {
  model: string;
  images: string;
  annotations?: string;
  postprocess?: string;
  strategy: string;
  'min-map'?: number;
  'anchors-per-level'?: number;
  'max-candidates'?: number;
  workers?: number;
  'min-level-detections'?: number;
  'input-shape'?: string;
  'head-spec'?: string;
  size?: string;
  mean?: string;
  std?: string;
  bgr: boolean;
  letterbox: boolean;
  o: string;
  force: boolean;
  json: boolean;
  debug: boolean;
  'cache-dir'?: string;
  'build-cache-only': boolean;
  shard?: string;
  progress?: number;
}

export const searchCommand: CommandModule<object, Args> = {
  command: 'search <model>',
  describe: "Search pruned-anchor configurations on your images (the paper's Pareto search) and write the front",
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'ONNX detector (the unpruned model)' })
      .option('images', { type: 'string', demandOption: true, describe: 'folder of .jpg/.png images to evaluate on' })
      .option('annotations', {
        type: 'string',
        describe: "COCO annotations of those images (else: fidelity to the full model's own detections)",
      })
      .option('postprocess', {
        type: 'string',
        describe: 'post-processing preset and overrides, e.g. ultraface or mmdet-ssd300,score_thr=0.05',
      })
      .option('strategy', {
        type: 'string',
        default: 'pareto',
        describe:
          'pareto (tree of single-anchor removals), layerwise (one level at a time) or shared (the same anchor on every level, or a whole level)',
      })
      .option('min-map', {
        type: 'number',
        describe: 'stop a branch below this mAP (default 0.2 with --annotations, 0.5 for fidelity)',
      })
      .option('anchors-per-level', {
        type: 'number',
        describe: 'layerwise: remove at most this many anchors per level (default: no limit)',
      })
      .option('max-candidates', {
        type: 'number',
        describe: 'evaluate at most this many candidates over all runs of this search (default 2000)',
      })
      .option('workers', { type: 'number', describe: 'evaluation threads (default: number of cores)' })
      .option('min-level-detections', {
        type: 'number',
        describe:
          'flag candidates removing anchors of a level where the full model detects fewer objects than this on the images (default 10)',
      })
      .option('input-shape', INPUT_SHAPE_OPTION)
      .option('head-spec', HEAD_SPEC_OPTION)
      .option('size', { type: 'string', describe: "network input WxH (default: the model's)" })
      .option('mean', { type: 'string', describe: "per-channel mean r,g,b in pixel units (default: the preset's)" })
      .option('std', { type: 'string', describe: "per-channel std r,g,b in pixel units (default: the preset's)" })
      .option('bgr', { type: 'boolean', default: false, describe: 'feed channels in B,G,R order' })
      .option('letterbox', {
        type: 'boolean',
        default: false,
        describe: 'keep the aspect ratio and pad (centred) instead of stretching',
      })
      .option('o', {
        alias: 'output',
        type: 'string',
        demandOption: true,
        describe: 'output folder (pareto.json, report.html, configs/, cache/)',
      })
      .option('cache-dir', {
        type: 'string',
        describe: 'cache folder (default OUTDIR/cache); searches and machines can share one',
      })
      .option('build-cache-only', {
        type: 'boolean',
        default: false,
        describe: 'only fill the cache (run the model on photos without a valid record), no search',
      })
      .option('shard', {
        type: 'string',
        describe:
          'with --build-cache-only: fill slice i of n (i/n, photos i, i+n, ...), so n processes or machines fill one cache',
      })
      .option('progress', {
        type: 'number',
        describe: 'seconds between progress lines when stderr is not a terminal (default 10)',
      })
      .option('force', FORCE_OPTION)
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { search, buildSearchCache, formatSearch, formatCacheBuild } = await import('../../src/jobs/search/index');
      const { parseShard } = await import('../../src/search/sparse-cache');
      const { ProgressReporter } = await import('../../src/search/progress');
      const { parseInputShape } = await import('../../src/flags');
      const { usage } = await import('../../src/image/inputs');
      if (
        argv.progress !== undefined &&
        !(Number.isFinite(argv.progress) && argv.progress >= 0 && argv.progress <= 86_400)
      ) {
        usage(`--progress ${argv.progress} is out of range`, 'use seconds between progress lines, from 0 to 86400');
      }
      const progress = new ProgressReporter({
        tty: process.stderr.isTTY === true,
        write: (t) => process.stderr.write(t),
        ...(argv.progress !== undefined ? { everySeconds: argv.progress } : {}),
      });
      const options: SearchOptions = {
        model: argv.model,
        images: argv.images,
        outDir: argv.o,
        force: argv.force,
        strategy: argv.strategy as SearchOptions['strategy'],
        ...(argv.annotations !== undefined ? { annotations: argv.annotations } : {}),
        ...(argv.postprocess !== undefined ? { postprocess: argv.postprocess } : {}),
        ...(argv['min-map'] !== undefined ? { minMap: argv['min-map'] } : {}),
        ...(argv['anchors-per-level'] !== undefined ? { anchorsPerLevel: argv['anchors-per-level'] } : {}),
        ...(argv['max-candidates'] !== undefined ? { maxCandidates: argv['max-candidates'] } : {}),
        ...(argv.workers !== undefined ? { workers: argv.workers } : {}),
        ...(argv['min-level-detections'] !== undefined ? { minLevelDetections: argv['min-level-detections'] } : {}),
        ...(argv['input-shape'] ? { inputShape: parseInputShape(argv['input-shape'])! } : {}),
        ...(argv['head-spec'] ? { headSpec: argv['head-spec'] } : {}),
        ...(argv['cache-dir'] !== undefined ? { cacheDir: argv['cache-dir'] } : {}),
        ...(argv.shard !== undefined ? { shard: parseShard(argv.shard) } : {}),
        preprocess: {
          ...(argv.size !== undefined ? { size: argv.size } : {}),
          ...(argv.mean !== undefined ? { mean: argv.mean } : {}),
          ...(argv.std !== undefined ? { std: argv.std } : {}),
          bgr: argv.bgr,
          letterbox: argv.letterbox,
        },
        onProgress: (p) =>
          progress.update(
            p.phase === 'inference'
              ? {
                  phase: 'cache',
                  done: p.done,
                  total: p.total,
                  unit: 'photos',
                  detail: `(${p.computed} run through the model)`,
                }
              : {
                  phase: 'evaluation',
                  done: p.candidates,
                  total: p.max,
                  unit: 'candidates',
                  cap: true,
                  detail: `on ${p.images} photos`,
                },
          ),
      };
      try {
        if (argv['build-cache-only']) {
          const r = await buildSearchCache(options);
          progress.end();
          emit(argv.json, r, () => formatCacheBuild(r));
          return;
        }
        const r = await search(options);
        progress.end();
        emit(argv.json, r, () => formatSearch(r));
      } finally {
        progress.end();
      }
    }, argv.debug),
};
