// Timing emitted C modules inside bench's round-robin: one native process holds every module (each object built with
// its own flags), and each request runs one round: per module, a read of its whole input (untimed: the head outputs a
// model has just written are in cache), 200 us of spinning (untimed: the process slept while node ran the other peers,
// and a core woken from idle ran the module up to 2x slower, while the onnxruntime peers never let theirs idle), the
// module's run function, then a memcpy of its score tensor (the floor), each timed with CLOCK_MONOTONIC. bench
// interleaves these rounds with the onnxruntime and TypeScript peers, so the noise of a shared machine hits all alike.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { makeTempDir, onCleanup } from '../cleanup';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PrunedetError } from '../errors';
import { BASE_CFLAGS, hasGcc, inputLength, type CModuleShape } from './c-runner';
import { inputPointersC, packedScoreLength } from './c-inputs';

export interface TimedModule {
  /** Folder holding postprocess.c and postprocess.h. */
  dir: string;
  shape: CModuleShape;
  /**
   * Inputs in the order the module's run function takes them (scores then boxes for concat); rounds pick one. Modules
   * given the same array share one buffer in the harness (as one model's outputs would be).
   */
  inputs: Float32Array[];
  /** gcc flags of this module's object, after BASE_CFLAGS (e.g. -march=native). */
  flags: readonly string[];
}

export interface Round {
  /** Per module: ns of its run function. */
  runs: number[];
  /** Per module: ns of a memcpy of its score tensor. */
  floors: number[];
  /** Per module: detections returned. */
  detections: number[];
}

export interface CTimer {
  /** One round; module i runs on its input inputs[i] (modulo its input count). */
  round(inputs: number[]): Promise<Round>;
  close(): void;
}

function harness(mods: TimedModule[]): string {
  const includes = mods.map((_, i) => `#include "m${i}/postprocess.h"`).join('\n');
  const calls = mods.map((m, i) => {
    const P = m.shape.prefix;
    const M = P.toUpperCase();
    const inp = `(in[${i}] + (size_t)(idx[${i}] % cnt[${i}]) * (size_t)len[${i}])`;
    const ptrs = inputPointersC(m.shape, 'x', '          ');
    const call = `{ ${ptrs.decl}
          st = ${P}run(${ptrs.args}, ws[${i}], ${P}workspace_size(), (${P}detection_t *)dets[${i}], ${M}MAX_DETECTIONS, &n); }`;
    return `        {
            const float *x = ${inp};
            size_t n = 0, k;
            int st;
            double t0, t1, t2;
            float acc = 0.0f;
            for (k = 0; k < (size_t)len[${i}]; k += 16) acc += x[k];
            sink += acc;
            { double s0 = now_ns(); while (now_ns() - s0 < 200000.0) sink += 1.0f; } /* an active core, as node's */
            t0 = now_ns();
            ${call}
            t1 = now_ns();
            memcpy(copy[${i}], x, (size_t)floor_len[${i}] * sizeof(float));
            t2 = now_ns();
            sink += copy[${i}][idx[${i}] % floor_len[${i}]];
            if (st != 0) return 10 + st;
            printf("%s%.0f %.0f %lu", ${i} ? " " : "", t1 - t0, t2 - t1, (unsigned long)n);
        }`;
  });
  const P = mods.map((m) => m.shape.prefix);
  return `/* prunedet bench: round-by-round timing of ${mods.length} modules; not part of any emitted module. */
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
    static const long len[] = { ${mods.map((m) => inputLength(m.shape)).join(', ')} };
    static const long floor_len[] = { ${mods.map((m) => packedScoreLength(m.shape)).join(', ')} };
    static const long cnt[] = { ${mods.map((m) => m.inputs.length).join(', ')} };
    float *in[${mods.length}], *copy[${mods.length}];
    void *ws[${mods.length}], *dets[${mods.length}];
    volatile float sink = 0.0f;
    char line[1024];
    long idx[${mods.length}];
    int i;
    if (argc != ${mods.length + 1}) return 2;
    static const int same_as[] = { ${mods.map((m, i) => (mods.findIndex((o) => o.inputs === m.inputs) < i ? mods.findIndex((o) => o.inputs === m.inputs) : -1)).join(', ')} };
    for (i = 0; i < ${mods.length}; ++i) {
        const size_t total = (size_t)len[i] * (size_t)cnt[i];
        copy[i] = (float *)malloc((size_t)floor_len[i] * sizeof(float));
        if (!copy[i]) return 3;
        if (same_as[i] >= 0) {
            in[i] = in[same_as[i]];
        } else {
            FILE *f = fopen(argv[1 + i], "rb");
            in[i] = (float *)malloc(total * sizeof(float));
            if (!f || !in[i] || fread(in[i], sizeof(float), total, f) != total) return 3;
            fclose(f);
        }
    }
${P.map((p, i) => `    ws[${i}] = malloc(${p}workspace_size()); dets[${i}] = malloc(sizeof(${p}detection_t) * ${p.toUpperCase()}MAX_DETECTIONS);`).join('\n')}
    while (fgets(line, sizeof line, stdin) != NULL && line[0] != 'q') {
        char *p = line;
        for (i = 0; i < ${mods.length}; ++i) idx[i] = strtol(p, &p, 10);
${calls.join('\n')}
        printf("\\n");
        fflush(stdout);
    }
    (void)sink;
    return 0;
}
`;
}

function gcc(cwd: string, args: string[]): void {
  try {
    execFileSync('gcc', args, { cwd, stdio: 'pipe' });
  } catch (e) {
    const err = (
      (e as { stderr?: Buffer }).stderr
        ?.toString()
        .split('\n')
        .find((l) => /error/.test(l)) ?? String(e)
    ).trim();
    throw new PrunedetError(
      'E_TOOLCHAIN',
      `the C modules do not compile for timing: ${err}`,
      'regenerate them with prunedet compile --emit c',
    );
  }
}

/** Build every module (its object with its own flags) and the harness, and start it; close() ends it. */
export async function startCTimer(mods: TimedModule[]): Promise<CTimer> {
  if (!hasGcc())
    throw new PrunedetError(
      'E_TOOLCHAIN',
      'gcc is not installed, so the C module cannot be timed',
      'install gcc (Debian: apt-get install gcc)',
    );
  const { dir, release } = makeTempDir('time');
  let child: ChildProcessWithoutNullStreams | undefined;
  const forget = onCleanup(() => child?.kill('SIGKILL'));
  try {
    const objects: string[] = [];
    mods.forEach((m, i) => {
      mkdirSync(join(dir, `m${i}`));
      copyFileSync(join(m.dir, 'postprocess.h'), join(dir, `m${i}`, 'postprocess.h'));
      copyFileSync(join(m.dir, 'postprocess.c'), join(dir, `m${i}`, 'postprocess.c'));
      const per = inputLength(m.shape);
      m.inputs.forEach((x, j) => {
        if (x.length !== per)
          throw new PrunedetError(
            'E_POSTPROCESS',
            `bench input ${j} of module ${i} has ${x.length} values, the module takes ${per}`,
            'the module and the tensors do not match',
          );
      });
      if (mods.findIndex((o) => o.inputs === m.inputs) === i) {
        const all = new Float32Array(per * m.inputs.length);
        m.inputs.forEach((x, j) => all.set(x, j * per));
        writeFileSync(join(dir, `in${i}.bin`), new Uint8Array(all.buffer));
      }
      gcc(dir, [...BASE_CFLAGS, ...m.flags, '-c', join(`m${i}`, 'postprocess.c'), '-o', `m${i}.o`]);
      objects.push(`m${i}.o`);
    });
    writeFileSync(join(dir, 'harness.c'), harness(mods));
    gcc(dir, [...BASE_CFLAGS, '-o', 'harness', 'harness.c', ...objects, '-lm']);
    const proc = spawn(
      join(dir, 'harness'),
      mods.map((_, i) => join(dir, `in${i}.bin`)),
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child = proc;
    const lines = createInterface({ input: proc.stdout });
    const waiting: ((line: string | Error) => void)[] = [];
    lines.on('line', (l) => waiting.shift()?.(l));
    proc.on('exit', (code) => {
      for (const w of waiting.splice(0))
        w(
          new PrunedetError(
            'E_TOOLCHAIN',
            `the C timing harness exited with ${code}`,
            'a module returned an error status (10 + status) or could not read its input',
          ),
        );
    });
    const cleanup = () => {
      forget();
      release();
    };
    return {
      round(inputs) {
        return new Promise<Round>((resolve, reject) => {
          waiting.push((l) => {
            if (l instanceof Error) return reject(l);
            const v = l.trim().split(' ').map(Number);
            resolve({
              runs: mods.map((_, i) => v[3 * i]!),
              floors: mods.map((_, i) => v[3 * i + 1]!),
              detections: mods.map((_, i) => v[3 * i + 2]!),
            });
          });
          proc.stdin.write(`${inputs.join(' ')}\n`);
        });
      },
      close() {
        proc.stdin.end('q\n');
        proc.kill();
        cleanup();
      },
    };
  } catch (e) {
    child?.kill();
    forget();
    release();
    throw e;
  }
}
