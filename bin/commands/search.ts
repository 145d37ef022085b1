import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION, HEAD_SPEC_OPTION, INPUT_SHAPE_OPTION } from '../options';
import type { SearchOptions } from '../../src/jobs/search/index';

interface Args {
  model: string; images: string; annotations?: string; postprocess?: string; strategy: string;
  'min-map'?: number; 'anchors-per-level'?: number; 'max-candidates'?: number; workers?: number; 'min-level-detections'?: number; 'input-shape'?: string;
  'head-spec'?: string; size?: string; mean?: string; std?: string; bgr: boolean; letterbox: boolean; o: string; force: boolean; json: boolean; debug: boolean;
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
function progressBar(): { update: (text: string, done: number, total: number) => void; clear: () => void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    update(text, done, total) {
      if (!tty) return;
      const width = 24;
      const fill = total > 0 ? Math.round((done / total) * width) : 0;
      process.stderr.write(`\r[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${text} ${done}/${total}\x1b[K`);
      shown = true;
    },
    clear() {
      if (tty && shown) process.stderr.write('\r\x1b[K');
    },
  };
}

export const searchCommand: CommandModule<object, Args> = {
  command: 'search <model>',
  describe: 'Search pruned-anchor configurations on your images (the paper\'s Pareto search) and write the front',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'ONNX detector (the unpruned model)' })
    .option('images', { type: 'string', demandOption: true, describe: 'folder of .jpg/.png images to evaluate on' })
    .option('annotations', { type: 'string', describe: 'COCO annotations of those images (else: fidelity to the full model\'s own detections)' })
    .option('postprocess', { type: 'string', describe: 'post-processing preset and overrides, e.g. ultraface or mmdet-ssd300,score_thr=0.05' })
    .option('strategy', { type: 'string', default: 'pareto', describe: 'pareto (tree of single-anchor removals), layerwise (one level at a time) or shared (the same anchor on every level, or a whole level)' })
    .option('min-map', { type: 'number', describe: 'stop a branch below this mAP (default 0.2 with --annotations, 0.5 for fidelity)' })
    .option('anchors-per-level', { type: 'number', describe: 'layerwise: remove at most this many anchors per level (default: no limit)' })
    .option('max-candidates', { type: 'number', describe: 'evaluate at most this many candidates over all runs of this search (default 2000)' })
    .option('workers', { type: 'number', describe: 'evaluation threads (default: number of cores)' })
    .option('min-level-detections', { type: 'number', describe: 'flag candidates removing anchors of a level where the full model detects fewer objects than this on the images (default 10)' })
    .option('input-shape', INPUT_SHAPE_OPTION)
    .option('head-spec', HEAD_SPEC_OPTION)
    .option('size', { type: 'string', describe: 'network input WxH (default: the model\'s)' })
    .option('mean', { type: 'string', describe: 'per-channel mean r,g,b in pixel units (default: the preset\'s)' })
    .option('std', { type: 'string', describe: 'per-channel std r,g,b in pixel units (default: the preset\'s)' })
    .option('bgr', { type: 'boolean', default: false, describe: 'feed channels in B,G,R order' })
    .option('letterbox', { type: 'boolean', default: false, describe: 'keep the aspect ratio and pad (centred) instead of stretching' })
    .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'output folder (pareto.json, report.html, configs/, cache/)' })
    .option('force', FORCE_OPTION)
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as never,
  handler: (argv) => runCommand(async () => {
    const { search, formatSearch } = await import('../../src/jobs/search/index');
    const { parseInputShape } = await import('../../src/flags');
    const bar = progressBar();
    try {
      const r = await search({
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
        preprocess: {
          ...(argv.size !== undefined ? { size: argv.size } : {}),
          ...(argv.mean !== undefined ? { mean: argv.mean } : {}),
          ...(argv.std !== undefined ? { std: argv.std } : {}),
          bgr: argv.bgr,
          letterbox: argv.letterbox,
        },
        onProgress: (p) => (p.phase === 'inference' ? bar.update('images', p.done, p.total) : bar.update('candidates', p.candidates, p.max)),
      });
      bar.clear();
      emit(argv.json, r, () => formatSearch(r));
    } finally {
      bar.clear();
    }
  }, argv.debug),
};
