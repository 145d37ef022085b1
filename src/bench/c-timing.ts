// Timing several emitted C modules side by side in one native process: run k of every module (and the memcpy floor
// of every module's input) happens back to back, so the noise of a shared machine hits all of them alike and the
// ratios between them are measured, not inferred from separate runs.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { makeTempDir } from '../cleanup';
import { join } from 'node:path';
import { PrunedetError } from '../errors';
import { anchorCount, gccBuild, hasGcc, inputLength, levelPointersC, type CModuleShape } from '../verify/c-runner';

export interface TimedModule {
  /** Folder holding postprocess.c and postprocess.h. */
  dir: string;
  shape: CModuleShape;
  /** One input, in the order the module's run function takes it (scores then boxes for concat). */
  input: Float32Array;
}

export interface SideBySide {
  /** Per module: run times in ns (warm-up excluded). */
  runs: number[][];
  /** Per module: memcpy of its input, in ns. */
  floors: number[][];
  /** Per module: detections of the last run. */
  detections: number[];
}

function harness(mods: TimedModule[]): string {
  const includes = mods.map((_, i) => `#include "m${i}/postprocess.h"`).join('\n');
  const calls = mods.map((m, i) => {
    const P = m.shape.prefix;
    const M = P.toUpperCase();
    const call = m.shape.input === 'concat'
      ? `st = ${P}run(in[${i}], in[${i}] + (size_t)${anchorCount(m.shape)} * ${m.shape.numClasses}u, ws[${i}], ${P}workspace_size(), (${P}detection_t *)dets[${i}], ${M}MAX_DETECTIONS, &n);`
      : `{ ${levelPointersC(m.shape, `in[${i}]`, `${m.shape.numClasses}u`, '          ')}
          st = ${P}run(cls, reg, ws[${i}], ${P}workspace_size(), (${P}detection_t *)dets[${i}], ${M}MAX_DETECTIONS, &n); }`;
    return { i, P, call, len: inputLength(m.shape) };
  });
  return `/* prunedet bench: side-by-side timing of ${mods.length} modules; not part of any emitted module. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
${includes}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const long runs = atol(argv[1]);
    static const long len[] = { ${calls.map((c) => c.len).join(', ')} };
    float *in[${mods.length}], *copy[${mods.length}];
    void *ws[${mods.length}], *dets[${mods.length}];
    size_t last[${mods.length}];
    volatile float sink = 0.0f;
    long r;
    int i;
    (void)argc;
    for (i = 0; i < ${mods.length}; ++i) {
        FILE *f = fopen(argv[2 + i], "rb");
        in[i] = (float *)malloc((size_t)len[i] * sizeof(float));
        copy[i] = (float *)malloc((size_t)len[i] * sizeof(float));
        if (!f || !in[i] || !copy[i] || fread(in[i], sizeof(float), (size_t)len[i], f) != (size_t)len[i]) return 3;
        fclose(f);
    }
${calls.map((c) => `    ws[${c.i}] = malloc(${c.P}workspace_size()); dets[${c.i}] = malloc(sizeof(${c.P}detection_t) * ${c.P.toUpperCase()}MAX_DETECTIONS);`).join('\n')}
    for (r = 0; r < runs; ++r) {
${calls.map((c) => `        { size_t n = 0; int st; double t0 = now_ns(); ${c.call} printf("run ${c.i} %.0f\\n", now_ns() - t0); if (st != 0) return 10 + st; last[${c.i}] = n; }
        { double t0 = now_ns(); memcpy(copy[${c.i}], in[${c.i}], (size_t)len[${c.i}] * sizeof(float)); sink += copy[${c.i}][r % len[${c.i}]]; printf("floor ${c.i} %.0f\\n", now_ns() - t0); }`).join('\n')}
    }
    for (i = 0; i < ${mods.length}; ++i) printf("dets %d %lu\\n", i, (unsigned long)last[i]);
    (void)sink;
    return 0;
}
`;
}

/** Build every module with the harness (gcc -O2 + flags) and time `runs` rounds after `warmup` rounds. */
export function timeSideBySide(mods: TimedModule[], runs: number, warmup: number, flags: string[]): SideBySide {
  if (!hasGcc()) throw new PrunedetError('E_TOOLCHAIN', 'gcc is not installed, so the C module cannot be timed', 'install gcc (Debian: apt-get install gcc)');
  const { dir, release } = makeTempDir('time');
  try {
    const sources: string[] = ['harness.c'];
    mods.forEach((m, i) => {
      mkdirSync(join(dir, `m${i}`));
      copyFileSync(join(m.dir, 'postprocess.h'), join(dir, `m${i}`, 'postprocess.h'));
      copyFileSync(join(m.dir, 'postprocess.c'), join(dir, `m${i}`, 'postprocess.c'));
      sources.push(join(`m${i}`, 'postprocess.c'));
      if (m.input.length !== inputLength(m.shape)) throw new PrunedetError('E_POSTPROCESS', `bench input ${i} has ${m.input.length} values, the module takes ${inputLength(m.shape)}`, 'the module and the tensors do not match');
      writeFileSync(join(dir, `in${i}.bin`), new Uint8Array(m.input.buffer, m.input.byteOffset, m.input.byteLength));
    });
    writeFileSync(join(dir, 'harness.c'), harness(mods));
    const exe = join(dir, 'harness');
    const err = gccBuild(dir, exe, sources, flags);
    if (err !== undefined) throw new PrunedetError('E_TOOLCHAIN', `the C modules do not compile for timing: ${err}`, 'regenerate them with prunedet compile --emit c');
    const out = execFileSync(exe, [String(runs + warmup), ...mods.map((_, i) => join(dir, `in${i}.bin`))], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const res: SideBySide = { runs: mods.map(() => []), floors: mods.map(() => []), detections: mods.map(() => 0) };
    const seen = mods.map(() => 0);
    for (const line of out.split('\n')) {
      const [kind, idx, v] = line.split(' ');
      const i = Number(idx);
      if (kind === 'run') {
        if (seen[i]!++ >= warmup) res.runs[i]!.push(Number(v));
      } else if (kind === 'floor') {
        if (seen[i]! > warmup) res.floors[i]!.push(Number(v));
      } else if (kind === 'dets') res.detections[i] = Number(v);
    }
    return res;
  } finally {
    release();
  }
}
