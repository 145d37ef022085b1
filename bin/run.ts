// The one place errors become exit codes: PrunedetError (and a file operation the system refused: permissions, space)
// -> one stderr line, exit 2; anything else is a bug in prunedet -> exit 1 (stack only with --debug). Handlers await
// the work, so yargs never sees a rejected promise. Interrupts are cleanup.ts's (installed by bin/prunedet.ts).
import { isPrunedetError, systemError } from '../src/errors';

let jsonErrors = false;

/** With --json, errors go to stderr as one JSON line (see errorJson) instead of text; exit codes are unchanged. */
export function setJsonErrors(on: boolean): void {
  jsonErrors = on;
}

/** Whether the raw command line asks for --json (for usage errors yargs reports before any handler runs). */
export function wantsJson(args: readonly string[]): boolean {
  return args.some((a) => a === '--json' || a === '--json=true');
}

/** The JSON form of an error: the code from src/errors.ts, the message, and the fix (null when there is none). */
export function errorJson(code: string, message: string, fix: string | null): string {
  return `${JSON.stringify({ error: { code, message, fix } })}\n`;
}

export async function runCommand(work: () => Promise<void> | void, debug = false): Promise<void> {
  try {
    await work();
  } catch (err) {
    const e = systemError(err) ?? err;
    if (isPrunedetError(e)) {
      process.stderr.write(jsonErrors ? errorJson(e.code, e.message, e.hint ?? null) : `${e.oneLine()}\n`);
      if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 2;
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    if (jsonErrors)
      process.stderr.write(
        errorJson(
          'E_INTERNAL',
          `internal error: ${msg.split('\n')[0]}`,
          'this is a bug in prunedet; rerun with --debug for the stack',
        ),
      );
    else
      process.stderr.write(
        `prunedet: internal error: ${msg.split('\n')[0]} (this is a bug in prunedet; rerun with --debug for the stack)\n`,
      );
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}

/** Write a result: JSON when asked, else the formatted text. */
export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
