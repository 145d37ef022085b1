// Build an emitted module together with a test harness (main reads float32 inputs from a file, calls run, prints
// the detections), run it on inputs, and compare with the TypeScript reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { emitPostprocessC, type EmitPlan } from '../../src/emit/c';
import { cNames } from '../../src/emit/c/names';
import type { Detection } from '../../src/postprocess/spec';
import { compile, O2_FLAGS, run, SANITIZE_FLAGS, tempDir, writeFiles } from '../_support/gcc';
import { toPerLevel, type HeadOutputs } from './fixtures';
import { elemBytes, elemType } from '../../src/emit/c/quant';
import type { QuantParams } from '../../src/postprocess/quant';

/**
 * `static int <prefix>harness(const char *path)`: reads the float32 inputs of one run from `path` (in the order the run
 * function takes them), calls run and prints the status, the count and the detections. Every name it declares carries
 * the module's prefix, so the runners of several modules can share one translation unit.
 */
export function harnessRunner(plan: EmitPlan): string {
  const N = cNames(plan.name);
  const P = N.prefix;
  const c = plan.numClasses;
  const ts = elemType(plan.quant?.scores);
  const tb = elemType(plan.quant?.boxes);
  // every input starts on a 4-byte boundary of the file (harnessInput pads): byte lengths rounded up to 4
  const padded = (n: number, q: QuantParams | undefined) => (n * elemBytes(q) + 3) & ~3;
  const sizes =
    plan.input === 'concat'
      ? ''
      : plan.input === 'yolo'
        ? `static const size_t ${P}rows_len[] = { ${plan.levels.map((l) => padded(l.h * l.w * l.anchorsPerLocation * (c + 4), undefined)).join(', ')} };\n`
        : `static const size_t ${P}cls_len[] = { ${plan.levels.map((l) => padded(l.h * l.w * l.anchorsPerLocation * c, plan.quant?.scores)).join(', ')} };\n` +
          `static const size_t ${P}reg_len[] = { ${plan.levels.map((l) => padded(l.h * l.w * l.anchorsPerLocation * 4, plan.quant?.boxes)).join(', ')} };\n`;
  const n = plan.levels.reduce((s, l) => s + l.h * l.w * l.anchorsPerLocation, 0);
  const call =
    plan.input === 'yolo'
      ? `const float *rows[${N.numLevels}];
    size_t off = 0, l;
    for (l = 0; l < ${N.numLevels}; ++l) { rows[l] = ${P}rows_len[l] ? (const float *)(const void *)(data + off) : NULL; off += ${P}rows_len[l]; }
    st = ${N.run}(rows, ws, ${N.workspaceSize}(), dets, ${N.maxDetections}, &n);`
      : plan.input === 'concat'
        ? `const ${ts} *scores = (const ${ts} *)(const void *)data;
    const ${tb} *boxes = (const ${tb} *)(const void *)(data + ${padded(n * c, plan.quant?.scores)}u);
    st = ${N.run}(scores, boxes, ws, ${N.workspaceSize}(), dets, ${N.maxDetections}, &n);`
        : `const ${ts} *cls[${N.numLevels}];
    const ${tb} *reg[${N.numLevels}];
    size_t off = 0, l;
    for (l = 0; l < ${N.numLevels}; ++l) { cls[l] = ${P}cls_len[l] ? (const ${ts} *)(const void *)(data + off) : NULL; off += ${P}cls_len[l]; }
    for (l = 0; l < ${N.numLevels}; ++l) { reg[l] = ${P}reg_len[l] ? (const ${tb} *)(const void *)(data + off) : NULL; off += ${P}reg_len[l]; }
    st = ${N.run}(cls, reg, ws, ${N.workspaceSize}(), dets, ${N.maxDetections}, &n);`;
  return `${sizes}
static int ${P}harness(const char *path) {
    FILE *f;
    long bytes;
    unsigned char *data;
    void *ws;
    ${N.detection} *dets;
    size_t n = 0, i;
    ${N.status} st;
    if ((f = fopen(path, "rb")) == NULL) return 2;
    fseek(f, 0, SEEK_END);
    bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (unsigned char *)malloc(bytes > 0 ? (size_t)bytes : 1u);
    if (data == NULL || fread(data, 1, (size_t)bytes, f) != (size_t)bytes) return 3;
    fclose(f);
    ws = malloc(${N.workspaceSize}());
    dets = (${N.detection} *)malloc(sizeof *dets * ${N.maxDetections});
    if (ws == NULL || dets == NULL) return 4;
    {
    ${call}
    }
    printf("%d %lu\\n", (int)st, (unsigned long)n);
    for (i = 0; i < n; ++i)
        printf("%lu %lu %.9g %.9g %.9g %.9g %.9g\\n", (unsigned long)dets[i].label, (unsigned long)dets[i].anchor,
               (double)dets[i].score, (double)dets[i].box[0], (double)dets[i].box[1], (double)dets[i].box[2],
               (double)dets[i].box[3]);
    free(dets);
    free(ws);
    free(data);
    return 0;
}
`;
}

/** main(): argv[1] = input file of float32 values, in the order the run function takes them. */
export function harnessSource(plan: EmitPlan): string {
  return `#include <stdio.h>
#include <stdlib.h>
#include "postprocess.h"
${harnessRunner(plan)}
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    return ${cNames(plan.name).prefix}harness(argv[1]);
}
`;
}

/**
 * The inputs of one run, in the order the run function takes them (what harnessRunner reads): float32, or for a
 * quantized input (plan.quant) its values, integers held in the Float32Array, as int8/uint8 bytes; each padded to 4 bytes.
 */
export function harnessInput(plan: EmitPlan, outputs: HeadOutputs): Uint8Array {
  const S = plan.quant?.scores;
  const B = plan.quant?.boxes;
  const parts: [Float32Array, QuantParams | undefined][] =
    plan.input === 'yolo'
      ? [[outputs.scores, undefined]] // YOLO rows of every level, one after another
      : plan.input === 'concat'
        ? [
            [outputs.scores, S],
            [outputs.boxes, B],
          ]
        : (() => {
            const levels = toPerLevel(plan, outputs);
            return [...levels.map((l) => [l.cls, S] as const), ...levels.map((l) => [l.reg, B] as const)].map(
              ([a, q]) => [a, q] as [Float32Array, QuantParams | undefined],
            );
          })();
  const bytes = (a: Float32Array, q: QuantParams | undefined): Uint8Array =>
    q === undefined
      ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
      : q.type === 'int8'
        ? new Uint8Array(Int8Array.from(a).buffer)
        : Uint8Array.from(a);
  const chunks = parts.map(([a, q]) => bytes(a, q));
  const all = new Uint8Array(chunks.reduce((s, c) => s + ((c.length + 3) & ~3), 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += (c.length + 3) & ~3;
  }
  return all;
}

function parseNumber(t: string): number {
  const s = t.toLowerCase().replace(/^-nan$/, 'nan');
  if (s === 'nan') return NaN;
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Math.fround(Number(s));
}

export function parseHarnessOutput(text: string): { status: number; detections: Detection[] } {
  const lines = text.trim().split('\n');
  const [status, count] = lines[0]!.split(' ').map((x) => Number(x)) as [number, number];
  const detections = lines.slice(1, 1 + count).map((l) => {
    const v = l.split(' ').map(parseNumber);
    return {
      label: Number(l.split(' ')[0]),
      anchor: Number(l.split(' ')[1]),
      score: v[2]!,
      box: [v[3]!, v[4]!, v[5]!, v[6]!] as [number, number, number, number],
    };
  });
  return { status, detections };
}

export interface BuiltModule {
  /** Run the -O2 build and the ASan/UBSan build (plain C99 path) on the inputs; both outputs must be equal; returns the parse. */
  run(outputs: HeadOutputs): { status: number; detections: Detection[] };
  files: { name: string; text: string }[];
  dir: string;
  dispose(): void;
}

/** Emit, write and compile a plan twice (-O2, and -fsanitize=address,undefined -DPD_PORTABLE). */
export function buildModule(plan: EmitPlan, opts: { sanitize?: boolean } = {}): BuiltModule {
  const { files } = emitPostprocessC(plan);
  const t = tempDir();
  writeFiles(t.dir, [...files, { name: 'harness.c', text: harnessSource(plan) }]);
  // -O2 as shipped (on x86-64 Linux the hot loops run in the CPU's widest target_clones variant); the sanitizer build
  // takes the plain C99 path (-DPD_PORTABLE), so both paths are compared with the reference
  const exes = [compile(t.dir, ['postprocess.c', 'harness.c'], 'harness_o2', O2_FLAGS)];
  if (opts.sanitize !== false)
    exes.push(compile(t.dir, ['postprocess.c', 'harness.c'], 'harness_san', [...SANITIZE_FLAGS, '-DPD_PORTABLE']));
  let runs = 0;
  return {
    files,
    dir: t.dir,
    dispose: t.dispose,
    run(outputs) {
      const file = join(t.dir, `input-${runs++}.bin`);
      writeFileSync(file, harnessInput(plan, outputs));
      const texts = exes.map((e) => run(e, [file]));
      for (const text of texts.slice(1)) expect(text).toBe(texts[0]);
      return parseHarnessOutput(texts[0]!);
    },
  };
}

/** Same detections: count, labels, anchors and order exactly; scores exactly; coordinates within 1e-4. */
export function expectSameDetections(got: Detection[], want: Detection[]): void {
  const key = (d: Detection[]) => d.map((x) => `${x.label}@${x.anchor}`).join(' ');
  expect(key(got)).toBe(key(want));
  got.forEach((d, i) => {
    const w = want[i]!;
    expect(d.score).toBe(w.score);
    d.box.forEach((v, j) => {
      const r = w.box[j]!;
      if (Number.isFinite(r)) expect(Math.abs(v - r)).toBeLessThanOrEqual(1e-4);
      else expect(v).toBe(r);
    });
  });
}
