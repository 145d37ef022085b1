// postprocess.c: constant tables (anchors, levels) and the run function that streams over the anchors and calls the
// stages from stages.ts. One emitX(writer, layout) per section, called in order by emitSource.
import { emitYoloRange, emitYoloStream, emitYoloTables } from './yolo';
import { bannerText } from './banner';
import { PrunedetError } from '../../errors';
import { cFileNames } from './names';
import { cFloat } from './floats';
import { EXP_CONST } from '../../postprocess/float32';
import { runSignature } from './header';
import { LOCAL_MACROS, type LocalNames } from './names';
import { rowMajor, type PlanLayout } from './plan';
import { BATCH, emitCandidates, emitDecode, emitNms, emitRowLoop, emitScoreFilter, inputArg } from './stages';
import { isDecodedInput } from '../../postprocess/spec';
import { CodeWriter } from './writer';
import { elemBytes, elemType, valueOf } from './quant';
import { rejectKey } from './stages';

function emitPrologue(w: CodeWriter, L: PlanLayout): void {
  w.line(`/* ${bannerText(L.plan)} */`);
  w.comment(
    "Every value is computed in float, operation by operation as in prunedet's reference (src/postprocess/",
    'reference.ts); compile without -ffast-math and with -ffp-contract=off to get its results exactly. No allocation,',
    "no stdio, no writable globals: all state lives in the caller's workspace.",
  );
  w.line(`#include "${cFileNames(L.plan.fileStem).header}"`);
  w.line();
  w.line('#include <float.h>');
  w.line('#include <math.h>');
  w.line('#include <string.h>');
  w.line();
  const loc = L.names.local;
  w.comment(
    `${loc.HOT} marks the functions with the hot loops. With GCC or Clang on x86-64 Linux/glibc they are compiled three`,
    'times (baseline ISA, AVX2, AVX-512) and the loader picks the widest the CPU has (target_clones): the same C and',
    'the same -ffp-contract=off, so the same results, from the default -O2 build. -DPD_PORTABLE compiles the plain',
    "C99 path only; other compilers and targets always get it (build with the target's -march for its SIMD width).",
    'A PD_HOT defined by the build replaces the attribute.',
  );
  w.line('#if defined(PD_HOT)');
  w.line(`#define ${loc.HOT} PD_HOT`);
  w.line(
    '#elif !defined(PD_PORTABLE) && defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && defined(__has_attribute)',
  );
  w.line('#if __has_attribute(target_clones)');
  w.line(`#define ${loc.HOT} __attribute__((target_clones("default", "avx2", "avx512f")))`);
  w.line('#endif');
  w.line('#endif');
  w.line(`#ifndef ${loc.HOT}`);
  w.line(`#define ${loc.HOT}`);
  w.line('#endif');
  w.line();
  w.comment(
    `${loc.PREFETCH} asks for a cache line before it is read (GCC and Clang; elsewhere it does nothing): the score rows`,
    'a few rows ahead of the scan and the anchor and delta rows NMS may decode, so their misses overlap instead of',
    'stalling one by one. It never changes a result. A PD_PREFETCH(p) defined by the build replaces it.',
  );
  w.line('#if defined(PD_PREFETCH)');
  w.line(`#define ${loc.PREFETCH}(p) PD_PREFETCH(p)`);
  w.line('#elif defined(__GNUC__)');
  w.line(`#define ${loc.PREFETCH}(p) __builtin_prefetch(p)`);
  w.line('#else');
  w.line(`#define ${loc.PREFETCH}(p) ((void)(p))`);
  w.line('#endif');
  w.line();
  w.line('#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0');
  w.line(
    '#error "prunedet post-processing needs float arithmetic evaluated in float (FLT_EVAL_METHOD 0, e.g. SSE or ARM, not x87)"',
  );
  w.line('#endif');
  w.line();
  const spec = L.plan.spec;
  if (!isDecodedInput(spec.decoder) || spec.scores === 'sigmoid') emitExp(w, L.names.local);
  if (spec.scores === 'softmax') emitExpNeg(w, L.names.local);
}

/** pd_expf: the reference's float exp (src/postprocess/float32.ts expF), operation for operation. */
function emitExp(w: CodeWriter, loc: LocalNames): void {
  const E = EXP_CONST;
  const F = (x: number) => cFloat(x, 'exp constant');
  w.comment(
    "exp in float, identical to prunedet's reference (not libm's expf, so results do not depend on the target's libm):",
    'x = n*ln2 + r, e^r by Horner on the degree-7 Taylor polynomial, times 2^n as two exact power-of-two factors.',
    'Within 1.2 ulp of the true exp; 0 below -87.33654, +Inf above 88.72284, NaN for NaN. Used per box and per sigmoid',
    'candidate; the softmax rows use pd_expf_neg (below), written for the vectorizer.',
  );
  w.block(`static float ${loc.expf}(float x)`, () => {
    w.line(`const float xc = x >= ${F(E.lo)} ? (x <= ${F(E.hi)} ? x : ${F(E.hi)}) : ${F(E.lo)};`);
    w.line(`const float n = (xc * ${F(E.log2e)} + ${F(E.round)}) - ${F(E.round)};`);
    w.line(`const float r = (xc - n * ${F(E.ln2Hi)}) - n * ${F(E.ln2Lo)};`);
    w.line(`float p = ${F(E.poly[0]!)};`);
    w.line('float s1, s2, y;');
    w.line('int32_t n1, n2;');
    w.line('uint32_t b1, b2;');
    for (const c of E.poly.slice(1)) w.line(`p = p * r + ${F(c)};`);
    w.line('n1 = (int32_t)n / 2;');
    w.line('n2 = (int32_t)n - n1;');
    w.line('b1 = (uint32_t)(n1 + 127) << 23;');
    w.line('b2 = (uint32_t)(n2 + 127) << 23;');
    w.line('memcpy(&s1, &b1, sizeof s1);');
    w.line('memcpy(&s2, &b2, sizeof s2);');
    w.line('y = (p * s1) * s2;');
    w.line(`return x != x ? x : (x > ${F(E.hi)} ? INFINITY : (x < ${F(E.lo)} ? 0.0f : y));`);
  });
  w.line();
}

/**
 * pd_expf_neg: pd_expf for x <= 0 (and -Inf), the softmax's exponent x - max. There n >= -126, so pd_expf's two
 * factors 2^n1 * 2^n2 make one normal power of two 2^n, and p * 2^n1 * 2^n2 (p * 2^n1 exact, then one rounding) equals
 * p * 2^n (one rounding of the same product): the same float for every such x, with fewer operations, none of which
 * stops gcc from vectorizing a loop over a row (test/emit checks both claims).
 */
function emitExpNeg(w: CodeWriter, loc: LocalNames): void {
  const E = EXP_CONST;
  const F = (x: number) => cFloat(x, 'exp constant');
  w.comment(
    "pd_expf(x) for x <= 0 or -Inf (the softmax's x - max), operation for operation the same float: for such x,",
    "n >= -126 and pd_expf's two power-of-two factors multiply to one normal 2^n, so one factor rounds the same.",
  );
  w.block(`static inline float ${loc.expf_neg}(float x)`, () => {
    w.line(`const float lo = ${F(E.lo)};`);
    w.line('uint32_t xb, lb, keep;');
    w.line('float xc, n, r, p, s;');
    w.line('int32_t b;');
    w.comment(
      'xc = x >= lo ? x : lo (NaN: lo), as a bitwise select: written as a conditional, gcc sees that xc is the constant lo',
      'on one side, folds the whole polynomial there and leaves a branch no vectorizer without masked SIMD undoes.',
    );
    w.line('memcpy(&xb, &x, sizeof xb);');
    w.line('memcpy(&lb, &lo, sizeof lb);');
    w.line('keep = 0u - (uint32_t)(x >= lo);');
    w.line('xb = (xb & keep) | (lb & ~keep);');
    w.line('memcpy(&xc, &xb, sizeof xc);');
    w.line(`n = (xc * ${F(E.log2e)} + ${F(E.round)}) - ${F(E.round)};`);
    w.line(`r = (xc - n * ${F(E.ln2Hi)}) - n * ${F(E.ln2Lo)};`);
    w.line(`p = ${F(E.poly[0]!)};`);
    for (const c of E.poly.slice(1)) w.line(`p = p * r + ${F(c)};`);
    w.line(
      'b = (int32_t)((uint32_t)((int32_t)n + 127) << 23); /* 2^n, n in [-126, 0]: a shift, not a vector multiply */',
    );
    w.line('b = x < lo ? 0 : b; /* below lo: 0 (p * +0) */');
    w.line('memcpy(&s, &b, sizeof s);');
    w.line('return p * s;');
  });
  w.line();
}

function emitLevelTables(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const perLevelInput = L.plan.input !== 'concat';
  const needOffsets = perLevelInput || L.levelK > 0;
  if (!needOffsets) return;
  const N = L.names;
  w.comment('Anchor levels: level l owns anchors level_offset[l] .. level_offset[l + 1] - 1.');
  w.line(
    `static const uint32_t ${loc.level_offset}[${N.numLevels} + 1u] = { ${[...L.levels.map((l) => l.offset), L.numAnchors].map((v) => `${v}u`).join(', ')} };`,
  );
  if (perLevelInput) {
    w.line(`static const uint32_t ${loc.level_h}[${N.numLevels}] = { ${L.levels.map((l) => `${l.h}u`).join(', ')} };`);
    w.line(`static const uint32_t ${loc.level_w}[${N.numLevels}] = { ${L.levels.map((l) => `${l.w}u`).join(', ')} };`);
    w.line(`static const uint32_t ${loc.level_a}[${N.numLevels}] = { ${L.levels.map((l) => `${l.a}u`).join(', ')} };`);
  }
  w.line();
}

/**
 * --anchors runtime: anchor_at(n, c) instead of the table. Per level the map width, anchors per location, first base
 * anchor and stride; the kept base anchors as doubles (exact literals). The arithmetic is the table's, operation for
 * operation (src/anchors/runtime.ts runtimeCenters), so c is the table row bit for bit.
 */
function emitRuntimeAnchors(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const r = L.runtimeAnchors!;
  const enc = r.encoding;
  const [nw, nh] = enc.normalizeBy ?? [1, 1];
  const dbl = (v: number, what: string): string => {
    if (!Number.isFinite(v))
      throw new PrunedetError('E_POSTPROCESS', `--anchors runtime: ${what} is ${v}`, 'use --anchors table');
    const s = String(v);
    return /[.e]/.test(s) ? s : `${s}.0`;
  };
  const firsts: number[] = [];
  let nb = 0;
  for (const l of r.levels) {
    firsts.push(nb);
    nb += l.base.length;
  }
  w.comment(
    'Anchors generated on demand (--anchors runtime), bit for bit the rows a compiled-in table would hold: per level',
    '(offset, map width, anchors per location, first base anchor), the stride (x, y) and the kept base anchors (x1, y1,',
    'x2, y2 pixels) in double. x1 = (float)(base + x * stride) in double, as the generator does; then',
    enc.format === 'cxcywh'
      ? `cx = (x1 + x2) / 2, w = x2 - x1 in double${enc.normalizeBy ? `, over the image (${nw} x ${nh})` : ''}${enc.clamp ? ', clamped to [0, 1]' : ''}, rounded to float once.`
      : `w = x2 - x1, cx = x1 + 0.5f * w in float${enc.normalizeBy ? ` (x1.. over the image ${nw} x ${nh} first)` : ''}.`,
  );
  w.line(
    `static const uint32_t ${loc.anchor_level}[${L.names.numLevels}][4] = { ${L.levels.map((l, i) => `{ ${l.offset}u, ${l.w}u, ${l.a}u, ${firsts[i]}u }`).join(', ')} };`,
  );
  w.line(
    `static const double ${loc.anchor_stride}[${L.names.numLevels}][2] = { ${r.levels.map((l, i) => `{ ${dbl(l.stride[0], `level ${i} stride`)}, ${dbl(l.stride[1], `level ${i} stride`)} }`).join(', ')} };`,
  );
  w.line(`static const double ${loc.anchor_base}[${Math.max(nb, 1)}][4] = {`);
  w.indent();
  r.levels.forEach((l, i) =>
    l.base.forEach((b, k) =>
      w.line(`{ ${b.map((v) => dbl(v, `level ${i} base anchor ${k}`)).join(', ')} }, /* level ${i} */`),
    ),
  );
  w.dedent();
  w.line('};');
  const clamp = (v: string) => (enc.clamp ? `(${v} <= 0.0 ? 0.0 : (${v} >= 1.0 ? 1.0 : ${v}))` : v);
  const over = (v: string, n: number) => (enc.normalizeBy ? `${v} / ${dbl(n, 'image size')}` : v);
  w.block(`static void ${loc.anchor_at}(uint32_t n, float *c)`, () => {
    w.line(`uint32_t l = 0u, p, cell, k;`);
    w.line('double dx, dy, v;');
    w.line('float x1, y1, x2, y2;');
    w.line(`while (l + 1u < ${L.names.numLevels} && n >= ${loc.anchor_level}[l + 1u][0]) ++l;`);
    w.line(`p = n - ${loc.anchor_level}[l][0];`);
    w.line(`cell = p / ${loc.anchor_level}[l][2];`);
    w.line(`k = ${loc.anchor_level}[l][3] + p % ${loc.anchor_level}[l][2];`);
    w.line(`dx = (double)(cell % ${loc.anchor_level}[l][1]) * ${loc.anchor_stride}[l][0];`);
    w.line(`dy = (double)(cell / ${loc.anchor_level}[l][1]) * ${loc.anchor_stride}[l][1];`);
    w.line(`x1 = (float)(${loc.anchor_base}[k][0] + dx);`);
    w.line(`y1 = (float)(${loc.anchor_base}[k][1] + dy);`);
    w.line(`x2 = (float)(${loc.anchor_base}[k][2] + dx);`);
    w.line(`y2 = (float)(${loc.anchor_base}[k][3] + dy);`);
    if (enc.format === 'cxcywh') {
      const put = (i: number, e: string, n: number) => {
        w.line(`v = ${over(`(${e})`, n)};`);
        w.line(`c[${i}] = (float)${clamp('v')};`);
      };
      put(0, '((double)x1 + (double)x2) / 2.0', nw);
      put(1, '((double)y1 + (double)y2) / 2.0', nh);
      put(2, '(double)x2 - (double)x1', nw);
      put(3, '(double)y2 - (double)y1', nh);
    } else {
      if (enc.normalizeBy || enc.clamp) {
        const put = (name: string, n: number) => {
          w.line(`v = ${over(`(double)${name}`, n)};`);
          w.line(`${name} = (float)${clamp('v')};`);
        };
        put('x1', nw);
        put('y1', nh);
        put('x2', nw);
        put('y2', nh);
      } else {
        w.line('(void)v;');
      }
      w.line('c[2] = x2 - x1;');
      w.line('c[3] = y2 - y1;');
      w.line('c[0] = x1 + 0.5f * c[2];');
      w.line('c[1] = y1 + 0.5f * c[3];');
    }
  });
  w.line();
}

function emitAnchorTable(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const c = L.centers;
  if (!c) return;
  if (L.runtimeAnchors) {
    emitRuntimeAnchors(w, L);
    return;
  }
  w.comment(
    `Anchors as center-size rows (cx, cy, w, h)${L.plan.spec.anchorFormat === 'xyxy' ? ", converted from the plan's xyxy rows in float (w = x2 - x1, cx = x1 + 0.5f*w)" : ''}.`,
    'Printed so that each literal reads back as exactly the same float.',
  );
  w.line(`static const float ${loc.anchors}[${L.names.numAnchors}][4] = {`);
  w.indent();
  L.levels.forEach((l, i) => {
    if (l.count === 0) {
      w.comment(`level ${i}: ${l.h}x${l.w} map, ${l.a} per location: no anchors`);
      return;
    }
    w.comment(`level ${i}: ${l.h}x${l.w} map, ${l.a} per location, anchors ${l.offset}..${l.offset + l.count - 1}`);
    for (let n = l.offset; n < l.offset + l.count; n++) {
      const v = [0, 1, 2, 3].map((j) => cFloat(c[n * 4 + j]!, `anchor ${n} value ${j}`));
      w.line(`{ ${v.join(', ')} },`);
    }
  });
  w.dedent();
  w.line('};');
  w.line();
}

/**
 * score_range() for softmax: the rows of one range (a level, or every anchor) in two rounds. A first pass stores every
 * row's bound u (row_bound) with its index and drops the rows the pool's reject bound excludes; then the `keep` rows
 * with the largest u are scored, the pool is tightened to its best `keep` (its bar now close to final), and each
 * remaining row is scored only if its u still beats the pool's bound. Top-k does not depend on the order in which
 * candidates arrive, so this only saves work: rows that cannot beat the bar never get their exponentials.
 */
/** Rows the softmax scan prefetches ahead of the one it tests. */
const AHEAD_ROWS = 8;

/** PD_PREFETCH of each 64-byte line a row of n elements at ptr may touch (one per line, and its last element). */
function emitPrefetchRow(w: CodeWriter, loc: LocalNames, ptr: string, n: number, bytes = 4): void {
  const step = 64 / bytes;
  for (let k = 0; k < n; k += step) w.line(k === 0 ? `${loc.PREFETCH}(${ptr});` : `${loc.PREFETCH}(${ptr} + ${k});`);
  if ((n - 1) % step !== 0) w.line(`${loc.PREFETCH}(${ptr} + ${n - 1});`);
}

function emitSoftmaxRange(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const C = L.numClasses;
  const concat = rowMajor(L.plan);
  const qp = L.quant.scores?.params;
  const T = elemType(qp);
  // float rows in one block are scored in place; strided or quantized rows are copied (dequantised) first
  const direct = concat && !qp;
  w.comment(
    "Softmax rows first_anchor .. first_anchor + count - 1 of one range, in two rounds: every row's bound first (rows the",
    "pool's bound excludes are dropped), then the pool's keep rows with the largest bound are scored, the pool is",
    "tightened to its best keep, and the other rows are scored only if their bound still beats its bar's. The result",
    'does not depend on the order (top-k), only the work does. order[] holds one key per row: ~bound, row index.',
    concat
      ? `Row q is base + q * C (${L.plan.input === 'concat' ? 'concatenated scores' : 'NHWC maps: the rows of a level are contiguous'}).`
      : 'Row q (position p = q / na, anchor a = q % na) is base + a * C * hw + p, stride hw (per-level maps).',
    ...(qp ? ['Quantized rows are dequantised into a float copy only when they pass the integer bound.'] : []),
  );
  w.block(
    `static ${loc.HOT} void ${loc.score_range}(const ${T} *base, size_t hw, uint32_t na, uint32_t first_anchor, uint32_t count, ${loc.pool_t} *pool, ${loc.cand_t} *order)`,
    () => {
      w.line(`const float *batch_row[${BATCH}];`);
      w.line(`uint32_t batch_anchor[${BATCH}], nb = 0u, nr = 0u, q, lead;`);
      if (!direct) {
        w.line(`float batch_copy[${BATCH}][${C}];`);
        w.line('uint32_t k;');
      }
      const row = (q: string) =>
        concat ? `base + (size_t)${q} * ${C}u` : `base + (size_t)(${q} % na) * ${C}u * hw + ${q} / na`;
      const S = concat ? '1u' : 'hw';
      if (concat) {
        w.line('(void)hw;');
        w.line('(void)na;');
      }
      w.comment("the rows that pass the pool's bound (branch-free)");
      w.block('for (q = 0u; q < count; ++q)', () => {
        if (concat) {
          w.comment(
            `the lines of the row ${AHEAD_ROWS} ahead (the last row near the end) arrive while this one is tested`,
          );
          w.line(`const ${T} *ahead = ${row(`(q + ${AHEAD_ROWS}u < count ? q + ${AHEAD_ROWS}u : count - 1u)`)};`);
          emitPrefetchRow(w, loc, 'ahead', C, elemBytes(qp));
        }
        w.line('order[nr] = q;');
        w.line(`nr += (uint32_t)!${loc.row_rejects}(${row('q')}, ${S}, pool->reject);`);
      });
      w.line('lead = nr;');
      w.block('if (nr > pool->keep)', () => {
        w.comment('more rows than the pool keeps candidates: their bounds decide the order');
        w.block('for (q = 0u; q < nr; ++q)', () => {
          w.line('const uint32_t r = (uint32_t)order[q];');
          w.line(`order[q] = ((${loc.cand_t})(0xffffffffu - ${loc.row_bound}(${row('r')}, ${S})) << 32) | r;`);
        });
        w.line(`(void)${loc.keep_best}(order, nr, pool->keep);`);
        w.line('lead = pool->keep;');
      });
      const add = () => {
        w.line('const uint32_t r = (uint32_t)order[q];');
        if (direct) {
          w.line(`batch_row[nb] = ${row('r')};`);
          emitPrefetchRow(w, loc, 'batch_row[nb]', C);
        } else {
          w.line(`const ${T} *src = ${row('r')};`);
          if (concat && qp) {
            // a contiguous quantized row: 16 values at a time (a scalar int-to-float loop stalls on each conversion)
            emitRowLoop(w, C, 'k', (k) => `batch_copy[nb][${k}] = ${valueOf(qp, `src[${k}]`)};`);
          } else {
            w.line(
              `for (k = 0u; k < ${C}u; ++k) batch_copy[nb][k] = ${valueOf(qp, concat ? 'src[k]' : 'src[k * hw]')};`,
            );
          }
          w.line('batch_row[nb] = batch_copy[nb];');
        }
        w.line('batch_anchor[nb] = first_anchor + r;');
        w.block(`if (++nb == ${BATCH}u)`, () => {
          w.line(`${loc.score_batch}(batch_row, batch_anchor, nb, pool);`);
          w.line('nb = 0u;');
        });
      };
      const flush = () => {
        w.block('if (nb > 0u)', () => {
          w.line(`${loc.score_batch}(batch_row, batch_anchor, nb, pool);`);
          w.line('nb = 0u;');
        });
      };
      w.block('for (q = 0u; q < lead; ++q)', add);
      flush();
      w.block('if (lead < nr)', () => {
        w.line(`${loc.pool_finish}(pool);`);
        w.block('for (q = lead; q < nr; ++q)', () => {
          w.line(`if (!(0xffffffffu - (uint32_t)(order[q] >> 32) > ${rejectKey(L, 'pool->reject')})) continue;`);
          w.block('', add);
        });
        flush();
      });
    },
  );
  w.line();
}

/**
 * score_range() for sigmoid and probability scores: the rows of one range behind their block reject (concatenated
 * input) or one by one (per-level maps), into a pool. The same signature as the softmax one, so the run function
 * calls either alike; it is a function of its own so that the hot loop can be cloned for wider SIMD (PD_HOT).
 */
function emitPlainRange(w: CodeWriter, L: PlanLayout): void {
  if (L.plan.input === 'yolo') return emitYoloRange(w, L);
  const loc = L.names.local;
  const C = L.numClasses;
  const concat = rowMajor(L.plan);
  const qp = L.quant.scores;
  const bound =
    L.plan.spec.scores === 'sigmoid'
      ? 'pool->reject'
      : qp
        ? `${qp.bounds[0]}`
        : cFloat(L.scoreThreshold, 'score threshold');
  const T = elemType(qp?.params);
  w.comment(
    'Rows first_anchor .. first_anchor + count - 1 of one range into the pool:',
    concat
      ? 'whole blocks of BLOCK_ROWS rows first (one vectorized test rejects a block without a candidate), then the rest.'
      : 'row q is base + (q % na) * C * hw + q / na (per-level maps, stride hw).',
  );
  w.block(
    `static ${loc.HOT} void ${loc.score_range}(const ${T} *base, size_t hw, uint32_t na, uint32_t first_anchor, uint32_t count, ${loc.pool_t} *pool, ${loc.cand_t} *order)`,
    () => {
      w.line('uint32_t q = 0u;');
      w.line('(void)order;');
      if (concat) {
        w.line('(void)hw;');
        w.line('(void)na;');
        w.block(`for (; q + ${loc.BLOCK_ROWS} <= count; q += ${loc.BLOCK_ROWS})`, () => {
          w.line('uint32_t r;');
          w.comment("the next block's lines arrive while this one is tested");
          w.block(`if (q + 2u * ${loc.BLOCK_ROWS} <= count)`, () => {
            w.line(`const ${T} *ahead = base + (size_t)(q + ${loc.BLOCK_ROWS}) * ${C}u;`);
            w.line(
              `for (r = 0u; r < ${loc.BLOCK_ROWS} * ${C}u; r += ${64 / elemBytes(qp?.params)}u) ${loc.PREFETCH}(ahead + r);`,
            );
          });
          w.line(`if (${loc.block_rejects}(base + (size_t)q * ${C}u, ${bound})) continue;`);
          w.line(
            `for (r = 0u; r < ${loc.BLOCK_ROWS}; ++r) ${loc.score_anchor}(base + (size_t)(q + r) * ${C}u, 1u, first_anchor + q + r, pool);`,
          );
        });
        w.line(`for (; q < count; ++q) ${loc.score_anchor}(base + (size_t)q * ${C}u, 1u, first_anchor + q, pool);`);
        return;
      }
      w.line(
        `for (; q < count; ++q) ${loc.score_anchor}(base + (size_t)(q % na) * ${C}u * hw + q / na, hw, first_anchor + q, pool);`,
      );
    },
  );
  w.line();
}

/** The streaming pass: every anchor behind its fast reject, into the level pool or the candidate pool. */
function emitStream(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const C = `${L.numClasses}u`;
  const perLevelPool = L.levelK > 0;
  const pool = perLevelPool ? '&lp' : '&cp';
  const order = L.workspace.orderRows > 0 ? 'order' : 'NULL';
  const levelStart = () => {
    if (perLevelPool) w.line(`${loc.pool_reset}(&lp);`);
  };
  const levelEnd = () => {
    if (!perLevelPool) return;
    w.line(`${loc.pool_finish}(&lp);`);
    w.line(`for (i = 0u; i < lp.n; ++i) ${loc.pool_offer}(&cp, lp.buf[i]);`);
  };
  if (L.plan.input === 'yolo') return emitYoloStream(w, L, pool, levelStart, levelEnd);
  if (L.plan.input === 'concat') {
    if (!perLevelPool) {
      w.line(`${loc.score_range}(scores, 0u, 0u, 0u, ${L.names.numAnchors}, &cp, ${order});`);
      return;
    }
    w.block(`for (l = 0u; l < ${L.names.numLevels}; ++l)`, () => {
      levelStart();
      w.line(
        `${loc.score_range}(scores + (size_t)${loc.level_offset}[l] * ${C}, 0u, 0u, ${loc.level_offset}[l], ${loc.level_offset}[l + 1u] - ${loc.level_offset}[l], ${pool}, ${order});`,
      );
      levelEnd();
    });
    return;
  }
  w.comment(
    'anchor n = offset + (y * W + x) * A + a; position p = y * W + x; class k of anchor a is channel a * C + k',
  );
  w.block(`for (l = 0u; l < ${L.names.numLevels}; ++l)`, () => {
    levelStart();
    w.line(
      `${loc.score_range}(cls[l], (size_t)${loc.level_h}[l] * ${loc.level_w}[l], ${loc.level_a}[l], ${loc.level_offset}[l], ${loc.level_offset}[l + 1u] - ${loc.level_offset}[l], ${pool}, ${order});`,
    );
    levelEnd();
  });
}

function emitRun(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const N = L.names;
  const ws = L.workspace;
  w.block(`size_t ${N.workspaceSize}(void)`, () => w.line(`return ${N.workspaceMacro};`));
  w.line();
  if (L.levelK > 0) {
    w.line(`#define ${loc.LEVEL_K} ${L.levelK}u`);
    w.line();
  }
  const [head, args, last] = runSignature(L);
  w.line(head);
  w.line(args);
  w.block(last, () => {
    w.line(`${loc.pool_t} cp;`);
    if (L.levelK > 0) w.line(`${loc.pool_t} lp;`);
    if (ws.orderRows > 0) w.line(`${loc.cand_t} *order;`);
    w.line('float *kb;');
    w.line(L.nmsScan === 'scan' ? 'uint32_t *klab;' : 'uint32_t *head, *next;');
    w.line('char *base;');
    if (L.levelK > 0) w.line('uint32_t i;');
    if (L.plan.input !== 'concat' || L.levelK > 0) w.line('uint32_t l;');
    w.line();
    w.comment('Argument checks come first: nothing is read or written before they pass.');
    w.line(`if (count == NULL) return ${N.errArg};`);
    w.line('*count = 0u;');
    if (L.plan.input === 'concat') {
      w.line(
        `if (scores == NULL || boxes == NULL || detections == NULL || capacity < ${N.maxDetections}) return ${N.errArg};`,
      );
    } else if (L.plan.input === 'yolo') {
      w.line(`if (rows == NULL || detections == NULL || capacity < ${N.maxDetections}) return ${N.errArg};`);
      w.line(`for (l = 0u; l < ${N.numLevels}; ++l)`);
      w.line(`    if (${loc.level_offset}[l + 1u] > ${loc.level_offset}[l] && rows[l] == NULL) return ${N.errArg};`);
    } else {
      w.line(
        `if (cls == NULL || reg == NULL || detections == NULL || capacity < ${N.maxDetections}) return ${N.errArg};`,
      );
      w.line(`for (l = 0u; l < ${N.numLevels}; ++l)`);
      w.line(
        `    if (${loc.level_offset}[l + 1u] > ${loc.level_offset}[l] && (cls[l] == NULL || reg[l] == NULL)) return ${N.errArg};`,
      );
    }
    w.line(
      `if (workspace == NULL || workspace_size < ${N.workspaceMacro} || ((uintptr_t)workspace & 3u) != 0u) return ${N.errWorkspace};`,
    );
    w.line();
    w.comment(
      `Workspace regions (bytes, after aligning to 8): candidate pool at 0${L.levelK > 0 ? `, level pool at ${ws.levelPoolOffset}` : ''}${ws.orderRows > 0 ? `, row order at ${ws.orderOffset}` : ''}, kept boxes at ${ws.keptOffset}, ${L.nmsScan === 'scan' ? 'their labels' : 'label heads and links'} at ${ws.nmsOffset}.`,
    );
    w.line('base = (char *)workspace + ((uintptr_t)workspace & 4u);');
    w.line(`cp.buf = (${loc.cand_t} *)(void *)base;`);
    w.line(`cp.keep = ${N.candidateCap};`);
    w.line(`${loc.pool_reset}(&cp);`);
    if (L.levelK > 0) {
      w.line(`lp.buf = (${loc.cand_t} *)(void *)(base + ${ws.levelPoolOffset}u);`);
      w.line(`lp.keep = ${loc.LEVEL_K};`);
    }
    if (ws.orderRows > 0) w.line(`order = (${loc.cand_t} *)(void *)(base + ${ws.orderOffset}u);`);
    w.line(`kb = (float *)(void *)(base + ${ws.keptOffset}u);`);
    if (L.nmsScan === 'scan') {
      w.line(`klab = (uint32_t *)(void *)(base + ${ws.nmsOffset}u);`);
    } else {
      w.line(`head = (uint32_t *)(void *)(base + ${ws.nmsOffset}u);`);
      w.line(`next = head + ${L.numLabels}u;`);
    }
    w.line();
    w.comment('1. One streaming pass: filter scores, keep the best candidates (nothing decoded yet).');
    emitStream(w, L);
    w.line(`${loc.pool_finish}(&cp);`);
    w.line();
    w.comment('2. NMS in rank order, decoding each candidate when it is reached; output in rank order.');
    const inArg = inputArg(L);
    w.line(
      `*count = ${loc.nms}(cp.buf, cp.n, ${inArg}, kb, ${L.nmsScan === 'scan' ? 'klab' : 'head, next'}, detections);`,
    );
    w.line(`return ${N.ok};`);
  });
}

/** #undef every private macro, so that code after this module in one translation unit sees none of them. */
function emitUndefs(w: CodeWriter, L: PlanLayout): void {
  w.line();
  w.comment("The module's private macros end here (several modules can share one translation unit).");
  for (const m of LOCAL_MACROS) w.line(`#undef ${L.names.local[m]}`);
}

/** The text of postprocess.c. */
export function emitSource(L: PlanLayout): string {
  const w = new CodeWriter();
  emitPrologue(w, L);
  emitLevelTables(w, L);
  emitAnchorTable(w, L);
  emitYoloTables(w, L);
  emitCandidates(w, L);
  emitScoreFilter(w, L);
  if (L.plan.spec.scores === 'softmax') emitSoftmaxRange(w, L);
  else emitPlainRange(w, L);
  emitDecode(w, L);
  emitNms(w, L);
  emitRun(w, L);
  emitUndefs(w, L);
  return w.toString();
}
