import type { CommandModule } from 'yargs';
import { emit, runCommand } from '../run';

export const demoCommand: CommandModule<object, { json: boolean; debug: boolean }> = {
  command: 'demo',
  describe: "Build the SSD300 fixture, compile the paper's configurations A-D, verify and benchmark them",
  builder: (y) => y.option('json', { type: 'boolean', default: false }) as never,
  handler: (argv) =>
    runCommand(async () => {
      const { demo, formatDemo } = await import('../../src/jobs/demo');
      const { demoStage } = await import('./demo-stage');
      const r = await demo(
        (m) => process.stderr.write(`[demo] ${m}\n`),
        demoStage((m) => process.stderr.write(`[demo]   ${m}\n`)),
      );
      emit(argv.json, r, () => formatDemo(r));
    }, argv.debug),
};
