import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';

interface Args { model: string; json: boolean; 'input-shape'?: string; 'head-spec'?: string; debug: boolean }

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <model>',
  describe: 'Describe a model: inputs/outputs, opsets, ops, parameters, MACs, and its detection head',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'ONNX file' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
    .option('input-shape', { type: 'string', describe: 'input shape N,C,H,W for models with a dynamic input size' })
    .option('head-spec', { type: 'string', describe: 'JSON naming the head convs per level, when analysis cannot tell' }) as never,
  handler: (argv) => runCommand(async () => {
    const { inspectModel, formatInspect } = await import('../../src/commands/inspect');
    const { parseInputShape } = await import('../../src/commands/common');
    const r = inspectModel(argv.model, { inputShape: parseInputShape(argv['input-shape']), ...(argv['head-spec'] ? { headSpec: argv['head-spec'] } : {}) });
    emit(argv.json, r, () => formatInspect(r));
  }, argv.debug),
};
