import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';
import { formatInspect, inspectModel } from '../../src/commands/inspect';
import { parseInputShape } from '../../src/commands/common';

interface Args { model: string; json: boolean; 'input-shape'?: string; debug: boolean }

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <model>',
  describe: 'Describe a model: inputs/outputs, opsets, ops, parameters, MACs, and its detection head',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
    .option('input-shape', { type: 'string', describe: 'input shape N,C,H,W for models with a dynamic input size' }) as never,
  handler: (argv) => runCommand(() => {
    const r = inspectModel(argv.model, { inputShape: parseInputShape(argv['input-shape']) });
    emit(argv.json, r, () => formatInspect(r));
  }, argv.debug),
};
