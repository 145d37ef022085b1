// detect's C header of test vectors: the model's head outputs on a few images in the order the emitted module's run
// function takes them, and the detections it must return (prunedet's reference post-processing, which the module
// matches bit for bit), so a user can check the module on the device. Printed through the C emitter's writer.
import { cFloat } from '../../emit/c/floats';
import { CodeWriter } from '../../emit/c/writer';
import type { Detection } from '../../postprocess/spec';
import type { LevelShape } from '../../postprocess/reference';

export interface TestVector {
  name: string;
  /** The module's input, flattened: scores then boxes, or every level's cls map then every level's reg map. */
  input: Float32Array;
  expected: Detection[];
}

export interface VectorHeader {
  /** The module's symbol prefix, `pd_<stem>_`: the header's names are `<prefix>tv_*`. */
  prefix: string;
  /** The module's header file, named in the usage comment. */
  moduleHeader: string;
  input: 'concat' | 'per-level' | 'yolo';
  levels: readonly LevelShape[];
  numClasses: number;
  banner: string;
  vectors: TestVector[];
}

/** Floats per line of a table. */
const PER_LINE = 8;

/** A C string literal of `s` (printable ASCII; anything else escaped). */
function cString(s: string): string {
  return `"${[...s].map((ch) => (/[ -~]/.test(ch) && ch !== '"' && ch !== '\\' && ch !== '?' ? ch : ch.charCodeAt(0) < 128 ? `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}` : '?')).join('')}"`;
}

function floatTable(w: CodeWriter, decl: string, x: Float32Array, what: string): void {
  w.block(
    `${decl} =`,
    () => {
      for (let i = 0; i < x.length; i += PER_LINE) {
        w.line(`${Array.from(x.subarray(i, i + PER_LINE), (v) => cFloat(v, what)).join(', ')},`);
      }
    },
    ';',
  );
}

/** The text of the test-vector header. */
export function emitTestVectors(h: VectorHeader): string {
  const P = `${h.prefix}tv_`;
  const M = P.toUpperCase();
  const n = h.vectors.length;
  const length = h.vectors[0]?.input.length ?? 0;
  const total = h.vectors.reduce((s, v) => s + v.expected.length, 0);
  const w = new CodeWriter();
  w.comment(
    h.banner,
    `Test vectors for ${h.moduleHeader}: ${M}COUNT inputs of ${M}INPUT_LENGTH floats each, in the order ${h.prefix}run takes them`,
    h.input === 'concat'
      ? '(scores [anchors][classes], then boxes [anchors][4]),'
      : h.input === 'yolo'
        ? `(every level's YOLO rows [A][H][W][4 + classes], one level after another; point rows[l] with ${P}levels),`
        : "(every level's cls map, then every level's reg map; point cls[l]/reg[l] with " + `${P}levels),`,
    `and the detections ${h.prefix}run must return for each, in order: ${P}expected[${P}begin[i] .. ${P}begin[i + 1]).`,
    'The module computes them bit for bit (built with -ffp-contract=off, without -ffast-math): compare with ==.',
  );
  const guard = `${M}H`;
  w.line(`#ifndef ${guard}`);
  w.line(`#define ${guard}`);
  w.line();
  w.line('#include <stddef.h>');
  w.line('#include <stdint.h>');
  w.line();
  w.line(`#define ${M}COUNT ${n}u`);
  w.line(`#define ${M}INPUT_LENGTH ${length}u`);
  w.line(`#define ${M}EXPECTED_TOTAL ${total}u`);
  w.line();
  w.block(
    'typedef struct',
    () => {
      w.line('float box[4];');
      w.line('float score;');
      w.line('uint32_t label;');
      w.line('uint32_t anchor;');
    },
    ` ${P}detection_t;`,
  );
  w.line();
  h.vectors.forEach((v, i) => {
    w.comment(`input ${i}: ${v.name.replace(/\*\//g, '* /')}, ${v.expected.length} detections`);
    floatTable(w, `static const float ${P}input_${i}[${M}INPUT_LENGTH]`, v.input, `head output of ${v.name}`);
    w.line();
  });
  w.block(
    `static const float *const ${P}inputs[${M}COUNT] =`,
    () => {
      h.vectors.forEach((_, i) => w.line(`${P}input_${i},`));
    },
    ';',
  );
  w.block(
    `static const char *const ${P}names[${M}COUNT] =`,
    () => {
      h.vectors.forEach((v) => w.line(`${cString(v.name)},`));
    },
    ';',
  );
  let at = 0;
  const begin = [0, ...h.vectors.map((v) => (at += v.expected.length))];
  w.line(`static const size_t ${P}begin[${M}COUNT + 1] = { ${begin.map((b) => `${b}u`).join(', ')} };`);
  // an array cannot be empty in C: with no detections at all, one unused entry
  w.block(
    `static const ${P}detection_t ${P}expected[${Math.max(1, total)}] =`,
    () => {
      for (const v of h.vectors) {
        for (const d of v.expected) {
          const box = d.box.map((b) => cFloat(Math.fround(b), 'box')).join(', ');
          w.line(`{ { ${box} }, ${cFloat(Math.fround(d.score), 'score')}, ${d.label}u, ${d.anchor}u },`);
        }
      }
      if (total === 0) w.line('{ { 0.0f, 0.0f, 0.0f, 0.0f }, 0.0f, 0u, 0u } /* unused: no input has detections */');
    },
    ';',
  );
  if (h.input === 'yolo') {
    const counts = h.levels.map((l) => l.h * l.w * l.anchorsPerLocation);
    w.line();
    w.comment(
      `Point rows[l] (${counts.length} levels) at level l's rows inside one input (NULL for a level without anchors).`,
    );
    w.block(`static inline void ${P}levels(const float *input, const float *rows[${counts.length}])`, () => {
      w.line(`static const size_t count[${counts.length}] = { ${counts.map((c) => `${c}u`).join(', ')} };`);
      w.line('size_t off = 0, l;');
      w.line(
        `for (l = 0; l < ${counts.length}u; ++l) { rows[l] = count[l] ? input + off : NULL; off += count[l] * ${h.numClasses + 4}u; }`,
      );
    });
  }
  if (h.input === 'per-level') {
    const counts = h.levels.map((l) => l.h * l.w * l.anchorsPerLocation);
    w.line();
    w.comment(
      `Point cls[l] / reg[l] (${counts.length} levels) at level l's maps inside one input (NULL for a level without anchors).`,
    );
    w.block(
      `static inline void ${P}levels(const float *input, const float *cls[${counts.length}], const float *reg[${counts.length}])`,
      () => {
        w.line(`static const size_t count[${counts.length}] = { ${counts.map((c) => `${c}u`).join(', ')} };`);
        w.line('size_t off = 0, l;');
        w.line(
          `for (l = 0; l < ${counts.length}u; ++l) { cls[l] = count[l] ? input + off : NULL; off += count[l] * ${h.numClasses}u; }`,
        );
        w.line(
          `for (l = 0; l < ${counts.length}u; ++l) { reg[l] = count[l] ? input + off : NULL; off += count[l] * 4u; }`,
        );
      },
    );
  }
  w.line();
  w.line(`#endif /* ${guard} */`);
  return w.toString();
}
