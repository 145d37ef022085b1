// Reads an mmdetection-style .py config file into its literal values, and (only when asked, via baseDir) loads its
// `_base_` files and merges them the way mmcv/mmengine do: dicts merge key by key, `_delete_=True` replaces.
// Only files inside the config's own folder are ever read as bases: a `_base_` elsewhere (an absolute mmdetection
// path, `../`) is refused by name without opening it, so no other file's content can reach a message.
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PrunedetError } from '../../errors';
import { canonicalPath, isInside, readInputFile } from '../../fs';
import { LIMITS } from '../../limits';
import { formatLoc, parsePyConfig, type PyModule, type PyValue } from './py-literal';

export interface LoadPyOptions {
  /** Load `_base_` files, resolving relative names against this folder (a base's own bases: against its folder). */
  baseDir?: string;
}

/** Read and parse `path`; with `baseDir`, merge its `_base_` files beneath it (the result lists them in `bases`). */
export function loadPyConfig(path: string, opts: LoadPyOptions = {}): PyModule {
  return load(path, opts.baseDir, [], opts.baseDir === undefined ? undefined : canonicalPath(opts.baseDir));
}

/** Where base `b` of a config in `baseDir` lies, and whether it is inside `root` (the only place bases are read). */
function basePath(b: { path: string }, baseDir: string, root: string): { full: string; inside: boolean } {
  const full = isAbsolute(b.path) ? b.path : resolve(baseDir, b.path);
  return { full, inside: isInside(canonicalPath(full), root) };
}

/**
 * The files a .py config reads: itself and, recursively, its `_base_` files that exist inside its folder (what the
 * output-safety rule must protect). A .json config is just itself.
 */
export function configFiles(path: string | undefined): string[] {
  if (path === undefined) return [];
  if (!/\.py$/i.test(path) || !existsSync(path) || statSync(path).isDirectory()) return [path];
  const root = canonicalPath(dirname(path));
  const out: string[] = [];
  const visit = (file: string, chain: string[]): void => {
    const key = canonicalPath(file);
    if (chain.includes(key)) return;
    out.push(file);
    for (const b of parsePyConfig(readConfigText(file), file).bases) {
      const { full, inside } = basePath(b, dirname(file), root);
      if (inside && existsSync(full) && statSync(full).isFile()) visit(full, [...chain, key]);
    }
  };
  visit(path, []);
  return out;
}

/** The config's direct `_base_` files that prunedet would read (inside its folder, existing). */
export function localBases(path: string): string[] {
  const root = canonicalPath(dirname(path));
  return parsePyConfig(readConfigText(path), path)
    .bases.map((b) => basePath(b, dirname(path), root))
    .filter((b) => b.inside && existsSync(b.full))
    .map((b) => b.full);
}

function load(path: string, baseDir: string | undefined, chain: string[], root: string | undefined): PyModule {
  const mod = parsePyConfig(readConfigText(path), path);
  if (baseDir === undefined || root === undefined || mod.bases.length === 0) return mod;
  const merged = new Map<string, PyValue>();
  const owner = new Map<string, string>();
  for (const b of mod.bases) {
    const { full, inside } = basePath(b, baseDir, root);
    if (!inside) {
      throw new PrunedetError(
        'E_CONFIG_PARSE',
        `${formatLoc(b.loc)}: _base_ ${b.path} lies outside the config's folder ${root}, and prunedet reads _base_ files only from there`,
        'state the complete anchor_generator in this file (type=..., _delete_=True), or copy the base file next to the config',
      );
    }
    if (chain.includes(full) || resolve(path) === full) {
      throw new PrunedetError(
        'E_CONFIG_PARSE',
        `${formatLoc(b.loc)}: _base_ ${b.path} includes itself (${[...chain, full].join(' -> ')})`,
        'remove the circular _base_ entry',
      );
    }
    if (!existsSync(full)) {
      throw new PrunedetError(
        'E_FILE_NOT_FOUND',
        `${formatLoc(b.loc)}: _base_ file ${b.path} not found (looked for ${full})`,
        'fix the path, or keep the anchor generator in this file with _delete_=True',
      );
    }
    const base = load(full, dirname(full), [...chain, resolve(path)], root);
    for (const [k, v] of base.vars) {
      const other = owner.get(k);
      if (other !== undefined) {
        throw new PrunedetError(
          'E_CONFIG_PARSE',
          `${formatLoc(b.loc)}: key ${k} is set by two _base_ files (${other} and ${b.path})`,
          'set it in only one base file',
        );
      }
      owner.set(k, b.path);
      merged.set(k, v);
    }
  }
  for (const [k, v] of mod.vars) merged.set(k, merged.has(k) ? mergeValue(merged.get(k)!, v, k) : stripDelete(v));
  return { file: mod.file, vars: merged, bases: mod.bases };
}

/** `child` over `base`: dicts merge per key unless the child says `_delete_=True`; anything else replaces. */
function mergeValue(base: PyValue, child: PyValue, path: string): PyValue {
  if (child.kind !== 'dict') return child;
  const del = child.entries.get('_delete_');
  if (del?.kind === 'bool' && del.value) return stripDelete(child);
  if (base.kind !== 'dict') {
    throw new PrunedetError(
      'E_CONFIG_PARSE',
      `${formatLoc(child.loc)}: ${path} is a dict here but a ${base.kind} in the _base_ file`,
      `add _delete_=True to ${path} to replace it`,
    );
  }
  const entries = new Map(base.entries);
  for (const [k, v] of child.entries) {
    if (k === '_delete_') continue;
    entries.set(k, entries.has(k) ? mergeValue(entries.get(k)!, v, `${path}.${k}`) : stripDelete(v));
  }
  return { kind: 'dict', entries, loc: child.loc };
}

/** Drop `_delete_` markers (merge directives, not settings) from a value that is not merged further. */
export function stripDelete(v: PyValue): PyValue {
  if (v.kind === 'list' || v.kind === 'tuple') return { ...v, items: v.items.map(stripDelete) };
  if (v.kind !== 'dict') return v;
  const entries = new Map<string, PyValue>();
  for (const [k, x] of v.entries) if (k !== '_delete_') entries.set(k, stripDelete(x));
  return { kind: 'dict', entries, loc: v.loc };
}

/** Follow `keys` through nested dicts; undefined when a key is missing or a value on the way is not a dict. */
export function lookup(root: Map<string, PyValue>, keys: string[]): PyValue | undefined {
  let cur: PyValue | undefined = root.get(keys[0]!);
  for (const k of keys.slice(1)) {
    if (cur?.kind !== 'dict') return undefined;
    cur = cur.entries.get(k);
  }
  return cur;
}

/** A config file's text, refused above LIMITS.configBytes (read before anything is parsed). */
export function readConfigText(path: string): string {
  if (!existsSync(path)) throw new PrunedetError('E_FILE_NOT_FOUND', `config ${path} does not exist`, 'check the path');
  if (statSync(path).isDirectory())
    throw new PrunedetError('E_FILE_NOT_FOUND', `config ${path} is a folder`, 'pass the config file');
  return readInputFile(
    path,
    'E_CONFIG_PARSE',
    `config ${path}`,
    'anchor configs are a few kilobytes; pass the config file itself',
    LIMITS.configBytes,
  ).toString('utf8');
}
