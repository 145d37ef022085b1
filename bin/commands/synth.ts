import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { FORCE_OPTION } from '../options';
import {
  FIXTURE_KINDS,
  OUTPUT_STYLES,
  RESHAPE_TARGETS,
  type FixtureKind,
  type OutputStyle,
  type ReshapeTargets,
} from '../../fixtures/kinds';

interface Args {
  kind: FixtureKind;
  backbone: 'full' | 'tiny';
  outputs: OutputStyle;
  reshape: ReshapeTargets;
  'input-shape'?: string;
  seed?: number;
  o: string;
  force: boolean;
  json: boolean;
  debug: boolean;
}

export const synthCommand: CommandModule<object, Args> = {
  command: 'synth <kind>',
  describe: 'Build a synthetic detector (seeded random weights) and save it as ONNX',
  builder: (y) =>
    y
      .positional('kind', { choices: FIXTURE_KINDS, demandOption: true })
      .option('backbone', {
        choices: ['full', 'tiny'] as const,
        default: 'tiny' as const,
        describe: 'SSD300: full VGG16 or a cheap stand-in with the same feature maps',
      })
      .option('outputs', {
        choices: OUTPUT_STYLES,
        describe:
          'per-level maps, [N,anchors,K] tensors, or activated scores + decoded boxes (default concat; yolov5: raw, the only one built)',
      })
      .option('reshape', {
        choices: RESHAPE_TARGETS,
        describe: 'Reshape targets as constants, Shape-computed, or both',
      })
      .option('input-shape', { type: 'string', describe: 'RetinaNet input N,C,H,W (default 1,3,800,1200)' })
      .option('seed', { type: 'number' })
      .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'output .onnx file' })
      .option('force', FORCE_OPTION)
      .option('json', { type: 'boolean', default: false }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { formatSynth, synth } = await import('../../src/jobs/synth');
      const { parseInputShape } = await import('../../src/flags');
      const shape = parseInputShape(argv['input-shape']);
      const r = synth(argv.kind, argv.o, {
        backbone: argv.backbone,
        outputs: argv.outputs ?? (argv.kind === 'yolov5' ? 'raw' : 'concat'),
        ...(argv.reshape ? { reshape: argv.reshape } : {}),
        ...(shape ? { inputSize: [shape[2]!, shape[3]!] as [number, number] } : {}),
        ...(argv.seed !== undefined ? { seed: argv.seed } : {}),
        force: argv.force,
      });
      emit(argv.json, r, () => formatSynth(r));
    }, argv.debug),
};
