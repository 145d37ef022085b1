// Every CLI command, in help order. Add a command by adding its object here.
import type { CommandModule } from 'yargs';
import { inspectCommand } from './inspect';
import { synthCommand } from './synth';

export const commands: CommandModule<object, never>[] = [inspectCommand, synthCommand] as never;
