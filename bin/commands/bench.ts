import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { LIMITS } from '../../src/limits';

interface Args { outdir: string; original?: string; images?: string; postprocess?: string; runs: number; 'skip-model': boolean; json: boolean; debug: boolean }

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench <outdir>',
  describe: 'Post-processing latency (C, TypeScript, onnxruntime NMS) for the original and pruned anchors, and model latency',
  builder: (y) => y
    .positional('outdir', { type: 'string', demandOption: true, describe: 'the folder compile wrote' })
    .option('original', { type: 'string', describe: 'the original model (default: the path in report.json)' })
    .option('images', { type: 'string', describe: 'use the real head outputs of the first image in this folder' })
    .option('postprocess', { type: 'string', describe: 'post-processing preset (default: the one compile emitted C for)' })
    .option('runs', { type: 'number', default: 200, describe: `timed runs per measurement (200 to ${LIMITS.benchRuns})` })
    .option('skip-model', { type: 'boolean', default: false, describe: 'skip the end-to-end model timing' })
    .option('json', { type: 'boolean', default: false })
    .check((a) => {
      if (!(Number(a.runs) >= 200)) throw new Error('--runs must be at least 200 (medians and p99 of fewer runs are noise)');
      return true;
    }) as never,
  handler: (argv) => runCommand(async () => {
    const { bench } = await import('../../src/bench/index');
    const { formatBench } = await import('../../src/commands/bench-format');
    const r = await bench({
      outDir: argv.outdir,
      runs: argv.runs,
      noModel: argv['skip-model'],
      ...(argv.original ? { original: argv.original } : {}),
      ...(argv.images ? { images: argv.images } : {}),
      ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
      progress: (m) => process.stderr.write(`[bench] ${m}\n`),
    });
    const json = {
      floorUs: r.floorUs,
      floors: { originalUs: r.floors.original.medianUs, prunedUs: r.floors.pruned.medianUs },
      postprocess: r.postprocess.map((t) => ({ impl: t.impl, anchors: t.anchors, medianUs: t.medianUs, p99Us: t.p99Us, minUs: t.minUs, p90Us: t.p90Us, candidates: t.candidates, detections: t.detections })),
      model: r.model,
      boxes: r.boxes,
      preset: r.preset,
      cFlags: r.cFlags,
      runs: r.runs,
    };
    emit(argv.json, json, () => formatBench(r));
  }, argv.debug),
};
