// Reads an mmdetection-style .py config file into its literal values, and (only when asked, via baseDir) loads its
// `_base_` files and merges them the way mmcv/mmengine do: dicts merge key by key, `_delete_=True` replaces.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PrunedetError } from '../../errors';
import { formatLoc, parsePyConfig, type PyModule, type PyValue } from './py-literal';

export interface LoadPyOptions {
  /** Load `_base_` files, resolving relative names against this folder (a base's own bases: against its folder). */
  baseDir?: string;
}

/** Read and parse `path`; with `baseDir`, merge its `_base_` files beneath it (the result lists them in `bases`). */
export function loadPyConfig(path: string, opts: LoadPyOptions = {}): PyModule {
  return load(path, opts.baseDir, []);
}

function load(path: string, baseDir: string | undefined, chain: string[]): PyModule {
  const mod = parsePyConfig(readConfigText(path), path);
  if (baseDir === undefined || mod.bases.length === 0) return mod;
  const merged = new Map<string, PyValue>();
  const owner = new Map<string, string>();
  for (const b of mod.bases) {
    const full = isAbsolute(b.path) ? b.path : resolve(baseDir, b.path);
    if (chain.includes(full) || resolve(path) === full) {
      throw new PrunedetError('E_CONFIG_PARSE', `${formatLoc(b.loc)}: _base_ ${b.path} includes itself (${[...chain, full].join(' -> ')})`, 'remove the circular _base_ entry');
    }
    if (!existsSync(full)) {
      throw new PrunedetError('E_FILE_NOT_FOUND', `${formatLoc(b.loc)}: _base_ file ${b.path} not found (looked for ${full})`, 'fix the path, or keep the anchor generator in this file with _delete_=True');
    }
    const base = load(full, dirname(full), [...chain, resolve(path)]);
    for (const [k, v] of base.vars) {
      const other = owner.get(k);
      if (other !== undefined) {
        throw new PrunedetError('E_CONFIG_PARSE', `${formatLoc(b.loc)}: key ${k} is set by two _base_ files (${other} and ${b.path})`, 'set it in only one base file');
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
    throw new PrunedetError('E_CONFIG_PARSE', `${formatLoc(child.loc)}: ${path} is a dict here but a ${base.kind} in the _base_ file`, `add _delete_=True to ${path} to replace it`);
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

export function readConfigText(path: string): string {
  if (!existsSync(path)) throw new PrunedetError('E_FILE_NOT_FOUND', `config ${path} does not exist`, 'check the path');
  if (statSync(path).isDirectory()) throw new PrunedetError('E_FILE_NOT_FOUND', `config ${path} is a folder`, 'pass the config file');
  return readFileSync(path, 'utf8');
}

