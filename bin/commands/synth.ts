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
  decode?: 'v5' | 'v3';
  'anchor-grid'?: 'broadcast' | 'expanded';
  split?: boolean;
  fused?: boolean;
  'computed-grid'?: boolean;
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
        describe: 'SSD300: full VGG16, yolov5: YOLOv5s-like; or a cheap stand-in with the same feature maps',
      })
      .option('outputs', {
        choices: OUTPUT_STYLES,
        describe:
          'per-level maps, [N,anchors,K] tensors, or activated scores + decoded boxes (default concat; yolov5: raw per-level rows, or decoded in the graph)',
      })
      .option('reshape', {
        choices: RESHAPE_TARGETS,
        describe: 'Reshape targets as constants, Shape-computed, or both',
      })
      .option('input-shape', {
        type: 'string',
        describe: 'RetinaNet input N,C,H,W (default 1,3,800,1200); yolov5: 1,3,S,S (default 640)',
      })
      .option('decode', {
        choices: ['v5', 'v3'] as const,
        describe: 'yolov5 --outputs decoded: the decode (default v5)',
      })
      .option('anchor-grid', {
        choices: ['broadcast', 'expanded'] as const,
        describe: 'yolov5 --outputs decoded: anchor_grid [1,A,1,1,2] (default) or [1,A,H,W,2]',
      })
      .option('split', { type: 'boolean', describe: 'yolov5 --outputs decoded: cut columns with Split, not Slice' })
      .option('fused', { type: 'boolean', describe: 'yolov5 --outputs raw: one fused output of all levels' })
      .option('computed-grid', {
        type: 'boolean',
        describe: 'yolov5 --outputs decoded: the grid computed from the map Shape (Range, Expand), not a constant',
      })
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
        yolo: {
          ...(argv.decode ? { decode: argv.decode } : {}),
          ...(argv['anchor-grid'] ? { anchorGrid: argv['anchor-grid'] } : {}),
          ...(argv.split ? { split: true } : {}),
          ...(argv.fused ? { fused: true } : {}),
          ...(argv['computed-grid'] ? { computedGrid: true } : {}),
        },
        force: argv.force,
      });
      emit(argv.json, r, () => formatSynth(r));
    }, argv.debug),
};
