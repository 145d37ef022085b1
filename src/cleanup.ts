// The one cleanup mechanism. Every temporary path prunedet creates (a staging folder beside an OUTDIR, a scratch folder
// in the OS temp dir, the temp file of an atomic write) is registered here while it exists and removed on every exit
// path: the caller's `finally` on success or error, process exit, and in the CLI SIGINT/SIGTERM/SIGHUP (removed, then
// exit 128+signal). A path left by a run that could not clean up (SIGKILL, power loss) carries its owner's pid in its name
// (`…-<pid>-…`); the next run that looks in that folder removes it once no process has that pid.
import { mkdtempSync, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const owned = new Set<string>();
const hooks = new Set<() => void>();
let installed = false;
let exitHooked = false;

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

function removeOwned(): void {
  for (const h of [...hooks].reverse()) {
    try {
      h();
    } catch {
      // best effort: an exit path must not throw
    }
    hooks.delete(h);
  }
  for (const p of [...owned].reverse()) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: an exit path must not throw
    }
    owned.delete(p);
  }
}

function installExitHook(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', removeOwned);
}

/**
 * Install the exit and signal handlers (idempotent). The CLI calls it at start; library callers (tests, embedders)
 * keep their own signal handling and get the exit hook only.
 */
export function installCleanup(): void {
  installExitHook();
  if (installed) return;
  installed = true;
  for (const [sig, num] of Object.entries(SIGNALS) as [keyof typeof SIGNALS, number][]) {
    process.on(sig, () => {
      const had = owned.size > 0 || hooks.size > 0;
      removeOwned();
      process.stderr.write(
        `prunedet: interrupted by ${sig}${had ? '; partial outputs and temporary files removed' : ''}\n`,
      );
      process.exit(128 + num);
    });
  }
}

/** Register `path` for removal on any exit; returns `release`, which removes it now and forgets it. */
export function own(path: string): () => void {
  installExitHook();
  owned.add(path);
  return () => {
    rmSync(path, { recursive: true, force: true });
    owned.delete(path);
  };
}

/** Run `hook` on any exit unless the returned function (which forgets it) is called first. */
export function onCleanup(hook: () => void): () => void {
  installExitHook();
  hooks.add(hook);
  return () => void hooks.delete(hook);
}

/** Forget `path` without removing it (it was renamed into place and is an output now). */
export function disown(path: string): void {
  owned.delete(path);
}

/** The name tag that makes a temporary path removable once its owner is gone: `<pid>-`. */
export function pidTag(): string {
  return `${process.pid}-`;
}

/** Is process `pid` alive? (EPERM: it exists but is not ours, so alive.) */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove what dead runs left in `dir`: entries whose name matches `pattern`, whose first capture group is the owner's
 * pid, and whose owner is gone. `restore(name)` may instead give a path to rename the entry back to (a folder moved
 * aside during a replacement whose new version never arrived). Returns the names removed or restored.
 */
export function sweepStale(dir: string, pattern: RegExp, restore?: (name: string) => string | undefined): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const done: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      const back = restore?.(name);
      if (back !== undefined && !existsSync(back)) renameSync(path, back);
      else rmSync(path, { recursive: true, force: true });
      done.push(name);
    } catch {
      // another run may be sweeping the same entry
    }
  }
  return done;
}

const TEMP_PATTERN = /^prunedet-[a-z]+-(\d+)-/;

/**
 * A fresh scratch folder `$TMPDIR/prunedet-<tag>-<pid>-XXXXXX`, owned (removed on any exit). Scratch folders of dead
 * runs are swept first. Call the returned `release` in a `finally`.
 */
export function makeTempDir(tag: string): { dir: string; release: () => void } {
  const base = tmpdir();
  sweepStale(base, TEMP_PATTERN);
  const dir = mkdtempSync(join(base, `prunedet-${tag}-${pidTag()}`));
  return { dir, release: own(dir) };
}

/** Run `f` with a scratch folder that is removed afterwards, whatever happens. */
export async function withTempDir<T>(tag: string, f: (dir: string) => Promise<T> | T): Promise<T> {
  const t = makeTempDir(tag);
  try {
    return await f(t.dir);
  } finally {
    t.release();
  }
}
