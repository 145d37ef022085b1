import type { CommandModule } from 'yargs';
import { runCommand } from '../run';

export const passesCommand: CommandModule<object, { debug: boolean }> = {
  command: 'passes',
  describe: 'List the graph passes and the default pipeline',
  handler: (argv) => runCommand(async () => {
    const { PASSES, DEFAULT_PIPELINE } = await import('../../passes/index');
    for (const p of PASSES) process.stdout.write(`${p.name.padEnd(16)} ${p.summary}\n`);
    process.stdout.write(`\ndefault pipeline: ${DEFAULT_PIPELINE.join(',')}\n`);
  }, argv.debug),
};
