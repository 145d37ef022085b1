import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { INPUT_SHAPE_OPTION } from '../options';

interface Args {
  original: string; outdir: string; images?: string; samples?: number; postprocess?: string; size?: string; mean?: string;
  std?: string; bgr: boolean; letterbox: boolean; 'input-shape'?: string; json: boolean; debug: boolean;
}

export const verifyCommand: CommandModule<object, Args> = {
  command: 'verify <original> <outdir>',
  describe: 'Check a compiled model against its original: tensors, detections (the paper\'s oracle) and the C module',
  builder: (y) => y
    .positional('original', { type: 'string', demandOption: true, describe: 'the model compile read' })
    .positional('outdir', { type: 'string', demandOption: true, describe: 'the folder compile wrote' })
    .option('images', { type: 'string', describe: 'folder of images to use as inputs (default: seeded random tensors)' })
    .option('samples', { type: 'number', describe: 'number of inputs (default 4 random, or every image)' })
    .option('postprocess', { type: 'string', describe: 'post-processing preset (default: the one compile emitted C for)' })
    .option('size', { type: 'string', describe: 'image preprocessing: network input WxH' })
    .option('mean', { type: 'string', describe: 'image preprocessing: per-channel mean r,g,b' })
    .option('std', { type: 'string', describe: 'image preprocessing: per-channel std r,g,b' })
    .option('bgr', { type: 'boolean', default: false, describe: 'image preprocessing: feed B,G,R planes' })
    .option('letterbox', { type: 'boolean', default: false, describe: 'image preprocessing: keep aspect ratio, pad' })
    .option('input-shape', INPUT_SHAPE_OPTION)
    .option('json', { type: 'boolean', default: false }) as never,
  handler: (argv) => runCommand(async () => {
    const { verify } = await import('../../src/verify/index');
    const { formatVerify } = await import('../../src/commands/verify-format');
    const { parseInputShape } = await import('../../src/commands/common');
    const tty = process.stderr.isTTY === true;
    const r = await verify({
      original: argv.original,
      outDir: argv.outdir,
      ...(argv.images ? { images: argv.images } : {}),
      ...(argv.samples !== undefined ? { samples: argv.samples } : {}),
      ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
      preprocess: { ...(argv.size ? { size: argv.size } : {}), ...(argv.mean ? { mean: argv.mean } : {}), ...(argv.std ? { std: argv.std } : {}), bgr: argv.bgr, letterbox: argv.letterbox },
      ...(argv['input-shape'] ? { inputShape: parseInputShape(argv['input-shape'])! } : {}),
      ...(tty ? { progress: (d: number, t: number) => process.stderr.write(`\rverify: [${'#'.repeat(Math.round((20 * d) / t)).padEnd(20)}] ${d}/${t}${d === t ? '\n' : ''}`) } : {}),
    });
    emit(argv.json, r, () => formatVerify(r));
    if (!r.ok) process.exitCode = 1;
  }, argv.debug),
};
