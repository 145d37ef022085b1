// The inputs of an emitted module as the harnesses (verify's runner, bench's timer) hand them over: one buffer per run
// of 4-byte words, each tensor (scores, boxes; or each level's cls map, then each level's reg map) starting on a word.
// Float modules read float32 words; a quantized module (compile --input-type) reads int8/uint8 bytes packed four to a
// word (the buffer is still a Float32Array: only its bytes matter); an NHWC module (--input-layout nhwc) reads each
// level's [H][W][A*K] map, which is the level's rows of the concatenated form; a YOLO module reads each level's float
// rows [A][H][W][4 + C], one level after another.
import { elemBytes, elemType } from '../emit/c/quant';
import { dequantize, quantize, type InputQuant, type QuantParams } from '../postprocess/quant';
import type { PostprocessInput } from '../postprocess/reference';
import { perLevelMaps } from '../postprocess/synthetic-heads';
import type { CModuleShape } from './c-runner';

/** 4-byte words holding n elements of a tensor quantized with q (float32 when q is undefined). */
function words(n: number, q: QuantParams | undefined): number {
  return Math.ceil((n * elemBytes(q)) / 4);
}

function levelCounts(m: CModuleShape): number[] {
  return m.levels.map((l) => l.h * l.w * l.anchorsPerLocation);
}

/** Words of one packed input (packInputForC). */
export function packedLength(m: CModuleShape): number {
  const counts = levelCounts(m);
  const n = counts.reduce((a, b) => a + b, 0);
  const s = m.quant?.scores;
  const b = m.quant?.boxes;
  if (m.input === 'yolo') return n * (m.numClasses + 4);
  if (m.input === 'concat') return words(n * m.numClasses, s) + words(n * 4, b);
  return counts.reduce((t, c) => t + words(c * m.numClasses, s) + words(c * 4, b), 0);
}

/** Words of the score tensor(s) of one packed input (what bench's floor copies). */
export function packedScoreLength(m: CModuleShape): number {
  const counts = levelCounts(m);
  const s = m.quant?.scores;
  if (m.input === 'concat') return words(counts.reduce((a, b) => a + b, 0) * m.numClasses, s);
  return counts.reduce((t, c) => t + words(c * m.numClasses, s), 0);
}

/** The concatenated rows of a per-level NCHW input (or the input itself): scores [N][C], boxes [N][4]. */
function concatOf(x: PostprocessInput, m: CModuleShape): { scores: Float32Array; boxes: Float32Array } {
  if (x.form === 'concat') return x;
  if (x.form === 'yolo') throw new Error('YOLO rows are not scores and boxes');
  const n = levelCounts(m).reduce((a, b) => a + b, 0);
  const scores = new Float32Array(n * m.numClasses);
  const boxes = new Float32Array(n * 4);
  let off = 0;
  x.levels.forEach((lv, i) => {
    const { h, w, anchorsPerLocation: A } = m.levels[i]!;
    const hw = h * w;
    for (const [src, dst, k] of [
      [lv.cls, scores, m.numClasses],
      [lv.reg, boxes, 4],
    ] as const) {
      for (let p = 0; p < hw; p++) for (let ch = 0; ch < A * k; ch++) dst[(off + p * A) * k + ch] = src[ch * hw + p]!;
    }
    off += hw * A;
  });
  return { scores, boxes };
}

/** A post-processing input flattened in the order a C module's run function takes it (scores, boxes; or cls maps then reg maps). */
export function flattenForC(input: PostprocessInput): Float32Array {
  const parts =
    input.form === 'concat'
      ? [input.scores, input.boxes]
      : input.form === 'yolo'
        ? input.levels
        : [...input.levels.map((l) => l.cls), ...input.levels.map((l) => l.reg)];
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One run's input packed for the module: its tensors in order, quantized when the module is, each on a word. */
export function packInputForC(m: CModuleShape, x: PostprocessInput): Float32Array {
  if (m.input === 'yolo') {
    // float rows of every level, one after another (quantized YOLO rows are refused when the module is emitted)
    if (x.form !== 'yolo') throw new Error('a YOLO-row module is given a scores/boxes input');
    return flattenForC(x);
  }
  const c = concatOf(x, m);
  const parts: [Float32Array, QuantParams | undefined][] = [];
  if (m.input === 'concat') {
    parts.push([c.scores, m.quant?.scores], [c.boxes, m.quant?.boxes]);
  } else if (m.layout === 'nhwc') {
    const counts = levelCounts(m);
    let off = 0;
    const cls: Float32Array[] = [];
    const reg: Float32Array[] = [];
    for (const n of counts) {
      cls.push(c.scores.subarray(off * m.numClasses, (off + n) * m.numClasses));
      reg.push(c.boxes.subarray(off * 4, (off + n) * 4));
      off += n;
    }
    parts.push(...cls.map((a) => [a, m.quant?.scores] as [Float32Array, QuantParams | undefined]));
    parts.push(...reg.map((a) => [a, m.quant?.boxes] as [Float32Array, QuantParams | undefined]));
  } else {
    const maps = perLevelMaps(m.levels, m.numClasses, c.scores, c.boxes);
    parts.push(...maps.map((l) => [l.cls, m.quant?.scores] as [Float32Array, QuantParams | undefined]));
    parts.push(...maps.map((l) => [l.reg, m.quant?.boxes] as [Float32Array, QuantParams | undefined]));
  }
  const out = new Float32Array(packedLength(m));
  const bytes = new Uint8Array(out.buffer);
  let w = 0;
  for (const [a, q] of parts) {
    if (q === undefined) out.set(a, w);
    else {
      const v = quantize(q, a);
      if (q.type === 'int8') bytes.set(new Uint8Array(Int8Array.from(v).buffer), w * 4);
      else bytes.set(Uint8Array.from(v), w * 4);
    }
    w += words(a.length, q);
  }
  return out;
}

/** What a quantized module reads, as floats: every quantized tensor of x dequantised after quantizing (x if none). */
export function asQuantizedInput(x: PostprocessInput, quant: InputQuant | undefined): PostprocessInput {
  const s = quant?.scores;
  const b = quant?.boxes;
  if ((!s && !b) || x.form === 'yolo') return x;
  const rt = (a: Float32Array, q: QuantParams | undefined) => (q ? dequantize(q, quantize(q, a)) : a);
  return x.form === 'concat'
    ? { form: 'concat', scores: rt(x.scores, s), boxes: rt(x.boxes, b) }
    : { form: 'per-level', levels: x.levels.map((l) => ({ cls: rt(l.cls, s), reg: rt(l.reg, b) })) };
}

/**
 * C statements declaring the run function's input arguments from the packed input `input` (a `const float *`):
 * `scores`/`boxes` (concat), `cls[l]`/`reg[l]` (per level, NULL for a level without anchors), typed as the module
 * takes them, or `rows[l]` (YOLO rows). Lines after the first are indented with `indent`.
 */
export function inputPointersC(m: CModuleShape, input: string, indent: string): { decl: string; args: string } {
  const ts = elemType(m.quant?.scores);
  const tb = elemType(m.quant?.boxes);
  const at = (t: string, off: string) =>
    t === 'float' ? `${input} + ${off}` : `(const ${t} *)(const void *)(${input} + ${off})`;
  const counts = levelCounts(m);
  if (m.input === 'yolo') {
    return {
      decl: [
        `const float *rows[${counts.length}];`,
        'size_t off = 0, l;',
        `static const size_t count[] = { ${counts.join(', ')} };`,
        `for (l = 0; l < ${counts.length}; ++l) { rows[l] = count[l] ? ${input} + off : NULL; off += count[l] * ${m.numClasses + 4}u; }`,
      ].join(`\n${indent}`),
      args: 'rows',
    };
  }
  if (m.input === 'concat') {
    const n = counts.reduce((a, b) => a + b, 0);
    return {
      decl: [
        `const ${ts} *scores = ${at(ts, '0')};`,
        `const ${tb} *boxes = ${at(tb, `${words(n * m.numClasses, m.quant?.scores)}u`)};`,
      ].join(`\n${indent}`),
      args: 'scores, boxes',
    };
  }
  const L = counts.length;
  return {
    decl: [
      `const ${ts} *cls[${L}];`,
      `const ${tb} *reg[${L}];`,
      'size_t off = 0, l;',
      `static const size_t count[] = { ${counts.join(', ')} };`,
      `static const size_t cls_words[] = { ${counts.map((c) => words(c * m.numClasses, m.quant?.scores)).join(', ')} };`,
      `static const size_t reg_words[] = { ${counts.map((c) => words(c * 4, m.quant?.boxes)).join(', ')} };`,
      `for (l = 0; l < ${L}; ++l) { cls[l] = count[l] ? ${at(ts, 'off')} : NULL; off += cls_words[l]; }`,
      `for (l = 0; l < ${L}; ++l) { reg[l] = count[l] ? ${at(tb, 'off')} : NULL; off += reg_words[l]; }`,
    ].join(`\n${indent}`),
    args: 'cls, reg',
  };
}
