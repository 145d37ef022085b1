// The one place errors become exit codes: PrunedetError (and a file operation the system refused: permissions, space)
// -> one stderr line, exit 2; anything else is a bug in prunedet -> exit 1 (stack only with --debug). Handlers await
// the work, so yargs never sees a rejected promise. Interrupts are cleanup.ts's (installed by bin/prunedet.ts).
import { isPrunedetError, systemError } from '../src/errors';

export async function runCommand(work: () => Promise<void> | void, debug = false): Promise<void> {
  try {
    await work();
  } catch (err) {
    const e = systemError(err) ?? err;
    if (isPrunedetError(e)) {
      process.stderr.write(`${e.oneLine()}\n`);
      if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 2;
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`prunedet: internal error: ${msg.split('\n')[0]} (this is a bug in prunedet; rerun with --debug for the stack)\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}

/** Write a result: JSON when asked, else the formatted text. */
export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
