// The floors of docs/architecture (README "Layout"): jobs in src/jobs/ import only downward, never a sibling job, and
// the value-import graph of src/, passes/, fixtures/ and bin/ has no cycle.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  crossJobImports,
  importCycles,
  importGraph,
  jobUnderSrcJobs,
  upwardImports,
  valueImports,
} from './_support/imports';

const JOBS = ['bench', 'compile', 'demo', 'detect', 'inspect', 'quantize', 'search', 'synth', 'verify'];

describe('architecture', () => {
  const graph = importGraph();
  const withTypes = importGraph(undefined, true);

  it('reads value imports and skips type-only ones', () => {
    const specs = valueImports(
      [
        "import { a } from './a';",
        "import type { B } from './b';",
        "import { type C, type D } from './c';",
        "export { e } from './e';",
        "export type { F } from './f';",
        "const g = await import('./g');",
        "// import { h } from './h';",
      ].join('\n'),
    );
    expect(specs).toEqual(['./a', './e', './g']);
    expect(valueImports("import type { B } from './b';", true)).toEqual(['./b']);
  });

  it('the checks find a cycle, a sibling-job import and an upward import when there is one', () => {
    const g = new Map([
      ['src/jobs/bench/index.ts', ['src/jobs/verify/compare.ts', 'src/native/c-runner.ts']],
      ['src/jobs/verify/compare.ts', []],
      ['src/native/c-runner.ts', ['src/jobs/bench/index.ts']],
    ]);
    expect(importCycles(g)).toEqual([['src/jobs/bench/index.ts', 'src/native/c-runner.ts']]);
    expect(crossJobImports(g, jobUnderSrcJobs)).toEqual(['src/jobs/bench/index.ts -> src/jobs/verify/compare.ts']);
    expect(upwardImports(g, jobUnderSrcJobs)).toEqual(['src/native/c-runner.ts -> src/jobs/bench/index.ts']);
  });

  it('every job lives in src/jobs/', () => {
    expect(
      JOBS.filter((j) => !existsSync(join(ROOT, 'src/jobs', j)) && !existsSync(join(ROOT, 'src/jobs', `${j}.ts`))),
    ).toEqual([]);
  });

  it('has no value-import cycle', () => {
    expect(graph.size).toBeGreaterThan(100); // the parser found the tree
    expect(importCycles(graph)).toEqual([]);
  });

  it('no job imports a sibling job, not even a type', () => {
    // What two jobs share (the compile report, the native harness, kept-anchor indexing, ...) lives a floor down.
    expect(crossJobImports(withTypes, jobUnderSrcJobs)).toEqual([]);
  });

  it('nothing below the jobs imports a job', () => {
    expect(upwardImports(withTypes, jobUnderSrcJobs)).toEqual([]);
  });

  it('only src/onnx/ imports protobuf', () => {
    // onnx-proto / protobufjs are the wire format; every other floor sees the IR.
    const offenders = [...graph.keys()]
      .filter((m) => !m.startsWith('src/onnx/'))
      .filter((m) => {
        return valueImports(readFileSync(join(ROOT, m), 'utf8')).some(
          (s) => s === 'onnx-proto' || s === 'protobufjs' || s.startsWith('protobufjs/'),
        );
      });
    expect(offenders).toEqual([]);
  });
});
