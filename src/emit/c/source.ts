// postprocess.c: constant tables (anchors, levels) and the run function that streams over the anchors and calls the
// stages from stages.ts. One emitX(writer, layout) per section, called in order by emitSource.
import { bannerText } from './banner';
import { cFloat } from './floats';
import { EXP_CONST } from '../../postprocess/float32';
import { runSignature } from './header';
import type { PlanLayout } from './plan';
import { emitDecode, emitHeap, emitNms, emitScoreFilter } from './stages';
import { CodeWriter } from './writer';

function emitPrologue(w: CodeWriter, L: PlanLayout): void {
  w.line(`/* ${bannerText(L.plan)} */`);
  w.comment(
    'Every value is computed in float, operation by operation as in prunedet\'s reference (src/postprocess/',
    'reference.ts); compile without -ffast-math and with -ffp-contract=off to get its results exactly. No allocation,',
    'no stdio, no writable globals: all state lives in the caller\'s workspace.',
  );
  w.line('#include "postprocess.h"');
  w.line();
  w.line('#include <float.h>');
  w.line('#include <math.h>');
  w.line('#include <string.h>');
  w.line();
  w.line('#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0');
  w.line('#error "prunedet post-processing needs float arithmetic evaluated in float (FLT_EVAL_METHOD 0, e.g. SSE or ARM, not x87)"');
  w.line('#endif');
  w.line();
  const spec = L.plan.spec;
  if (spec.decoder.type !== 'none' || spec.scores !== 'probabilities') emitExp(w);
  if (spec.scores === 'softmax' && L.numClasses >= 4) emitExpRow(w, L.numClasses - (L.numClasses % 4));
}

/** pd_expf: the reference's float exp (src/postprocess/float32.ts expF), operation for operation. */
function emitExp(w: CodeWriter): void {
  const E = EXP_CONST;
  const F = (x: number) => cFloat(x, 'exp constant');
  w.comment(
    'exp in float, identical to prunedet\'s reference (not libm\'s expf, so results do not depend on the target\'s libm):',
    'x = n*ln2 + r, e^r by Horner on the degree-7 Taylor polynomial, times 2^n as two exact power-of-two factors.',
    'Within 1.2 ulp of the true exp; 0 below -87.33654, +Inf above 88.72284, NaN for NaN. Only float operations and',
    'selects, so loops calling it vectorize.',
  );
  w.block('static float pd_expf(float x)', () => {
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
 * pd_expf on a row of `n` values (n = the score columns rounded down to a multiple of 4), one stage at a time over
 * the whole row: every stage is a loop of independent iterations with a constant count, so compilers vectorize each
 * one (also at -O2) and the polynomial's latency overlaps across columns. Value by value the operations are
 * pd_expf's: the results are identical.
 */
function emitExpRow(w: CodeWriter, n: number): void {
  const E = EXP_CONST;
  const F = (x: number) => cFloat(x, 'exp constant');
  w.comment(`pd_expf of v[0..${n - 1}] into out[0..${n - 1}], stage by stage so that it vectorizes; results equal pd_expf's.`);
  w.block('static void pd_expf_row(const float *v, float *out)', () => {
    w.line(`float xc[${n}], nn[${n}], r[${n}], s1[${n}], s2[${n}];`);
    w.line(`uint32_t b1[${n}], b2[${n}];`);
    w.line('int i;');
    const loop = (body: string) => w.line(`for (i = 0; i < ${n}; ++i) ${body}`);
    loop(`xc[i] = v[i] >= ${F(E.lo)} ? (v[i] <= ${F(E.hi)} ? v[i] : ${F(E.hi)}) : ${F(E.lo)};`);
    loop(`nn[i] = (xc[i] * ${F(E.log2e)} + ${F(E.round)}) - ${F(E.round)};`);
    loop(`r[i] = (xc[i] - nn[i] * ${F(E.ln2Hi)}) - nn[i] * ${F(E.ln2Lo)};`);
    loop(`out[i] = ${F(E.poly[0]!)};`);
    for (const c of E.poly.slice(1)) loop(`out[i] = out[i] * r[i] + ${F(c)};`);
    loop('{ const int32_t h = (int32_t)nn[i] / 2; b1[i] = (uint32_t)(h + 127) << 23; b2[i] = (uint32_t)((int32_t)nn[i] - h + 127) << 23; }');
    w.line('memcpy(s1, b1, sizeof s1);');
    w.line('memcpy(s2, b2, sizeof s2);');
    // one select per statement (each vectorizes as a compare and a blend): the order gives pd_expf's precedence
    loop('out[i] = (out[i] * s1[i]) * s2[i];');
    loop(`out[i] = v[i] < ${F(E.lo)} ? 0.0f : out[i];`);
    loop(`out[i] = v[i] > ${F(E.hi)} ? INFINITY : out[i];`);
    loop('out[i] = v[i] != v[i] ? v[i] : out[i];');
  });
  w.line();
}

function emitLevelTables(w: CodeWriter, L: PlanLayout): void {
  const perLevelInput = L.plan.input === 'per-level';
  const needOffsets = perLevelInput || L.levelK > 0;
  if (!needOffsets) return;
  const N = L.names;
  w.comment('Anchor levels: level l owns anchors level_offset[l] .. level_offset[l + 1] - 1.');
  w.line(`static const uint32_t level_offset[${N.numLevels} + 1u] = { ${[...L.levels.map((l) => l.offset), L.numAnchors].map((v) => `${v}u`).join(', ')} };`);
  if (perLevelInput) {
    w.line(`static const uint32_t level_h[${N.numLevels}] = { ${L.levels.map((l) => `${l.h}u`).join(', ')} };`);
    w.line(`static const uint32_t level_w[${N.numLevels}] = { ${L.levels.map((l) => `${l.w}u`).join(', ')} };`);
    w.line(`static const uint32_t level_a[${N.numLevels}] = { ${L.levels.map((l) => `${l.a}u`).join(', ')} };`);
  }
  w.line();
}

function emitAnchorTable(w: CodeWriter, L: PlanLayout): void {
  const c = L.centers;
  if (!c) return;
  w.comment(
    `Anchors as center-size rows (cx, cy, w, h)${L.plan.spec.anchorFormat === 'xyxy' ? ', converted from the plan\'s xyxy rows in float (w = x2 - x1, cx = x1 + 0.5f*w)' : ''}.`,
    'Printed so that each literal reads back as exactly the same float.',
  );
  w.line(`static const float anchors[${L.names.numAnchors}][4] = {`);
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

/** The streaming pass: score_anchor for every anchor, into the level heap (per-level top-k) or the candidate heap. */
function emitStream(w: CodeWriter, L: PlanLayout): void {
  const C = `${L.numClasses}u`;
  const perLevelHeap = L.levelK > 0;
  const heap = perLevelHeap ? 'level_heap, &level_n, LEVEL_K' : 'cand, &ncand, CAP';
  // softmax with a background column: most anchors are rejected by one vectorized pass before score_anchor
  const pre = L.plan.spec.scores === 'softmax' && L.backgroundColumn >= 0;
  const call = (row: string, stride: string, anchor: string) =>
    pre ? `if (!background_rejects(${row}, ${stride})) score_anchor(${row}, ${stride}, ${anchor}, ${heap});` : `score_anchor(${row}, ${stride}, ${anchor}, ${heap});`;
  const merge = () => {
    if (perLevelHeap) w.line('for (i = 0u; i < level_n; ++i) heap_offer(cand, &ncand, CAP, &level_heap[i]);');
  };
  if (L.plan.input === 'concat') {
    if (!perLevelHeap) {
      w.block(`for (i = 0u; i < ${L.names.numAnchors}; ++i)`, () => {
        w.line(`const float *row = scores + (size_t)i * ${C};`);
        w.line(call('row', '1u', 'i'));
      });
      return;
    }
    w.block(`for (l = 0u; l < ${L.names.numLevels}; ++l)`, () => {
      w.line('uint32_t level_n = 0u;');
      w.block('for (i = level_offset[l]; i < level_offset[l + 1u]; ++i)', () => {
        w.line(`const float *row = scores + (size_t)i * ${C};`);
        w.line(call('row', '1u', 'i'));
      });
      merge();
    });
    return;
  }
  w.block(`for (l = 0u; l < ${L.names.numLevels}; ++l)`, () => {
    w.line('const size_t hw = (size_t)level_h[l] * level_w[l];');
    w.line('const uint32_t na = level_a[l];');
    w.line('uint32_t p, a;');
    if (perLevelHeap) w.line('uint32_t level_n = 0u;');
    w.comment('anchor n = offset + (y * W + x) * A + a; position p = y * W + x; class k of anchor a is channel a * C + k');
    w.block('for (p = 0u; p < hw; ++p)', () => {
      w.block('for (a = 0u; a < na; ++a)', () => {
        w.line(`const float *row = cls[l] + (size_t)a * ${C} * hw + p;`);
        w.line(call('row', 'hw', 'level_offset[l] + p * na + a'));
      });
    });
    merge();
  });
}

function emitDecodeLoop(w: CodeWriter, L: PlanLayout): void {
  const anchorArg = L.centers ? ', anchors[cand[i].anchor]' : '';
  if (L.plan.input === 'concat') {
    w.line(`for (i = 0u; i < ncand; ++i) decode_box(boxes + (size_t)cand[i].anchor * 4u, 1u${anchorArg}, decoded + 4u * (size_t)i);`);
    return;
  }
  w.block('for (i = 0u; i < ncand; ++i)', () => {
    w.line('const uint32_t n = cand[i].anchor;');
    w.line('size_t hw;');
    w.line('uint32_t p;');
    w.line('l = 0u;');
    w.line('while (n >= level_offset[l + 1u]) ++l;');
    w.line('hw = (size_t)level_h[l] * level_w[l];');
    w.line('p = n - level_offset[l];');
    w.line(`decode_box(reg[l] + (size_t)(p % level_a[l]) * 4u * hw + p / level_a[l], hw${anchorArg}, decoded + 4u * (size_t)i);`);
  });
}

function emitRun(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  const ws = L.workspace;
  w.block(`size_t ${N.workspaceSize}(void)`, () => w.line(`return ${N.workspaceMacro};`));
  w.line();
  w.line(`#define CAP ${L.cap}u`);
  if (L.levelK > 0) w.line(`#define LEVEL_K ${L.levelK}u`);
  w.line();
  const [head, args, last] = runSignature(L);
  w.line(head);
  w.line(args);
  w.block(last, () => {
    w.line('cand_t *cand;');
    if (L.levelK > 0) w.line('cand_t *level_heap;');
    w.line('float *decoded;');
    w.line('uint8_t *removed;');
    w.line('uint32_t ncand = 0u, i;');
    if (L.plan.input === 'per-level' || L.levelK > 0) w.line('uint32_t l;');
    w.line();
    w.comment('Argument checks come first: nothing is read or written before they pass.');
    w.line(`if (count == NULL) return ${N.errArg};`);
    w.line('*count = 0u;');
    if (L.plan.input === 'concat') {
      w.line(`if (scores == NULL || boxes == NULL || detections == NULL || capacity < ${N.maxDetections}) return ${N.errArg};`);
    } else {
      w.line(`if (cls == NULL || reg == NULL || detections == NULL || capacity < ${N.maxDetections}) return ${N.errArg};`);
      w.line(`for (l = 0u; l < ${N.numLevels}; ++l)`);
      w.line(`    if (level_offset[l + 1u] > level_offset[l] && (cls[l] == NULL || reg[l] == NULL)) return ${N.errArg};`);
    }
    w.line(`if (workspace == NULL || workspace_size < ${N.workspaceMacro} || ((uintptr_t)workspace & 3u) != 0u) return ${N.errWorkspace};`);
    w.line();
    w.comment(`Workspace regions (bytes): candidates at 0${L.levelK > 0 ? `, level heap at ${ws.levelHeapOffset}` : ''}, boxes at ${ws.boxesOffset}, NMS flags at ${ws.flagsOffset}.`);
    w.line('cand = (cand_t *)workspace;');
    if (L.levelK > 0) {
      w.line('level_heap = cand + CAP;');
      w.line('decoded = (float *)(void *)(level_heap + LEVEL_K);');
    } else {
      w.line('decoded = (float *)(void *)(cand + CAP);');
    }
    w.line('removed = (uint8_t *)(void *)(decoded + 4u * CAP);');
    w.line();
    w.comment('1. One streaming pass: filter scores, keep the top candidates (nothing decoded yet).');
    emitStream(w, L);
    w.line();
    w.comment('2. Rank order, then decode only the kept candidates.');
    w.line('heap_sort(cand, ncand);');
    emitDecodeLoop(w, L);
    w.line();
    w.comment('3. NMS, output in rank order.');
    w.line('*count = nms(cand, decoded, removed, ncand, detections);');
    w.line(`return ${N.ok};`);
  });
}

/** The text of postprocess.c. */
export function emitSource(L: PlanLayout): string {
  const w = new CodeWriter();
  emitPrologue(w, L);
  emitLevelTables(w, L);
  emitAnchorTable(w, L);
  emitHeap(w);
  emitScoreFilter(w, L);
  emitDecode(w, L);
  emitNms(w, L);
  emitRun(w, L);
  return w.toString();
}
