import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { HEAD_SPEC_OPTION, INPUT_SHAPE_OPTION } from '../options';

interface Args {
  model: string;
  json: boolean;
  'input-shape'?: string;
  'head-spec'?: string;
  postprocess?: string;
  'baseline-config'?: string;
  debug: boolean;
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <model>',
  describe: 'Describe a model: inputs/outputs, opsets, ops, parameters, MACs, and its detection head',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .option('input-shape', INPUT_SHAPE_OPTION)
      .option('head-spec', HEAD_SPEC_OPTION)
      .option('postprocess', {
        type: 'string',
        describe: "cross-check an embedded anchor table against this preset's anchor generator",
      })
      .option('baseline-config', {
        type: 'string',
        describe: 'cross-check an embedded anchor table against this anchor generator config (.py)',
      }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { inspectModel, formatInspect } = await import('../../src/jobs/inspect');
      const { parseInputShape } = await import('../../src/flags');
      const r = inspectModel(argv.model, {
        inputShape: parseInputShape(argv['input-shape']),
        ...(argv['head-spec'] ? { headSpec: argv['head-spec'] } : {}),
        ...(argv.postprocess ? { postprocess: argv.postprocess } : {}),
        ...(argv['baseline-config'] ? { baselineConfig: argv['baseline-config'] } : {}),
      });
      emit(argv.json, r, () => formatInspect(r));
    }, argv.debug),
};
