// The project's import graph, read from the sources with a small parser (no TypeScript program): value imports only
// (`import type` / `export type` are erased at run time), dynamic `import('...')` counted as value imports.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');

/** Module path (relative to ROOT, with extension) -> the modules it value-imports. */
export type ImportGraph = Map<string, string[]>;

const SOURCE_DIRS = ['src', 'passes', 'fixtures', 'bin'];

function listSources(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listSources(p, out);
    else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
}

function resolveSpecifier(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // a package
  const base = resolve(dirname(from), spec);
  for (const cand of [base, `${base}.ts`, `${base}.mjs`, join(base, 'index.ts')]) {
    if (existsSync(cand) && statSync(cand).isFile()) return cand;
  }
  return undefined;
}

/** The value-import specifiers of one source text (with `types`, type-only imports too). */
export function valueImports(text: string, types = false): string[] {
  // Drop comments first so an import named in a comment does not count.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  const stmt = /(^|[;\n])\s*(import|export)\s+([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(stmt)) {
    const clause = m[3] ?? '';
    if (!types && /^type\b/.test(clause)) continue; // import type { X } / export type { X }
    // `import { type A, type B } from` is erased too when every named binding is a type.
    const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (
      !types &&
      named &&
      (named[1] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .every((s) => s.startsWith('type '))
    )
      continue;
    specs.push(m[4] ?? '');
  }
  for (const m of code.matchAll(/(^|[;\n])\s*import\s*['"]([^'"]+)['"]/g)) specs.push(m[2] ?? ''); // side-effect import
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1] ?? '');
  return specs;
}

/** Build the import graph of src/, passes/, fixtures/ and bin/: value imports, or with `types` every import. */
export function importGraph(root = ROOT, types = false): ImportGraph {
  const files: string[] = [];
  for (const d of SOURCE_DIRS) if (existsSync(join(root, d))) listSources(join(root, d), files);
  const g: ImportGraph = new Map();
  for (const f of files) {
    const targets = new Set<string>();
    for (const spec of valueImports(readFileSync(f, 'utf8'), types)) {
      const t = resolveSpecifier(f, spec);
      if (t) targets.add(relative(root, t));
    }
    g.set(relative(root, f), [...targets].sort());
  }
  return g;
}

/** Strongly connected components with more than one module (or a module importing itself): the import cycles. */
export function importCycles(g: ImportGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/**
 * Imports that cross between two different jobs. `jobOf` names the job a module belongs to (undefined: not a job);
 * every such edge `a -> b` with jobOf(a) !== jobOf(b), both defined, is a sibling-job import.
 */
export function crossJobImports(g: ImportGraph, jobOf: (module: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const [from, targets] of g) {
    const a = jobOf(from);
    if (a === undefined) continue;
    for (const to of targets) {
      const b = jobOf(to);
      if (b !== undefined && b !== a) out.push(`${from} -> ${to}`);
    }
  }
  return out.sort();
}

/** Imports from a floor below the jobs (anything in src/ outside src/jobs/, passes/, fixtures/) up into a job. */
export function upwardImports(g: ImportGraph, jobOf: (module: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const [from, targets] of g) {
    if (from.startsWith('bin/') || jobOf(from) !== undefined) continue;
    for (const to of targets) if (jobOf(to) !== undefined) out.push(`${from} -> ${to}`);
  }
  return out.sort();
}

/** The job of a module under src/jobs/: its first path segment there, without extension (`src/jobs/verify/x.ts` -> verify). */
export function jobUnderSrcJobs(module: string): string | undefined {
  const m = /^src\/jobs\/([^/]+?)(\.ts|\/|$)/.exec(module);
  return m ? m[1] : undefined;
}
