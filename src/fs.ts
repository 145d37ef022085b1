// File-system helpers with the guarantees prunedet promises: outputs appear atomically (temp file + rename, or a
// staged folder moved into place), paths named inside a model never leave its folder, inputs are never written; and
// the one wording for an input file (image, annotations) that cannot be read.
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PrunedetError, type ErrorCode } from './errors';

/**
 * The error for an input file that could not be read (or decoded): `${what} does not exist`, `${what} is a folder`,
 * or `${what} cannot be read (CODE)`.
 */
export function inputFileError(e: unknown, code: ErrorCode, what: string, hint: string): PrunedetError {
  const errno = (e as NodeJS.ErrnoException).code;
  const why = errno === 'ENOENT' ? 'does not exist' : errno === 'EISDIR' ? 'is a folder' : `cannot be read (${errno ?? String(e)})`;
  return new PrunedetError(code, `${what} ${why}`, hint);
}

/** Read a whole input file; failures throw inputFileError(code, what, hint). */
export function readInputFile(path: string, code: ErrorCode, what: string, hint: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw inputFileError(e, code, what, hint);
  }
}

/** Write `data` to `path` so that readers see the old file or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(resolve(path));
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
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
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Resolve `location` (as written inside a model) against `baseDir`, refusing absolute paths and anything that
 * leaves `baseDir` (`..`, symlinks pointing outside).
 */
export function resolveInside(baseDir: string, location: string, what: string): string {
  if (location === '' || isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.includes('\0')) {
    throw new PrunedetError('E_PATH_ESCAPES', `${what} location "${location}" is not a relative path inside the model's folder`, 'move the data file next to the model and store a plain relative name');
  }
  const base = resolve(baseDir);
  const full = resolve(base, location);
  const rel = relative(base, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new PrunedetError('E_PATH_ESCAPES', `${what} location "${location}" escapes the model's folder ${base}`, 'move the data file next to the model and store a plain relative name');
  }
  if (existsSync(full)) {
    const real = realpathSync(full);
    const realBase = realpathSync(base);
    if (real !== realBase && !real.startsWith(realBase + sep)) {
      throw new PrunedetError('E_PATH_ESCAPES', `${what} location "${location}" is a link leaving the model's folder`, 'copy the data file into the model\'s folder');
    }
  }
  return full;
}

/**
 * Produce a folder of outputs atomically: `fill` writes into a fresh staging folder beside `outDir`; on success each
 * file is renamed into `outDir` (created if needed), on failure the staging folder is removed and `outDir` untouched.
 */
export async function writeOutputDir<T>(outDir: string, fill: (stageDir: string) => Promise<T> | T): Promise<T> {
  const target = checkOutputDir(outDir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const stage = mkdtempSync(join(parent, `.${basename(target)}.staging-`));
  try {
    const result = await fill(stage);
    mkdirSync(target, { recursive: true });
    moveTree(stage, target);
    return result;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Refuse an output folder path that names an existing file (E_OUTPUT); returns the resolved path. */
export function checkOutputDir(outDir: string): string {
  const target = resolve(outDir);
  if (existsSync(target) && !statSync(target).isDirectory()) {
    throw new PrunedetError('E_OUTPUT', `output ${outDir} exists and is not a folder`, 'pass a folder path with -o');
  }
  return target;
}

function moveTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) {
      mkdirSync(dst, { recursive: true });
      moveTree(src, dst);
    } else {
      renameSync(src, dst);
    }
  }
}

/** True when two paths name the same file (after resolving links), used to refuse writing over an input. */
export function samePath(a: string, b: string): boolean {
  const ra = existsSync(a) ? realpathSync(a) : resolve(a);
  const rb = existsSync(b) ? realpathSync(b) : resolve(b);
  return ra === rb;
}
