// File-system helpers with the guarantees prunedet promises: inputs are only ever read, outputs appear atomically,
// paths named inside a model never leave its folder, and one output-safety rule for every command that writes:
//
//   checkOutput(): refuse (E_OUTPUT/E_USAGE, before anything is written) an output that is empty, that would replace
//   or contain any input (model, its external data, configs and their bases, head spec, images, annotations), or that
//   would live inside one; an existing non-empty folder is replaced only when prunedet made it (its marker file
//   OUTPUT_MARKER is there) or with --force; the root, the home folder and the current folder's ancestors never.
//   writeOutputDir(): fill a staging folder beside OUTDIR, then swap it in as a whole (no stale files survive).
//
// Temporary paths are registered with cleanup.ts, so interrupts leave nothing behind.
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PrunedetError, type ErrorCode } from './errors';
import { disown, onCleanup, own, pidTag, sweepStale } from './cleanup';

/**
 * The error for an input file that could not be read (or decoded): `${what} does not exist`, `${what} is a folder`,
 * or `${what} cannot be read (CODE)`.
 */
export function inputFileError(e: unknown, code: ErrorCode, what: string, hint: string): PrunedetError {
  const errno = (e as NodeJS.ErrnoException).code;
  const why =
    errno === 'ENOENT'
      ? 'does not exist'
      : errno === 'EISDIR'
        ? 'is a folder'
        : `cannot be read (${errno ?? String(e)})`;
  return new PrunedetError(code, `${what} ${why}`, hint);
}

/** Read a whole input file; failures throw inputFileError(code, what, hint). `maxBytes` bounds what is read. */
export function readInputFile(path: string, code: ErrorCode, what: string, hint: string, maxBytes?: number): Buffer {
  try {
    if (maxBytes !== undefined) {
      const size = statSync(path).size;
      if (size > maxBytes) {
        throw new PrunedetError(
          code,
          `${what} is ${size.toLocaleString('en-US')} bytes, above prunedet's limit of ${maxBytes.toLocaleString('en-US')}`,
          hint,
        );
      }
    }
    return readFileSync(path);
  } catch (e) {
    if (e instanceof PrunedetError) throw e;
    throw inputFileError(e, code, what, hint);
  }
}

/** An fs error of the output side as E_OUTPUT naming the path and the errno. */
function outputError(e: unknown, path: string, doing: string): PrunedetError {
  if (e instanceof PrunedetError) return e;
  const errno = (e as NodeJS.ErrnoException).code ?? String(e);
  const hint =
    errno === 'EBUSY'
      ? 'it is in use or a mount point; pass a folder inside it'
      : errno === 'ENOSPC' || errno === 'EDQUOT'
        ? 'free some space or write elsewhere'
        : 'check the path and its permissions, or choose another output location';
  return new PrunedetError('E_OUTPUT', `cannot ${doing} ${path} (${errno})`, hint);
}

/**
 * Create folder `dir` and its missing parents one by one (never `mkdir -p` on a path that may loop, as under /proc),
 * as E_OUTPUT errors naming the component that failed.
 */
export function makeDirs(dir: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let cur = target;
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== 'ENOENT') throw outputError(e, cur, 'use');
      const up = dirname(cur);
      if (up === cur) throw outputError(e, cur, 'use');
      missing.push(cur);
      cur = up;
      continue;
    }
    if (!st.isDirectory())
      throw new PrunedetError(
        'E_OUTPUT',
        `cannot create ${target}: ${cur} is a file, not a folder`,
        'choose an output location under a folder',
      );
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory())
        throw outputError(e, d, 'create folder');
    }
  }
}

/** Write `data` to `path` so that readers see the old file or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(resolve(path));
  makeDirs(dir);
  const tmp = join(dir, `.${basename(path)}.tmp-${pidTag()}${Math.random().toString(36).slice(2)}`);
  const release = own(tmp);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 26));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    disown(tmp);
  } catch (e) {
    release();
    throw outputError(e, path, 'write');
  }
}

/** Temp files of atomic writes left by dead runs in `dir` (`.name.tmp-<pid>-…`), removed. */
export function sweepTempFiles(dir: string): void {
  sweepStale(dir, /^\..+\.tmp-(\d+)-[a-z0-9]*$/);
}

/**
 * Resolve `location` (as written inside a model) against `baseDir`, refusing absolute paths and anything that
 * leaves `baseDir` (`..`, symlinks pointing outside).
 */
export function resolveInside(baseDir: string, location: string, what: string): string {
  if (location === '' || isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.includes('\0')) {
    throw new PrunedetError(
      'E_PATH_ESCAPES',
      `${what} location "${location}" is not a relative path inside the model's folder`,
      'move the data file next to the model and store a plain relative name',
    );
  }
  const base = resolve(baseDir);
  const full = resolve(base, location);
  const rel = relative(base, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new PrunedetError(
      'E_PATH_ESCAPES',
      `${what} location "${location}" escapes the model's folder ${base}`,
      'move the data file next to the model and store a plain relative name',
    );
  }
  if (existsSync(full) && !isInside(realpathSync(full), realpathSync(base))) {
    throw new PrunedetError(
      'E_PATH_ESCAPES',
      `${what} location "${location}" is a link leaving the model's folder`,
      "copy the data file into the model's folder",
    );
  }
  return full;
}

/** `p` equals `dir` or lies under it (both canonical). */
export function isInside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** The canonical form of `p`: links resolved for the part that exists, the rest appended. */
export function canonicalPath(p: string): string {
  const abs = resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      lstatSync(cur);
      try {
        return join(realpathSync(cur), ...rest.reverse());
      } catch {
        // a dangling link: keep its own path
        return join(cur, ...rest.reverse());
      }
    } catch {
      const up = dirname(cur);
      if (up === cur) return abs;
      rest.push(basename(cur));
      cur = up;
    }
  }
}

/** True when two paths name the same file (after resolving links). */
export function samePath(a: string, b: string): boolean {
  return canonicalPath(a) === canonicalPath(b);
}

// ---------------------------------------------------------------------------------------------------------------
// The output-safety rule.

/** The file prunedet leaves in every output folder it makes: its presence lets the next run replace the folder. */
export const OUTPUT_MARKER = '.prunedet-output';

export interface OutputMarker {
  tool: 'prunedet';
  command: string;
}

export interface CheckOutputOptions {
  /** The command writing (compile, search, synth): recorded in the marker. */
  command: string;
  /** A folder (replaced as a whole) or a single file. */
  kind: 'dir' | 'file';
  /** Every path the command reads; undefined entries are ignored. */
  inputs: readonly (string | undefined)[];
  /** Replace an existing non-empty folder (or file) prunedet did not make. */
  force?: boolean;
  /** How the option is spelled in messages (default -o). */
  flag?: string;
  /** For kind 'file': is the existing file one prunedet made (replaced without --force)? */
  ownsFile?: (path: string) => boolean;
}

export interface OutputTarget {
  /** The canonical output path. */
  path: string;
  /** As the user wrote it (messages). */
  given: string;
  command: string;
  /** What is there now: nothing, an empty folder, prunedet's own earlier output, or anything (--force). */
  state: 'absent' | 'empty' | 'own' | 'forced';
  /** The earlier output's marker, when prunedet made it. */
  previous?: OutputMarker;
}

/** The marker of folder `dir`, when prunedet made it. */
export function readOutputMarker(dir: string): OutputMarker | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as Partial<OutputMarker>;
    return m && m.tool === 'prunedet' && typeof m.command === 'string'
      ? { tool: 'prunedet', command: m.command }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one output-safety rule, checked before anything is written (see the top of this file). Returns the target to
 * hand to writeOutputDir / claimOutputDir / writeFileAtomic.
 */
export function checkOutput(out: string | undefined, o: CheckOutputOptions): OutputTarget {
  const flag = o.flag ?? '-o';
  const noun = o.kind === 'dir' ? 'folder' : 'file';
  if (typeof out !== 'string' || out.trim() === '') {
    throw new PrunedetError(
      'E_USAGE',
      `${flag} '${out ?? ''}' names no output ${noun}`,
      `pass a new ${noun}, e.g. ${flag} ${o.kind === 'dir' ? 'out' : 'model.onnx'}`,
    );
  }
  const path = canonicalPath(out);
  const shown = `${flag} ${out}`;
  // Never the root, the home folder, or a folder holding the current one: replacing them would destroy far more than
  // an earlier output, whatever --force says.
  for (const [danger, what] of [
    [canonicalPath(process.cwd()), 'the current folder'],
    [canonicalPath(homedir()), 'your home folder'],
  ] as const) {
    if (o.kind === 'dir' && isInside(danger, path)) {
      throw new PrunedetError(
        'E_OUTPUT',
        `${shown} would replace ${path === danger ? what : `${path}, which holds ${what}`}`,
        `pass a new folder for the outputs, e.g. ${flag} ${join(out, 'out')}`,
      );
    }
  }
  for (const input of o.inputs) {
    if (input === undefined || input === '') continue;
    const inp = canonicalPath(input);
    if (inp === path) {
      throw new PrunedetError(
        'E_OUTPUT',
        `${shown} is the input ${input}; prunedet never writes over its inputs`,
        `choose another output ${noun}`,
      );
    }
    if (o.kind === 'dir' && isInside(inp, path)) {
      throw new PrunedetError(
        'E_OUTPUT',
        `${shown} holds the input ${input}; prunedet replaces its output folder as a whole`,
        'choose an output folder that holds none of the inputs',
      );
    }
    if (isInside(path, inp)) {
      throw new PrunedetError(
        'E_OUTPUT',
        `${shown} lies inside the input ${input}`,
        `choose an output ${noun} outside the inputs`,
      );
    }
  }
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR')
      throw outputError(e, path, 'use');
    nearestFolder(path, shown);
    return { path, given: out, command: o.command, state: 'absent' };
  }
  if (o.kind === 'dir' && !st.isDirectory()) {
    throw new PrunedetError('E_OUTPUT', `${shown} exists and is not a folder`, `pass a folder path with ${flag}`);
  }
  if (o.kind === 'file') {
    if (st.isDirectory()) throw new PrunedetError('E_OUTPUT', `${shown} is a folder`, `pass a file path with ${flag}`);
    if (o.ownsFile?.(path)) return { path, given: out, command: o.command, state: 'own' };
    if (o.force) return { path, given: out, command: o.command, state: 'forced' };
    throw new PrunedetError(
      'E_OUTPUT',
      `${shown} exists and prunedet did not make it`,
      'choose a new file name, or pass --force to replace it',
    );
  }
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch (e) {
    throw outputError(e, path, 'read folder');
  }
  if (entries.length === 0) return { path, given: out, command: o.command, state: 'empty' };
  const previous = readOutputMarker(path);
  if (previous) return { path, given: out, command: o.command, state: 'own', previous };
  if (o.force) return { path, given: out, command: o.command, state: 'forced' };
  const some = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
  throw new PrunedetError(
    'E_OUTPUT',
    `${shown} is a non-empty folder prunedet did not make (${entries.length} entries: ${some})`,
    'choose a new or empty folder, or pass --force to replace its contents as a whole',
  );
}

/** The nearest existing ancestor of `path` must be a folder (else nothing can be created there). */
function nearestFolder(path: string, shown: string): void {
  let cur = dirname(path);
  for (;;) {
    try {
      if (!statSync(cur).isDirectory())
        throw new PrunedetError(
          'E_OUTPUT',
          `${shown} cannot be created: ${cur} is a file, not a folder`,
          'choose an output location under a folder',
        );
      return;
    } catch (e) {
      if (e instanceof PrunedetError) throw e;
      const up = dirname(cur);
      if (up === cur) return;
      cur = up;
    }
  }
}

/** `.name.staging-<pid>-…` and `.name.old-<pid>-…` beside an output folder: the run that made them is gone. */
function sweepBeside(target: string): void {
  const name = basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  sweepStale(dirname(target), new RegExp(`^\\.${name}\\.(?:staging|old)-(\\d+)-`), (entry) =>
    entry.includes('.old-') ? target : undefined,
  );
}

/** Put folder `stage` in place of `target` as a whole (the old folder, if any, is removed). */
function swapIn(stage: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(stage, target);
    return;
  }
  const old = `${join(dirname(target), `.${basename(target)}.old-${pidTag()}`)}${Math.random().toString(36).slice(2, 8)}`;
  try {
    renameSync(target, old);
  } catch (e) {
    throw outputError(e, target, 'replace');
  }
  try {
    renameSync(stage, target);
  } catch (e) {
    renameSync(old, target);
    throw outputError(e, target, 'replace');
  }
  rmSync(old, { recursive: true, force: true });
}

/** A fresh owned staging folder beside `target` (stale ones of dead runs swept first). */
function stageBeside(target: string): { stage: string; release: () => void } {
  const parent = dirname(target);
  makeDirs(parent);
  sweepBeside(target);
  let stage: string;
  try {
    stage = mkdtempSync(join(parent, `.${basename(target)}.staging-${pidTag()}`));
  } catch (e) {
    throw outputError(e, parent, 'stage the outputs in');
  }
  return { stage, release: own(stage) };
}

function writeMarker(dir: string, command: string): void {
  const marker: OutputMarker = { tool: 'prunedet', command };
  writeFileAtomic(join(dir, OUTPUT_MARKER), `${JSON.stringify(marker)}\n`);
}

/**
 * Produce an output folder atomically: `fill` writes into a fresh staging folder beside it; on success the staging
 * folder (with the marker) replaces the target as a whole, on failure or interrupt it is removed and the target is
 * untouched. `target` comes from checkOutput.
 */
export async function writeOutputDir<T>(target: OutputTarget, fill: (stageDir: string) => Promise<T> | T): Promise<T> {
  const { stage, release } = stageBeside(target.path);
  try {
    const result = await fill(stage);
    writeMarker(stage, target.command);
    swapIn(stage, target.path);
    disown(stage);
    return result;
  } finally {
    release();
  }
}

/**
 * Make `target` the command's working folder, written in place (search: its cache and journal survive interrupts):
 * kept when it is this command's own earlier output, else created empty (replacing an earlier output or, with --force,
 * anything) with the marker. Returns `abandon`, which removes the folder if this run created it and it still holds
 * nothing (called on failure; also registered for interrupts until `keep` is called).
 */
export function claimOutputDir(target: OutputTarget): { abandon: () => void; keep: () => void } {
  const reuse = target.state === 'own' && target.previous?.command === target.command;
  if (reuse) {
    sweepTempFiles(target.path);
    for (const e of readdirSync(target.path, { withFileTypes: true }))
      if (e.isDirectory()) sweepTempFiles(join(target.path, e.name));
  } else {
    const { stage, release } = stageBeside(target.path);
    try {
      writeMarker(stage, target.command);
      swapIn(stage, target.path);
      disown(stage);
    } finally {
      release();
    }
  }
  const created = target.state === 'absent';
  const abandon = () => {
    if (created && holdsNothing(target.path)) rmSync(target.path, { recursive: true, force: true });
  };
  const drop = onCleanup(abandon);
  return { abandon: () => (drop(), abandon()), keep: drop };
}

/** A folder holding only the marker and empty folders. */
function holdsNothing(dir: string): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.every((e) => e.name === OUTPUT_MARKER || (e.isDirectory() && holdsNothing(join(dir, e.name))));
}
