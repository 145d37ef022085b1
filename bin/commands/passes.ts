import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';

export const passesCommand: CommandModule<object, { json: boolean; debug: boolean }> = {
  command: 'passes',
  describe: 'List the graph passes and the default pipeline',
  builder: (y) =>
    y.option('json', {
      type: 'boolean',
      default: false,
      describe: 'print {passes: [{name, summary, default}], defaultPipeline} as JSON',
    }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { PASSES, DEFAULT_PIPELINE } = await import('../../passes/index');
      const value = {
        passes: PASSES.map((p) => ({ name: p.name, summary: p.summary, default: DEFAULT_PIPELINE.includes(p.name) })),
        defaultPipeline: [...DEFAULT_PIPELINE],
      };
      emit(
        argv.json,
        value,
        () =>
          `${PASSES.map((p) => `${p.name.padEnd(16)} ${p.summary}`).join('\n')}\n\ndefault pipeline: ${DEFAULT_PIPELINE.join(',')}`,
      );
    }, argv.debug),
};
