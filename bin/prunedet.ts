// Root of the CLI: one yargs command object per file in bin/commands; no logic here.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index';
import { installCleanup } from '../src/cleanup';
import { errorJson, setJsonErrors, wantsJson } from './run';
import { PRUNEDET_VERSION } from '../src/version';

// SIGINT/SIGTERM/SIGHUP remove staging and temp folders, then exit 128+signal (src/cleanup.ts).
installCleanup();

const argv = hideBin(process.argv);
const cli = yargs(argv)
  .scriptName('prunedet')
  .usage('$0 <command> [options]\n\nAnchor pruning for ONNX SSD/RetinaNet detectors (Bonnaerens et al., CVIU 2022).')
  .option('debug', { type: 'boolean', default: false, describe: 'print stack traces for errors' })
  // --json also turns errors into one JSON line on stderr ({"error":{"code","message","fix"}}), exit codes unchanged
  .middleware((a) => setJsonErrors(a.json === true))
  .strict()
  .demandCommand(1, 'name a command (see --help)')
  .recommendCommands()
  .showHelpOnFail(false)
  .fail((msg, err) => {
    // yargs' messages may span lines ("Invalid values:\n  Argument: ..."): keep them on the one line users get
    const text = (msg ?? err?.message ?? 'bad usage')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ');
    if (wantsJson(argv)) process.stderr.write(errorJson('E_USAGE', text, 'see prunedet --help'));
    else process.stderr.write(`prunedet: ${text}; see prunedet --help\n`);
    process.exit(2);
  })
  .help()
  .version(PRUNEDET_VERSION)
  .wrap(Math.min(110, process.stdout.columns ?? 100));
for (const c of commands) cli.command(c);
await cli.parseAsync();
