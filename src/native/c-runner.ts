// Building and running an emitted C post-processing module natively: a generated harness reads a batch of inputs from
// a binary file, calls the module's run function on each and prints the detections. Used by verify (does the C agree
// with the reference?); bench times modules with its own side-by-side harness (c-timing.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, copyFileSync } from 'node:fs';
import { makeTempDir } from '../cleanup';
import { join } from 'node:path';
import { PrunedetError } from '../errors';
import { inputFileError } from '../fs';
import type { Detection } from '../postprocess/spec';
import { levelOffsets } from '../postprocess/reference';
import { CodeWriter } from '../emit/c/writer';
import type { InputQuant } from '../postprocess/quant';
import { inputPointersC, packedLength } from './c-inputs';

export interface CModuleShape {
  /** Symbol prefix of the module (`pd_<stem>_`). */
  prefix: string;
  /** The module's header and source file names (default postprocess.h, postprocess.c; compile --name changes them). */
  files?: { header: string; source: string };
  input: 'concat' | 'per-level' | 'yolo';
  numClasses: number;
  levels: { h: number; w: number; anchorsPerLocation: number }[];
  /** Per-level form: the maps' layout (default nchw). */
  layout?: 'nchw' | 'nhwc';
  /** Quantized inputs (compile --input-type): the harness packs them as int8/uint8 (c-inputs.ts). */
  quant?: InputQuant;
}

let gccFound: boolean | undefined;

/** Whether gcc runs here (asked once per process). */
export function hasGcc(): boolean {
  gccFound ??= spawnSync('gcc', ['--version'], { encoding: 'utf8' }).status === 0;
  return gccFound;
}

/** The flags every build of an emitted module starts with (the module's own: no FMA contraction, so C == reference). */
export const BASE_CFLAGS: readonly string[] = ['-std=c99', '-O2', '-ffp-contract=off'];

/** `gcc BASE_CFLAGS flags -o exe sources -lm` in `cwd`: undefined when it builds, else the first line of gcc's output naming an error. */
export function gccBuild(cwd: string, exe: string, sources: string[], flags: readonly string[]): string | undefined {
  try {
    execFileSync('gcc', [...BASE_CFLAGS, ...flags, '-o', exe, ...sources, '-lm'], { cwd, stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return (
      (e as { stderr?: Buffer }).stderr
        ?.toString()
        .split('\n')
        .find((l) => /error/.test(l)) ?? String(e)
    ).trim();
  }
}

/** Anchors of a module: the sum of h·w·A over its levels. */
export function anchorCount(m: Pick<CModuleShape, 'levels'>): number {
  return levelOffsets(m.levels).at(-1)!;
}

/**
 * 4-byte words of one input in the order the run function takes them (scores then boxes, or cls maps then reg maps):
 * floats, or for quantized inputs their bytes four to a word (c-inputs.ts packInputForC).
 */
export function inputLength(m: CModuleShape): number {
  return packedLength(m);
}

/**
 * The verify harness: reads `count` then count inputs (inputLength floats each) from argv[1], runs the module on
 * each and prints `input i`, `status st n` and one line per detection (%.9g round-trips a float).
 */
function harness(m: CModuleShape): string {
  const P = m.prefix;
  const M = P.toUpperCase();
  const w = new CodeWriter();
  w.comment('prunedet verify harness: not part of the emitted module.');
  for (const h of ['<stdio.h>', '<stdlib.h>', '<stdint.h>', `"${(m.files ?? DEFAULT_FILES).header}"`])
    w.line(`#include ${h}`);
  w.line();
  w.block('int main(int argc, char **argv)', () => {
    w.line('FILE *f;');
    w.line('uint32_t count, i;');
    w.line(`long per = (long)${inputLength(m)};`);
    w.line('float *data;');
    w.line('void *ws;');
    w.line(`size_t ws_size = ${P}workspace_size();`);
    w.line(`${P}detection_t *dets;`);
    w.line('if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL) return 2;');
    w.line('if (fread(&count, sizeof count, 1, f) != 1) return 3;');
    w.line('data = (float *)malloc((size_t)per * count * sizeof(float) + 1);');
    w.line('ws = malloc(ws_size);');
    w.line(`dets = (${P}detection_t *)malloc(sizeof *dets * ${M}MAX_DETECTIONS);`);
    w.line('if (!data || !ws || !dets) return 4;');
    w.line('if (fread(data, sizeof(float), (size_t)per * count, f) != (size_t)per * count) return 5;');
    w.line('fclose(f);');
    w.block('for (i = 0; i < count; ++i)', () => {
      w.line('const float *in = data + (size_t)per * i;');
      w.line(`${P}status_t st = ${M}OK;`);
      w.line('size_t n = 0, k;');
      w.block('', () => {
        const ptrs = inputPointersC(m, 'in', '');
        for (const line of ptrs.decl.split('\n')) w.line(line);
        w.line(`st = ${P}run(${ptrs.args}, ws, ws_size, dets, ${M}MAX_DETECTIONS, &n);`);
      });
      w.line('printf("input %lu\\nstatus %d %lu\\n", (unsigned long)i, (int)st, (unsigned long)n);');
      w.line('for (k = 0; k < n; ++k)');
      w.indent();
      w.line(
        'printf("%lu %lu %.9g %.9g %.9g %.9g %.9g\\n", (unsigned long)dets[k].label, (unsigned long)dets[k].anchor,',
      );
      w.line(
        '       (double)dets[k].score, (double)dets[k].box[0], (double)dets[k].box[1], (double)dets[k].box[2], (double)dets[k].box[3]);',
      );
      w.dedent();
    });
    w.line('free(data); free(ws); free(dets);');
    w.line('return 0;');
  });
  return w.toString();
}

export interface BuiltRunner {
  exe: string;
  dispose(): void;
}

const DEFAULT_FILES = { header: 'postprocess.h', source: 'postprocess.c' };

/** Compile `moduleDir`/postprocess.c (or the files m names) with a harness (gcc -O2, the module's own flags). */
export function buildRunner(moduleDir: string, m: CModuleShape, extraFlags: string[] = []): BuiltRunner {
  if (!hasGcc())
    throw new PrunedetError(
      'E_TOOLCHAIN',
      'gcc is not installed, so the emitted C module cannot be built',
      'install gcc (Debian: apt-get install gcc)',
    );
  const { dir, release } = makeTempDir('c');
  try {
    const files = m.files ?? DEFAULT_FILES;
    for (const f of [files.source, files.header]) {
      try {
        copyFileSync(join(moduleDir, f), join(dir, f));
      } catch (e) {
        throw inputFileError(
          e,
          'E_POSTPROCESS',
          `the emitted C module's ${join(moduleDir, f)}`,
          'regenerate it with prunedet compile --emit c',
        );
      }
    }
    // a hyphenated name no module file can have (compile --name takes C identifiers)
    writeFileSync(join(dir, 'pd-harness.c'), harness(m));
    const exe = join(dir, 'pd-harness');
    const err = gccBuild(dir, exe, ['pd-harness.c', files.source], extraFlags);
    if (err !== undefined)
      throw new PrunedetError(
        'E_TOOLCHAIN',
        `the C module in ${moduleDir} does not compile: ${err}`,
        'regenerate it with prunedet compile --emit c',
      );
    return { exe, dispose: release };
  } catch (e) {
    release();
    throw e;
  }
}

export interface CRun {
  detections: Detection[][];
}

/** Run the harness on `inputs` (each inputLength floats). */
export function runRunner(r: BuiltRunner, m: CModuleShape, inputs: Float32Array[]): CRun {
  const per = inputLength(m);
  const buf = new Uint8Array(4 + inputs.length * per * 4);
  new DataView(buf.buffer).setUint32(0, inputs.length, true);
  inputs.forEach((x, i) => {
    if (x.length !== per)
      throw new PrunedetError(
        'E_POSTPROCESS',
        `C module input ${i} has ${x.length} values, the module takes ${per}`,
        'the module and the model do not match',
      );
    buf.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), 4 + i * per * 4);
  });
  const file = join(r.exe, '..', 'inputs.bin');
  writeFileSync(file, buf);
  const out = execFileSync(r.exe, [file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const detections: Detection[][] = [];
  let cur: Detection[] = [];
  for (const line of out.split('\n')) {
    if (line.startsWith('input ')) {
      cur = [];
      detections.push(cur);
    } else if (line.startsWith('status ')) {
      const st = Number(line.split(' ')[1]);
      if (st !== 0)
        throw new PrunedetError(
          'E_POSTPROCESS',
          `the C module returned status ${st} on input ${detections.length - 1}`,
          'check the workspace size and inputs',
        );
    } else if (line.trim()) {
      // %.9g round-trips a float: rounding the parsed double to float gives the C module's value bit for bit
      const [label, anchor, score, x1, y1, x2, y2] = line.split(' ').map(Number) as number[];
      cur.push({
        label: label!,
        anchor: anchor!,
        score: Math.fround(score!),
        box: [Math.fround(x1!), Math.fround(y1!), Math.fround(x2!), Math.fround(y2!)],
      });
    }
  }
  return { detections };
}
