// Every CLI command, in help order. Add a command by adding its object here.
import type { CommandModule } from 'yargs';
import { benchCommand } from './bench';
import { compileCommand } from './compile';
import { demoCommand } from './demo';
import { detectCommand } from './detect';
import { inspectCommand } from './inspect';
import { passesCommand } from './passes';
import { quantizeCommand } from './quantize';
import { searchCommand } from './search';
import { synthCommand } from './synth';
import { verifyCommand } from './verify';

export const commands: CommandModule<object, never>[] = [
  demoCommand,
  compileCommand,
  verifyCommand,
  benchCommand,
  detectCommand,
  inspectCommand,
  synthCommand,
  quantizeCommand,
  passesCommand,
  searchCommand,
] as never;
