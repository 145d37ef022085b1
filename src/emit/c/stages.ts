// The static stage functions of postprocess.c: candidate keys and the bounded candidate pools (top-k by radix select),
// the score filter (one variant per score mode, with vectorizable fast rejects), decode (one row of transforms per
// decoder), IoU and NMS. Each mirrors a step of src/postprocess/reference.ts so that the two agree exactly; the
// comments state the semantics the C reader needs.
import { emitObjectnessFilter, emitYoloDecode } from './yolo';
import type { Decoder } from '../../postprocess/spec';
import { cFloat, cFloatOrInf } from './floats';
import { addU, divU, emitFilterFor, emitForLine, loopUsesIndex, modU, mulU, u } from './expr';
import type { LocalNames } from './names';
import { rowMajor, type PlanLayout } from './plan';
import type { CodeWriter } from './writer';
import { DIFF_KEY, elemType, intOf, valueOf } from './quant';
import { quantRange } from '../../postprocess/quant';

/** The type of a pool's reject bound: a float logit/margin, or its integer form for quantized scores. */
export function rejectType(L: PlanLayout): string {
  return L.quant.scores ? 'int32_t' : 'float';
}

/** An order-preserving unsigned key of a reject bound expression (compared with row_bound's keys). */
export function rejectKey(L: PlanLayout, e: string): string {
  return L.quant.scores ? `(uint32_t)(${e} + ${DIFF_KEY})` : `${L.names.local.float_key}(${e})`;
}

/** Elements of the vector loops: a multiple of 16 (every SIMD width up to 512 bits) so that gcc -O2 vectorizes them. */
export const VEC = 16;

/** [n rounded down to a multiple of VEC, n]: the vector part and the end of a loop over n elements. */
export function vecSplit(n: number): [number, number] {
  return [n - (n % VEC), n];
}

/**
 * A loop over `n` elements as gcc -O2 (cost model "very-cheap") vectorizes it: the first 16·floor(n/16) iterations
 * with a constant count, then the rest. `body(j)` is the statement for index variable `j`.
 */
export function emitRowLoop(w: CodeWriter, n: number, j: string, body: (j: string) => string): void {
  const [main] = vecSplit(n);
  if (main > 0) w.line(`for (${j} = 0u; ${j} < ${main}u; ++${j}) ${body(j)}`);
  emitForLine(w, j, main, n, body);
}

/** Whether emitRowLoop over n elements uses its index variable (not for a single element). */
export function rowLoopUsesIndex(n: number): boolean {
  const [main] = vecSplit(n);
  return main > 0 || loopUsesIndex(main, n);
}

/** Whether emitMaskScan over k labels uses the caller's `j`. */
function maskScanUsesIndex(k: number): boolean {
  const [main] = vecSplit(k);
  return main > 0 || loopUsesIndex(main, k);
}

/**
 * Visit the labels j in [0, k) whose cheap test `cond(j)` holds, running `exact(j)` for each: per group of 16 labels a
 * bit mask is built by a branch-free loop (it vectorizes), then only its set bits are visited; labels past the last
 * whole group are tested one by one. Declares its own variables; `j` must be declared by the caller.
 */
export function emitMaskScan(
  w: CodeWriter,
  loc: LocalNames,
  k: number,
  cond: (j: string) => string,
  exact: (j: string) => void,
): void {
  const [main] = vecSplit(k);
  if (main > 0) {
    w.block('', () => {
      w.line('uint32_t q, any = 0u;');
      w.comment('one reduction tells whether any label passes; a row without one skips the masks');
      w.line(`for (q = 0u; q < ${main}u; ++q) any |= (uint32_t)(${cond('q')});`);
      w.block('if (any != 0u)', () => {
        // words of up to 64 labels (four 16-label groups): one loop over a word's set bits, not one per group
        for (let g = 0; g < main; g += 64) {
          w.block('', () => {
            w.line('uint64_t word = 0u;');
            for (let h = 0; h < 64 && g + h < main; h += 16) {
              w.block('', () => {
                w.line('uint32_t bits = 0u;');
                w.line(
                  `for (q = 0u; q < 16u; ++q) bits |= ${loc.bit16}[q] & (0u - (uint32_t)(${cond(addU(u(g + h), 'q'))}));`,
                );
                w.line(h === 0 ? 'word = bits;' : `word |= (uint64_t)bits << ${h};`);
              });
            }
            w.block('while (word != 0u)', () => {
              w.line(`j = ${g === 0 ? '' : `${g}u + `}${loc.LOWEST_BIT64}(word);`);
              w.line('word &= word - 1u;');
              exact('j');
            });
          });
        }
      });
    });
  }
  emitFilterFor(w, 'j', main, k, cond, exact);
}

/** Candidate keys, the pools that keep the best of them (radix select) and the heap NMS pops them from. */
export function emitCandidates(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const bar = L.bar.score.length > 0;
  w.comment(
    "A candidate, one (anchor, label) pair whose score passed the threshold, as one 64-bit rank key: the score's bits",
    'inverted in the high half (scores are > 0, so a higher score has a smaller key) and the pair index',
    'anchor * NUM_LABELS + label in the low half. Ascending keys are the rank order: score descending, then anchor',
    'ascending, then label ascending (a total order: keys are distinct).',
  );
  w.line(`typedef uint64_t ${loc.cand_t};`);
  w.line(`#define ${loc.NO_CAND} UINT64_MAX`);
  w.line();
  w.block(`static ${loc.cand_t} ${loc.cand_key}(float score, uint32_t pair)`, () => {
    w.line('uint32_t bits;');
    w.line('memcpy(&bits, &score, sizeof bits);');
    w.line(`return ((${loc.cand_t})(0xffffffffu - bits) << 32) | pair;`);
  });
  w.line();
  w.block(`static float ${loc.cand_score}(${loc.cand_t} c)`, () => {
    w.line('const uint32_t bits = 0xffffffffu - (uint32_t)(c >> 32);');
    w.line('float score;');
    w.line('memcpy(&score, &bits, sizeof score);');
    w.line('return score;');
  });
  w.line();
  w.comment(
    'Order-preserving integer key of a float (-Inf lowest, +Inf highest; a NaN beyond one of them, by its sign).',
  );
  w.block(`static inline uint32_t ${loc.float_key}(float x)`, () => {
    w.line('uint32_t u;');
    w.line('memcpy(&u, &x, sizeof u);');
    w.line('return u ^ ((u >> 31) ? 0xffffffffu : 0x80000000u);');
  });
  w.line();
  w.comment(
    'Move the k smallest keys of a[0..n-1] (0 < k < n, keys distinct) to a[0..k-1], in no particular order, and',
    'return the largest of them. MSD radix select, 8 bits per pass: each pass counts the digits of the undecided',
    "keys, keeps those below the digit that holds the k-th key, drops those above it and goes on with that digit's",
    'keys only. At most 8 passes over shrinking ranges: O(n), no recursion, 1 KiB of stack.',
  );
  w.block(`static ${loc.cand_t} ${loc.keep_best}(${loc.cand_t} *a, uint32_t n, uint32_t k)`, () => {
    w.line('uint32_t lo = 0u, hi = n, i, d;');
    w.line('uint32_t count[256];');
    w.line('int shift;');
    w.line(`${loc.cand_t} bar = 0u;`);
    w.block('for (shift = 56; shift >= 0 && lo < k; shift -= 8)', () => {
      w.line('uint32_t need = k - lo, w;');
      w.line('for (d = 0u; d < 256u; ++d) count[d] = 0u;');
      w.line('for (i = lo; i < hi; ++i) ++count[(uint32_t)(a[i] >> shift) & 255u];');
      w.line('for (d = 0u; need > count[d]; ++d) need -= count[d];');
      w.comment(
        'keys with a smaller digit are kept (moved to the front), those with digit d stay undecided; each partition',
        'swaps unconditionally and advances w by the comparison, so it has no data-dependent branch',
      );
      const partition = (from: string, test: string) =>
        w.block(`for (i = ${from}; i < hi; ++i)`, () => {
          w.line(`const ${loc.cand_t} t = a[i];`);
          w.line('a[i] = a[w];');
          w.line('a[w] = t;');
          w.line(`w += ((uint32_t)(t >> shift) & 255u) ${test} d;`);
        });
      w.line('w = lo;');
      partition('lo', '<');
      w.line('lo = w;');
      partition('w', '==');
      w.line('hi = w;');
      w.line('if (hi - lo == need) lo = hi; /* every undecided key is needed */');
    });
    w.line('for (i = 0u; i < k; ++i) bar = a[i] > bar ? a[i] : bar;');
    w.line('return bar;');
  });
  w.line();
  w.comment(
    'A pool keeps the `keep` best candidates offered to it in buf (room for 2 * keep): a candidate ranking after',
    '`bar` (the keep-th best so far) cannot be among them and is dropped at once; when buf is full, keep_best',
    'shrinks it back to the keep best and raises the bar. Amortised O(1) per offer.',
    ...(bar
      ? [
          "`reject` is the cheap test's bound for the pool's bar (see bar_score), so rows and labels that cannot beat",
          'the bar are rejected before any exponential.',
        ]
      : []),
  );
  w.block(
    'typedef struct',
    () => {
      w.line(`${loc.cand_t} *buf;`);
      w.line('uint32_t n, keep;');
      w.line(`${loc.cand_t} bar;`);
      if (bar) w.line(`${rejectType(L)} reject;`);
    },
    ` ${loc.pool_t};`,
  );
  w.line();
  if (bar) {
    const n = L.bar.score.length;
    const list = (v: number[], what: string) => v.map((x) => cFloatOrInf(x, what)).join(', ');
    const qs = L.quant.scores;
    w.comment(
      "Reject bounds for a rising bar: bar_reject[i] is the cheap test's bound proven for a threshold of bar_score[i]",
      `(bar_score[0] = the score threshold). No label scoring <= bar_score[i] can enter a pool whose bar scores more, so`,
      "such a pool rejects with the bound of the largest bar_score[i] below its bar's score.",
    );
    w.line(`static const float ${loc.bar_score}[${n}] = { ${list(L.bar.score, 'bar score')} };`);
    if (qs) {
      w.comment(
        'Quantized scores: the bounds in the integer domain, proven by enumerating every value (sigmoid: every q <= the',
        'bound scores <= bar_score[i]) or every pair of values (softmax: every integer difference <= the bound has a float',
        'difference <= the float margin of entry i).',
      );
      w.line(`static const int32_t ${loc.bar_reject}[${n}] = { ${qs.bounds.join(', ')} };`);
    } else {
      w.line(`static const float ${loc.bar_reject}[${n}] = { ${list(L.bar.reject, 'bar reject bound')} };`);
    }
    w.line();
    w.block(`static ${rejectType(L)} ${loc.reject_for}(${loc.cand_t} bar)`, () => {
      w.line(`const float s = ${loc.cand_score}(bar);`);
      w.line(`uint32_t i = ${n - 1}u;`);
      w.line(`while (i > 0u && !(${loc.bar_score}[i] < s)) --i;`);
      w.line(`return ${loc.bar_reject}[i];`);
    });
    w.line();
  }
  const raise = () => {
    w.line(`p->bar = ${loc.keep_best}(p->buf, p->n, p->keep);`);
    w.line('p->n = p->keep;');
    if (bar) w.line(`p->reject = ${loc.reject_for}(p->bar);`);
  };
  w.block(`static void ${loc.pool_offer}(${loc.pool_t} *p, ${loc.cand_t} c)`, () => {
    w.line('if (c >= p->bar) return;');
    w.line('p->buf[p->n++] = c;');
    w.block('if (p->n == 2u * p->keep)', raise);
  });
  w.line();
  w.comment("The pool's final content: its keep best candidates (or all it holds), in no particular order.");
  w.block(`static void ${loc.pool_finish}(${loc.pool_t} *p)`, () => {
    w.block('if (p->n > p->keep)', raise);
  });
  w.line();
  w.comment('An empty pool: no bar yet.');
  w.block(`static void ${loc.pool_reset}(${loc.pool_t} *p)`, () => {
    w.line('p->n = 0u;');
    w.line(`p->bar = ${loc.NO_CAND};`);
    if (bar) w.line(`p->reject = ${loc.bar_reject}[0];`);
  });
  w.line();
  if (usesMaskScan(L)) emitMaskTables(w, loc);
  w.comment('Min-heap on keys (heap[0] = the best candidate), from which NMS takes candidates in rank order.');
  emitHeapSift(w, loc);
}

/** Whether the score filter visits labels by bit masks (emitMaskScan): rows of at least 16 contiguous labels. */
export function usesMaskScan(L: PlanLayout): boolean {
  return vecSplit(L.numLabels)[0] > 0 && (L.plan.spec.scores === 'softmax' || rowMajor(L.plan));
}

function emitMaskTables(w: CodeWriter, loc: LocalNames): void {
  w.comment(
    'Bit j of a group of 16 labels, and the index of the lowest set bit of a nonzero 64-bit word (de Bruijn',
    "multiplication): a row's cheap tests become one mask per 16 labels (the loop building it vectorizes), four of them",
    "one word, and only the word's set bits are visited.",
  );
  w.line(
    `static const uint32_t ${loc.bit16}[16] = { 1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u };`,
  );
  w.line(`static const uint8_t ${loc.ctz_debruijn}[64] = {`);
  w.line(
    '    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,',
  );
  w.line(
    '    63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6',
  );
  w.line('};');
  w.line(
    `#define ${loc.LOWEST_BIT64}(v) ((uint32_t)${loc.ctz_debruijn}[(((v) & (0u - (v))) * UINT64_C(0x03f79d71b4cb0a89)) >> 58])`,
  );
  w.line();
}

function emitHeapSift(w: CodeWriter, loc: LocalNames): void {
  w.block(`static void ${loc.heap_sift_down}(${loc.cand_t} *heap, uint32_t n, uint32_t i)`, () => {
    w.line(`const ${loc.cand_t} t = heap[i];`);
    w.block('for (;;)', () => {
      w.line('uint32_t c = 2u * i + 1u;');
      w.line('if (c >= n) break;');
      w.line('if (c + 1u < n && heap[c + 1u] < heap[c]) ++c;');
      w.line('if (t <= heap[c]) break;');
      w.line('heap[i] = heap[c];');
      w.line('i = c;');
    });
    w.line('heap[i] = t;');
  });
  w.line();
}

/**
 * How the filters read score column `j` of an anchor's `row`: concatenated inputs are row-major (stride 1: the rows are
 * contiguous and the hot loops vectorize); per-level maps step by `stride` (the map's H·W).
 */
function rowAccess(L: PlanLayout): { S: string; col: (j: string) => string } {
  const S = rowMajor(L.plan) ? '1u' : 'stride';
  return {
    S,
    col: (j) => (S === '1u' ? `row[${j}]` : `row[${/^\d+u$/.test(j) ? mulU(j, 'stride') : `(${j}) * stride`}]`),
  };
}

/**
 * Rows per block of the block reject (sigmoid and probabilities, concatenated input): B·C a multiple of 16, at least
 * 64 values, so the test is one vectorized loop over the block's contiguous values.
 */
export function blockRows(numClasses: number): number {
  const g = (a: number, b: number): number => (b === 0 ? a : g(b, a % b));
  const unit = VEC / g(numClasses, VEC);
  return unit * Math.max(1, Math.ceil(64 / (unit * numClasses)));
}

/** score_anchor() for the plan's score mode (and its fast rejects), writing candidates into a pool. */
export function emitScoreFilter(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const mode = L.plan.spec.scores;
  if (L.plan.spec.objectness) return emitObjectnessFilter(w, L);
  if (mode === 'softmax') {
    if (L.backgroundColumn >= 0) emitBackgroundBound(w, L);
    else emitMarginBound(w, L);
    emitSoftmaxBatch(w, L);
    return;
  }
  const thr = cFloat(L.scoreThreshold, 'score threshold');
  const { S, col } = rowAccess(L);
  const first = L.firstLabelColumn;
  const colOf = (k: string) => addU(k, u(first));
  const qs = L.quant.scores;
  const T = elemType(qs?.params);
  if (rowMajor(L.plan)) emitBlockReject(w, L);
  if (qs)
    w.comment(
      `Quantized scores (${qs.params.type}): the cheap test compares the integer q with a bound proven over all 256 values`,
      `(q <= the bound: score(dequant(q)) <= the threshold, or the pool bar's score); q passing it is dequantised and decided`,
      `on its score exactly as the reference does${qs.exact ? ' (here every q above the threshold bound passes: the integer test alone decides)' : ''}.`,
    );
  w.comment(
    ...(mode === 'probabilities'
      ? ['Scores are probabilities already: a label is a candidate iff its score > the threshold (NaN never is).']
      : [
          'Sigmoid scores. A logit x <= REJECT_LOGIT has 1/(1+expf(-x)) <= the threshold even with expf 2 ulps low, so it is',
          'skipped without pd_expf (NaN is skipped too); otherwise the score itself decides: candidate iff score > threshold.',
        ]),
  );
  const exact = (x: string, j: string) => {
    if (mode === 'probabilities') {
      w.line(`if (${x} > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(${x}, ${addU('pair', j)}));`);
    } else {
      w.line(`const float s = 1.0f / (1.0f + ${loc.expf}(-${x}));`);
      w.line(`if (s > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(s, ${addU('pair', j)}));`);
    }
  };
  const bound = mode === 'probabilities' ? (qs ? `${qs.bounds[0]}` : thr) : 'pool->reject';
  const cheap = (e: string) => (qs ? intOf(e) : e);
  w.block(
    `static void ${loc.score_anchor}(const ${T} *${S === '1u' ? 'restrict ' : ''}row, size_t stride, uint32_t anchor, ${loc.pool_t} *pool)`,
    () => {
      w.line(`const uint32_t pair = ${mulU('anchor', u(L.numLabels))};`);
      if (S === '1u' ? maskScanUsesIndex(L.numLabels) : loopUsesIndex(0, L.numLabels)) w.line('uint32_t j;');
      if (S === '1u') {
        w.line('(void)stride;');
        emitMaskScan(
          w,
          loc,
          L.numLabels,
          (j) => `${cheap(col(colOf(j)))} > ${bound}`,
          (j) => exact(valueOf(qs?.params, col(colOf(j))), j),
        );
        return;
      }
      emitFilterFor(
        w,
        'j',
        0,
        L.numLabels,
        () => `x > ${bound}`,
        (j) => exact(valueOf(qs?.params, 'x'), j),
        (j) => w.line(`const ${qs ? 'int32_t' : 'float'} x = ${cheap(col(colOf(j)))};`),
        mode === 'sigmoid' ? " /* REJECT_LOGIT, or the pool's bound for its bar */" : '',
      );
    },
  );
  w.line();
}

/**
 * block_rejects(): for sigmoid and probability scores on concatenated input, one branch-free pass over a block of
 * BLOCK_ROWS contiguous rows decides whether any of its values could be a candidate (x > the per-column bound:
 * REJECT_LOGIT or the threshold for labels, +Inf for a background column, which nothing exceeds).
 */
function emitBlockReject(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const B = blockRows(L.numClasses);
  const n = B * L.numClasses;
  const sigmoid = L.plan.spec.scores === 'sigmoid';
  w.line(`#define ${loc.BLOCK_ROWS} ${B}u`);
  const uniform = L.backgroundColumn < 0;
  if (!uniform) {
    w.comment(`Per value of a block (row-major, ${L.numClasses} columns): 1 for a label column, 0 for the background.`);
    const cols = Array.from({ length: L.numClasses }, (_, j) => (j === L.backgroundColumn ? '0' : '1'));
    w.line(`static const int32_t ${loc.block_label}[${n}] = {`);
    w.indent();
    for (let r = 0; r < B; r++) w.line(`${cols.join(', ')},`);
    w.dedent();
    w.line('};');
  }
  w.comment(
    `Whether any label value of BLOCK_ROWS rows (${n} values) exceeds \`bound\` (${sigmoid ? "the pool's reject logit" : 'the threshold'}): when none`,
    'does, no row of the block has a candidate (NaN compares false). Branch-free, so it vectorizes.',
  );
  const qs = L.quant.scores;
  const xj = (j: string) => (qs ? intOf(`x[${j}]`) : `x[${j}]`);
  w.block(`static int ${loc.block_rejects}(const ${elemType(qs?.params)} *restrict x, ${rejectType(L)} bound)`, () => {
    w.line('int32_t hit = 0;');
    w.line('uint32_t j;');
    emitRowLoop(w, n, 'j', (j) =>
      uniform ? `hit |= ${xj(j)} > bound;` : `hit |= (int32_t)(${xj(j)} > bound) & ${loc.block_label}[${j}];`,
    );
    w.line('return !hit;');
  });
  w.line();
}

/**
 * background_bound(): the usual anchor, a background one, costs this one pass. Every foreground probability is <=
 * sigmoid(x_k - bg), and bg is one of the columns the exact softmax takes its maximum over, so when u = max_k fl(x_k -
 * bg) <= a proven margin (REJECT_MARGIN, or the pool's bound for its bar) no label can enter the pool. Returns u as an
 * order-preserving integer key (branch-free, so it vectorizes; NaN keys sort beyond the infinities).
 */
function emitBackgroundBound(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const { S, col } = rowAccess(L);
  const first = L.firstLabelColumn;
  if (L.quant.scores) {
    emitQuantBackgroundBound(w, L);
    return;
  }
  w.comment(
    'u = max_k fl(x_k - bg) of one row, as an order-preserving key. Every foreground probability is <= sigmoid(x_k - bg)',
    "(bg is one of the columns the softmax sums), so u <= a proven margin (REJECT_MARGIN, or the pool's bound for its",
    'bar) means no label the pool would take. A NaN difference (+Inf - +Inf: the row may give 1/count to its +Inf',
    'columns) proves nothing: its key is the largest. Branch-free: it vectorizes.',
  );
  w.block(`static uint32_t ${loc.row_bound}(const float *${S === '1u' ? 'restrict ' : ''}row, size_t stride)`, () => {
    w.line(`const float bgl = ${col(`${L.backgroundColumn}u`)};`);
    w.line(`uint32_t hi = 0u${rowLoopUsesIndex(L.numLabels) ? ', k' : ''};`);
    if (S !== 'stride') w.line('(void)stride;');
    const x = (k: string) => col(addU(k, u(first)));
    emitRowLoop(
      w,
      L.numLabels,
      'k',
      (k) =>
        `{ const float d = ${x(k)} - bgl; const uint32_t u = ${loc.float_key}(d) | (0u - (uint32_t)(d != d)); hi = u > hi ? u : hi; }`,
    );
    w.line('return hi;');
  });
  w.line();
  w.comment(
    'The same test as one branch-free pass that only says whether any fl(x_k - bg) is not <= margin (NaN included):',
    'cheaper than the bound itself, which is computed only for rows that pass when their order matters.',
  );
  w.block(
    `static int ${loc.row_rejects}(const float *${S === '1u' ? 'restrict ' : ''}row, size_t stride, float margin)`,
    () => {
      w.line(`const float bgl = ${col(`${L.backgroundColumn}u`)};`);
      w.line('int32_t hit = 0;');
      if (rowLoopUsesIndex(L.numLabels)) w.line('uint32_t k;');
      if (S !== 'stride') w.line('(void)stride;');
      emitRowLoop(w, L.numLabels, 'k', (k) => `hit |= !((${col(addU(k, u(first)))} - bgl) <= margin);`);
      w.line('return !hit;');
    },
  );
  w.line();
}

/**
 * emitBackgroundBound for quantized scores: u = max_k (q_k - q_bg), an exact integer; the pool's bound is the integer
 * form of its float margin (src/postprocess/quant.ts diffIntBound), so the test rejects no row the float test keeps.
 */
function emitQuantBackgroundBound(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const { S, col } = rowAccess(L);
  const first = L.firstLabelColumn;
  const T = elemType(L.quant.scores!.params);
  const restrict = S === '1u' ? 'restrict ' : '';
  w.comment(
    'Quantized scores: u = max_k (q_k - q_bg) as integers (exact), as a key (u + DIFF_KEY). A row whose u is <= the',
    "pool's integer margin has every float difference fl(x_k - bg) <= its float margin (proven over every pair of",
    'values), so no label the pool would take. Branch-free: it vectorizes.',
  );
  const x = (k: string) => intOf(col(addU(k, u(first))));
  w.block(`static uint32_t ${loc.row_bound}(const ${T} *${restrict}row, size_t stride)`, () => {
    w.line(`const int32_t bgl = ${intOf(col(`${L.backgroundColumn}u`))};`);
    w.line(`int32_t hi = -${DIFF_KEY / 2};`);
    if (rowLoopUsesIndex(L.numLabels)) w.line('uint32_t k;');
    if (S !== 'stride') w.line('(void)stride;');
    emitRowLoop(w, L.numLabels, 'k', (k) => `{ const int32_t d = ${x(k)} - bgl; hi = d > hi ? d : hi; }`);
    w.line(`return (uint32_t)(hi + ${DIFF_KEY});`);
  });
  w.line();
  const [qmin, qmax] = quantRange(L.quant.scores!.params.type);
  w.comment(
    'q_k - q_bg > margin is q_k > t = q_bg + margin: with t in the type range, one comparison of the stored values',
    `(${T} lanes, the widest the vectorizer has); t >= ${qmax}: no q_k exceeds it; t < ${qmin}: every q_k does.`,
  );
  w.block(`static int ${loc.row_rejects}(const ${T} *${restrict}row, size_t stride, int32_t margin)`, () => {
    w.line(`const int32_t t = ${intOf(col(`${L.backgroundColumn}u`))} + margin;`);
    w.line(`${T} tq;`);
    w.line('uint8_t hit = 0u;');
    if (rowLoopUsesIndex(L.numLabels)) w.line('uint32_t k;');
    if (S !== 'stride') w.line('(void)stride;');
    w.line(`if (t >= ${qmax}) return 1;`);
    w.line(`if (t < ${qmin}) return 0;`);
    w.line(`tq = (${T})t;`);
    emitRowLoop(w, L.numLabels, 'k', (k) => `hit |= (uint8_t)(${col(addU(k, u(first)))} > tq);`);
    w.line('return !hit;');
  });
  w.line();
}

/** Rows of one softmax batch (rows that passed the cheap reject, processed together). */
export const BATCH = 8;

/** Softmax without a background column: the per-row margin bound (largest two foreground logits). */
function emitMarginBound(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const { S, col } = rowAccess(L);
  const qs = L.quant.scores;
  if (qs) {
    w.comment(
      'Quantized scores, no background column: u = q1 - q2 (the largest two integers; exact), as a key (u + DIFF_KEY);',
      "a row whose u is <= the pool's integer margin has fl(m1 - m2) <= its float margin (proven over every pair).",
    );
    w.block(`static uint32_t ${loc.row_bound}(const ${elemType(qs.params)} *row, size_t stride)`, () => {
      w.line(`int32_t m1 = -${DIFF_KEY / 2}, m2 = -${DIFF_KEY / 2};`);
      w.line('uint32_t k;');
      if (S !== 'stride') w.line('(void)stride;');
      w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
        w.line(`const int32_t x = ${intOf(col('k'))};`);
        w.block('if (x > m1)', () => {
          w.line('m2 = m1;');
          w.line('m1 = x;');
          w.line('continue;');
        });
        w.line('if (x > m2) m2 = x;');
      });
      w.line(`return (uint32_t)(m1 - m2 + ${DIFF_KEY});`);
    });
    w.line();
    w.block(`static int ${loc.row_rejects}(const ${elemType(qs.params)} *row, size_t stride, int32_t margin)`, () => {
      w.line(`return !(${loc.row_bound}(row, stride) > ${rejectKey(L, 'margin')});`);
    });
    w.line();
    return;
  }
  w.comment(
    'Softmax without a background column: with m1 the largest logit and m2 the second largest, every probability is',
    '<= sigmoid(m1 - m2), so u = m1 - m2 <= a proven margin means no candidate; a row with a NaN has none (key 0); a',
    'NaN difference (two +Inf, or every logit -Inf) proves nothing (the largest key).',
    'Returns u as an order-preserving key.',
  );
  w.block(`static uint32_t ${loc.row_bound}(const float *row, size_t stride)`, () => {
    w.line('float m1 = -INFINITY, m2 = -INFINITY;');
    w.line('uint32_t k;');
    if (S !== 'stride') w.line('(void)stride;');
    w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
      w.line(`const float x = ${col('k')};`);
      w.line('if (x != x) return 0u;');
      w.block('if (x > m1)', () => {
        w.line('m2 = m1;');
        w.line('m1 = x;');
        w.line('continue;');
      });
      w.line('if (x > m2) m2 = x;');
    });
    w.line(
      'if (m1 - m2 != m1 - m2) return 0xffffffffu; /* +Inf - +Inf: 1/count to the +Inf columns; proves nothing */',
    );
    w.line(`return ${loc.float_key}(m1 - m2);`);
  });
  w.line();
  w.block(`static int ${loc.row_rejects}(const float *row, size_t stride, float margin)`, () => {
    w.line(`return !(${loc.row_bound}(row, stride) > ${loc.float_key}(margin));`);
  });
  w.line();
}

/**
 * score_batch() for softmax: the exact float softmax of up to BATCH rows, as the reference computes it, stage by
 * stage over the batch: every loop over a row vectorizes, and the rows' dependency chains (max, exp, the sum's four
 * lanes) are independent of each other, so they overlap instead of running one after the other.
 */
function emitSoftmaxBatch(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const C = L.numClasses;
  const K = L.numLabels;
  const first = L.firstLabelColumn;
  const thr = cFloat(L.scoreThreshold, 'score threshold');
  w.comment('A row whose max is +Inf: 1/count to its +Inf columns, 0 elsewhere (0 never passes).');
  w.block(`static void ${loc.score_inf_row}(const float *x, uint32_t pair, ${loc.pool_t} *pool)`, () => {
    w.line(`uint32_t inf = 0u${loopUsesIndex(0, C) || loopUsesIndex(0, K) ? ', j' : ''};`);
    emitForLine(w, 'j', 0, C, (j) => `inf += x[${j}] == INFINITY;`);
    const label = (j: string) => {
      w.line(`const float s = x[${addU(j, u(first))}] == INFINITY ? 1.0f / (float)inf : 0.0f;`);
      w.line(`if (s > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(s, ${addU('pair', j)}));`);
    };
    if (K === 1) w.block('', () => label('0u'));
    else w.block(`for (j = 0u; j < ${K}u; ++j)`, () => label('j'));
  });
  w.line();
  w.comment(
    `Softmax scores of nb <= ${BATCH} anchors (rows[r] = the C contiguous logits of anchor anchor_of[r]). A row with a NaN`,
    'has no candidates; a row whose max is +Inf gives 1/count to its +Inf columns; a row of -Inf has none. Otherwise,',
    'as in the reference: m = the row max (over order-preserving integer keys: branch-free, NaN found too),',
    'e_j = pd_expf(x_j - m) (x_j - m <= 0, so pd_expf_neg), sum = four interleaved partial sums over the first',
    '4*floor(C/4) columns, combined pairwise, then the columns past them in order; score_k = e_k / sum.',
    'A label is tested exactly (one division) only when e_k > t * sum * (1 - 2^-20), t = max(threshold, the score of',
    "the pool's bar), which every label the pool would take satisfies (the division and the product are each within",
    'half an ulp); that cheap test runs over the whole row at once.',
  );
  w.block(
    `static ${loc.HOT} void ${loc.score_batch}(const float *const *rows, const uint32_t *anchor_of, uint32_t nb, ${loc.pool_t} *pool)`,
    () => {
      w.line(`float e[${BATCH}][${C}];`);
      w.line(`float m[${BATCH}], sum[${BATCH}];`);
      w.line(`uint32_t kind[${BATCH}]; /* 0: softmax; 1: no candidates (a NaN, or every logit -Inf); 2: max +Inf */`);
      w.line(`float t = ${thr};`);
      w.line('uint32_t r, j;');
      w.block('for (r = 0u; r < nb; ++r)', () => {
        w.line('const float *restrict x = rows[r];');
        w.line('uint32_t hi = 0u, lo = 0xffffffffu;');
        w.line('float mr;');
        emitRowLoop(
          w,
          C,
          'j',
          (j) =>
            `{ uint32_t u; memcpy(&u, &x[${j}], sizeof u); u ^= (u >> 31) ? 0xffffffffu : 0x80000000u; hi = u > hi ? u : hi; lo = u < lo ? u : lo; }`,
        );
        w.line('kind[r] = hi > 0xff800000u || lo < 0x007fffffu; /* a NaN sorts beyond the infinities */');
        w.line('hi ^= (hi >> 31) ? 0x80000000u : 0xffffffffu;');
        w.line('memcpy(&mr, &hi, sizeof mr);');
        w.line('if (kind[r] == 0u) kind[r] = mr == INFINITY ? 2u : mr == -INFINITY ? 1u : 0u;');
        w.comment('special rows subtract +Inf: every x - m is then -Inf or NaN, where pd_expf_neg is defined too');
        w.line('m[r] = kind[r] == 0u ? mr : INFINITY;');
      });
      w.block('for (r = 0u; r < nb; ++r)', () => {
        w.line('const float *restrict x = rows[r];');
        w.line('const float mr = m[r];');
        emitRowLoop(w, C, 'j', (j) => `e[r][${j}] = ${loc.expf_neg}(x[${j}] - mr);`);
      });
      const C4 = C - (C % 4);
      w.block('for (r = 0u; r < nb; ++r)', () => {
        if (C4 === 0) {
          w.comment('fewer than 4 columns: the four partial sums would all be +0');
          w.line('float s = 0.0f;');
        } else {
          w.line('float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s;');
          const sums = (j: string) =>
            ['s0', 's1', 's2', 's3'].forEach((v, i) => w.line(`${v} += e[r][${addU(j, u(i))}];`));
          if (C4 === 4) sums('0u');
          else w.block(`for (j = 0u; j < ${C4}u; j += 4u)`, () => sums('j'));
          w.line('s = (s0 + s1) + (s2 + s3);');
        }
        emitForLine(w, 'j', C4, C, (j) => `s += e[r][${j}];`);
        w.line('sum[r] = s;');
      });
      w.comment(
        "The cheap test's bound: a label enters the pool only if its score > the threshold and its key < the pool's",
        "bar, so only if score >= t = max(threshold, the bar's score); then e_k > t * sum * (1 - 2^-20).",
      );
      w.block(`if (pool->bar != ${loc.NO_CAND})`, () => {
        w.line(`const float b = ${loc.cand_score}(pool->bar);`);
        w.line('t = b > t ? b : t;');
      });
      w.block('for (r = 0u; r < nb; ++r)', () => {
        w.line(`const uint32_t pair = ${mulU('anchor_of[r]', u(K))};`);
        w.line(`const float lim = (t * sum[r]) * ${cFloat(1 - 2 ** -20, 'bound factor')}; /* 1 - 2^-20 */`);
        w.line('const float *er = e[r];');
        w.block('if (kind[r] != 0u)', () => {
          w.line(`if (kind[r] == 2u) ${loc.score_inf_row}(rows[r], pair, pool);`);
          w.line('continue;');
        });
        const at = (j: string) => `er[${addU(j, u(first))}]`;
        emitMaskScan(
          w,
          loc,
          K,
          (j) => `${at(j)} > lim`,
          (j) => {
            w.line(`const float s = ${at(j)} / sum[r];`);
            w.line(`if (s > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(s, ${addU('pair', j)}));`);
          },
        );
      });
    },
  );
  w.line();
}

/**
 * C expressions of (tx, ty, tw, th) from d0..d3, per decoder (reference.ts deltaTransform), without the operations
 * that cannot change a float: `* 1.0f` and `/ 1.0f` always, `+ 0.0f` (which only turns -0 into +0) for tw and th (exp
 * of either zero is 1) and for tx / ty when no anchor centre coordinate is -0 (cx + aw * (+-0) is then the same float).
 */
function transforms(
  dec: Exclude<Decoder, { type: 'none' | 'xywh' | 'yolov5' | 'yolov3' }>,
  centers: Float32Array,
): { doc: string; tx: string; ty: string; tw: string; th: string; clamp?: { c: string; both: boolean } } {
  const F = (x: number, what: string) => cFloat(Math.fround(x), what);
  const negZeroCentre = [0, 1].map((k) => centers.some((v, i) => i % 4 === k && Object.is(v, -0)));
  const mul = (d: string, v: number, what: string) => (Math.fround(v) === 1 ? d : `${d} * ${F(v, what)}`);
  const div = (d: string, v: number, what: string) => (Math.fround(v) === 1 ? d : `${d} / ${F(v, what)}`);
  // i: 0 tx, 1 ty, 2 tw, 3 th
  const add = (e: string, v: number, i: number, what: string) =>
    Math.fround(v) === 0 && (Object.is(v, -0) || i >= 2 || !negZeroCentre[i]) ? e : `${e} + ${F(v, what)}`;
  switch (dec.type) {
    case 'ssd': {
      const t = (i: number) => mul(`d${i}`, dec.variances[i < 2 ? 0 : 1], 'variance');
      return { doc: 'ssd: t = (dx*v0, dy*v0, dw*v1, dh*v1)', tx: t(0), ty: t(1), tw: t(2), th: t(3) };
    }
    case 'mmdet-delta-xywh': {
      const t = (i: number) => add(mul(`d${i}`, dec.stds[i]!, 'std'), dec.means[i]!, i, 'mean');
      return {
        doc: 'mmdet DeltaXYWH: t = delta*std + mean, tw and th clamped to [-clamp, clamp]',
        tx: t(0),
        ty: t(1),
        tw: t(2),
        th: t(3),
        clamp: { c: F(dec.clamp, 'clamp'), both: true },
      };
    }
    case 'torchvision': {
      const t = (i: number) => div(`d${i}`, dec.weights[i]!, 'weight');
      return {
        doc: 'torchvision: t = delta / weight, tw and th clamped from above at clamp',
        tx: t(0),
        ty: t(1),
        tw: t(2),
        th: t(3),
        clamp: { c: F(dec.clamp, 'clamp'), both: false },
      };
    }
    case 'tflite': {
      const [sy, sx, sh, sw] = dec.scales;
      return {
        doc: 'tflite: deltas are (ty, tx, th, tw); t = (tx/sx, ty/sy, tw/sw, th/sh)',
        tx: div('d1', sx, 'scale'),
        ty: div('d0', sy, 'scale'),
        tw: div('d3', sw, 'scale'),
        th: div('d2', sh, 'scale'),
      };
    }
  }
}

/** The run function's box input: boxes, reg or rows. */
export function inputArg(L: PlanLayout): string {
  return L.plan.input === 'concat' ? 'boxes' : L.plan.input === 'yolo' ? 'rows' : 'reg';
}

/** decode_box(): deltas (with a stride) + center-size anchor -> clipped xyxy box. */
export function emitDecode(w: CodeWriter, L: PlanLayout): void {
  if (L.plan.input === 'yolo') return; // emitted with decode_candidate (yolo.ts)
  const loc = L.names.local;
  const spec = L.plan.spec;
  const clip = spec.clip
    ? [cFloat(Math.fround(spec.clip[0]), 'clip width'), cFloat(Math.fround(spec.clip[1]), 'clip height')]
    : undefined;
  const dec = spec.decoder;
  const t =
    dec.type === 'none' || dec.type === 'xywh' || dec.type === 'yolov5' || dec.type === 'yolov3'
      ? undefined
      : transforms(dec, L.centers!);
  w.comment(
    t ? `Decode one box. ${t.doc};` : 'Boxes arrive decoded (x1, y1, x2, y2).',
    ...(t
      ? ['cx = acx + aw*tx, cy = acy + ah*ty, w = aw*expf(tw), h = ah*expf(th); box = (cx -+ w/2, cy -+ h/2).']
      : []),
    ...(clip ? [`Then clipped to [0, ${spec.clip![0]}] x [0, ${spec.clip![1]}] (NaN stays NaN).`] : []),
  );
  const anchorParam = t ? ', const float *a' : '';
  const qb = L.quant.boxes;
  if (qb)
    w.comment(
      `Quantized box inputs (${qb.type}): each value dequantised as it is read, as the reference's dequantised tensor holds it.`,
    );
  w.block(`static void ${loc.decode_box}(const ${elemType(qb)} *d, size_t stride${anchorParam}, float *box)`, () => {
    const v = (e: string) => valueOf(qb, e);
    w.line(
      `const float d0 = ${v('d[0]')}, d1 = ${v('d[stride]')}, d2 = ${v('d[2u * stride]')}, d3 = ${v('d[3u * stride]')};`,
    );
    if (t) {
      w.line(`const float tx = ${t.tx};`);
      w.line(`const float ty = ${t.ty};`);
      if (t.clamp) {
        const c = t.clamp.c;
        const cl = (v: string) =>
          t.clamp!.both ? `${v} > ${c} ? ${c} : (${v} < -${c} ? -${c} : ${v})` : `${v} > ${c} ? ${c} : ${v}`;
        w.line(`float tw = ${t.tw};`);
        w.line(`float th = ${t.th};`);
        w.line(`tw = ${cl('tw')};`);
        w.line(`th = ${cl('th')};`);
      } else {
        w.line(`const float tw = ${t.tw};`);
        w.line(`const float th = ${t.th};`);
      }
      w.line('const float cx = a[0] + a[2] * tx;');
      w.line('const float cy = a[1] + a[3] * ty;');
      w.line(`const float hw = 0.5f * (a[2] * ${loc.expf}(tw));`);
      w.line(`const float hh = 0.5f * (a[3] * ${loc.expf}(th));`);
      w.line('box[0] = cx - hw;');
      w.line('box[1] = cy - hh;');
      w.line('box[2] = cx + hw;');
      w.line('box[3] = cy + hh;');
    } else {
      w.line('box[0] = d0;');
      w.line('box[1] = d1;');
      w.line('box[2] = d2;');
      w.line('box[3] = d3;');
    }
    if (clip) {
      for (let i = 0; i < 4; i++) {
        const hi = clip[i % 2]!;
        w.line(`box[${i}] = box[${i}] < 0.0f ? 0.0f : (box[${i}] > ${hi} ? ${hi} : box[${i}]);`);
      }
    }
  });
  w.line();
}

/** The IoU test of a candidate against kept boxes, decode_candidate() and nms(). */
export function emitNms(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const N = L.names;
  const scan = L.nmsScan === 'scan';
  const perClass = L.plan.spec.nms === 'per-class';
  const thr = cFloat(L.iouThreshold, 'IoU threshold');
  const P = L.workspace.keptPad;
  w.line(`#define ${loc.KEPT_PAD} ${P}u`);
  w.comment(
    'Kept boxes, structure of arrays (KEPT_PAD floats each): x1, y1, x2, y2 and the area pos(x2 - x1) * pos(y2 - y1),',
    'NaN for a box with a NaN coordinate and for the slots past the last kept box. IoU as the reference computes it',
    "(boxes' units, no +1; negative widths count as 0), kept box first: iw = pos(min(x2) - max(x1)), ih likewise,",
    'inter = iw * ih, union = (area_kept + area_candidate) - inter; a candidate is suppressed iff union > 0 and',
    `inter / union > ${L.plan.spec.iouThreshold}. A NaN area makes union NaN: such a kept box suppresses nothing; a candidate with a NaN`,
    "coordinate is never compared (the reference's IoU is 0 for both).",
  );
  const lane = (i: string, extra: string) => [
    `float iw = (x2[${i}] < b[2] ? x2[${i}] : b[2]) - (x1[${i}] > b[0] ? x1[${i}] : b[0]);`,
    `float ih = (y2[${i}] < b[3] ? y2[${i}] : b[3]) - (y1[${i}] > b[1] ? y1[${i}] : b[1]);`,
    'float inter, uni, den, v;',
    'uint32_t ub, pos;',
    'iw = iw > 0.0f ? iw : 0.0f;',
    'ih = ih > 0.0f ? ih : 0.0f;',
    'inter = iw * ih;',
    `uni = (ka[${i}] + barea) - inter;`,
    '/* den = union > 0 ? union : 1 (the reference divides only then), as a bitwise select: a conditional here',
    ' * becomes a branch (inter / 1 folded) that stops gcc from vectorizing the loop */',
    'pos = 0u - (uint32_t)(uni > 0.0f);',
    'memcpy(&ub, &uni, sizeof ub);',
    'ub = (ub & pos) | (0x3f800000u & ~pos);',
    'memcpy(&den, &ub, sizeof den);',
    'v = inter / den;',
    `hit |= (int32_t)(uni > 0.0f) & (int32_t)(v > ${thr})${extra};`,
  ];
  const arrays = (q: string) =>
    `const float *${q}x1 = kb, *${q}y1 = kb + ${loc.KEPT_PAD}, *${q}x2 = kb + 2u * ${loc.KEPT_PAD}, *${q}y2 = kb + 3u * ${loc.KEPT_PAD}, *${q}ka = kb + 4u * ${loc.KEPT_PAD};`;
  if (scan) {
    w.comment(
      `Whether a kept box${perClass ? " of the candidate's label" : ''} suppresses box b (area barea): every kept box, 16 at a time in a loop`,
      'that vectorizes (lanes past the last kept box have a NaN area).',
    );
    w.block(
      `static ${loc.HOT} int ${loc.suppressed_by_kept}(const float *restrict kb, const uint32_t *restrict klab, uint32_t kept, const float *b, float barea, uint32_t label)`,
      () => {
        w.line(arrays('restrict '));
        w.line('uint32_t blk, q;');
        if (!perClass) {
          w.line('(void)klab;');
          w.line('(void)label;');
        }
        w.block('for (blk = 0u; blk < kept; blk += 16u)', () => {
          w.line('int32_t hit = 0;');
          w.block('for (q = 0u; q < 16u; ++q)', () => {
            w.line('const uint32_t i = blk + q;');
            for (const l of lane('i', perClass ? ' & (int32_t)(klab[i] == label)' : '')) w.line(l);
          });
          w.line('if (hit) return 1;');
        });
        w.line('return 0;');
      },
    );
  } else {
    w.comment('Whether kept box i suppresses box b (area barea).');
    w.block(`static int ${loc.kept_suppresses}(const float *kb, uint32_t i, const float *b, float barea)`, () => {
      w.line(arrays(''));
      w.line('int32_t hit = 0;');
      for (const l of lane('i', '')) w.line(l);
      w.line('return hit;');
    });
  }
  w.line();
  if (L.plan.input === 'yolo') emitYoloDecode(w, L);
  else emitDecodeCandidate(w, L);
  w.comment(
    'Greedy NMS in rank order, candidates taken from the heap one at a time and decoded only then: a candidate is',
    `output unless an already output box${perClass ? ' of its label' : ''} has IoU > ${L.plan.spec.iouThreshold} with it (the reference\'s greedy`,
    'suppression: a box is suppressed exactly by the kept boxes before it). Stops after',
    `${N.maxDetections} outputs, so candidates ranked after the last output are never decoded.`,
    ...(scan
      ? [`Every kept box is checked${perClass ? ' (its label lane by lane)' : ''}; klab[] holds their labels.`]
      : [
          "The kept boxes of each label are chained through next[] from head[label]: a candidate meets its own label's only.",
        ]),
  );
  const TB = elemType(L.quant.boxes);
  const inArgs =
    L.plan.input === 'concat'
      ? `const ${TB} *boxes`
      : L.plan.input === 'yolo'
        ? 'const float *const *rows'
        : `const ${TB} *const *reg`;
  w.block(
    `static size_t ${loc.nms}(${loc.cand_t} *heap, uint32_t n, ${inArgs}, float *kb, uint32_t *${scan ? 'klab' : 'head, uint32_t *next'}, ${N.detection} *out)`,
    () => {
      w.line('size_t kept = 0u;');
      w.line('uint32_t i;');
      if (!scan) w.line(`for (i = 0u; i < ${L.numLabels}u; ++i) head[i] = 0xffffffffu;`);
      const concat = L.plan.input === 'concat';
      if (concat || (L.centers && !L.runtimeAnchors)) {
        w.comment('the anchor and delta rows NMS may decode, asked for at once: their cache misses overlap');
        w.block('for (i = 0u; i < n; ++i)', () => {
          w.line(`const uint32_t a = ${divU('(uint32_t)heap[i]', u(L.numLabels))};`);
          if (L.centers && !L.runtimeAnchors) w.line(`${loc.PREFETCH}(${loc.anchors}[a]);`);
          if (concat) w.line(`${loc.PREFETCH}(boxes + (size_t)a * 4u);`);
        });
      }
      w.line(`for (i = n / 2u; i-- > 0u;) ${loc.heap_sift_down}(heap, n, i);`);
      w.block(`while (n > 0u && kept < ${N.maxDetections})`, () => {
        w.line(`const ${loc.cand_t} c = heap[0];`);
        w.line(
          `const uint32_t anchor = ${divU('(uint32_t)c', u(L.numLabels))}, label = ${modU('(uint32_t)c', u(L.numLabels))};`,
        );
        w.line('float box[4], barea, bw, bh;');
        w.line('const uint32_t k = (uint32_t)kept;');
        w.line('heap[0] = heap[--n];');
        w.line(`${loc.heap_sift_down}(heap, n, 0u);`);
        w.line(`${loc.decode_candidate}(${inputArg(L)}, anchor, box);`);
        w.line('bw = box[2] - box[0];');
        w.line('bh = box[3] - box[1];');
        w.line('barea = (bw > 0.0f ? bw : 0.0f) * (bh > 0.0f ? bh : 0.0f);');
        w.block('if (box[0] == box[0] && box[1] == box[1] && box[2] == box[2] && box[3] == box[3])', () => {
          if (scan) {
            w.line(`if (${loc.suppressed_by_kept}(kb, klab, k, box, barea, label)) continue;`);
          } else {
            w.line('int sup = 0;');
            w.line(
              `for (i = head[label]; i != 0xffffffffu; i = next[i]) if (${loc.kept_suppresses}(kb, i, box, barea)) { sup = 1; break; }`,
            );
            w.line('if (sup) continue;');
          }
        });
        w.line('else barea = NAN; /* a NaN coordinate: it suppresses nothing either */');
        if (scan) {
          w.block('if (k % 16u == 0u)', () => {
            w.comment('a new block of 16 slots: past the last kept box they must never suppress');
            w.line(
              `for (i = k; i < k + 16u; ++i) { kb[i] = kb[${loc.KEPT_PAD} + i] = kb[2u * ${loc.KEPT_PAD} + i] = kb[3u * ${loc.KEPT_PAD} + i] = 0.0f; kb[4u * ${loc.KEPT_PAD} + i] = NAN; klab[i] = 0xffffffffu; }`,
            );
          });
        }
        w.line(`for (i = 0u; i < 4u; ++i) kb[i * ${loc.KEPT_PAD} + k] = out[k].box[i] = box[i];`);
        w.line(`kb[4u * ${loc.KEPT_PAD} + k] = barea;`);
        if (scan) {
          w.line('klab[k] = label;');
        } else {
          w.line('next[k] = head[label];');
          w.line('head[label] = k;');
        }
        w.line(`out[k].score = ${loc.cand_score}(c);`);
        w.line('out[k].label = label;');
        w.line('out[k].anchor = anchor;');
        w.line('++kept;');
      });
      w.line('return kept;');
    },
  );
  w.line();
}

/** decode_candidate(): the box of one anchor from the concatenated deltas or the per-level maps. */
function emitDecodeCandidate(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const runtime = L.centers !== undefined && L.runtimeAnchors !== undefined;
  const anchorArg = !L.centers ? '' : runtime ? ', anc' : `, ${loc.anchors}[anchor]`;
  const generate = (): void => {
    if (!runtime) return;
    w.line('float anc[4];');
  };
  const call = (): void => {
    if (runtime) w.line(`${loc.anchor_at}(anchor, anc);`);
  };
  if (L.plan.input === 'concat') {
    w.block(
      `static void ${loc.decode_candidate}(const ${elemType(L.quant.boxes)} *boxes, uint32_t anchor, float *box)`,
      () => {
        generate();
        call();
        w.line(`${loc.decode_box}(boxes + (size_t)anchor * 4u, 1u${anchorArg}, box);`);
      },
    );
    w.line();
    return;
  }
  if (L.plan.layout === 'nhwc') {
    w.comment('NHWC maps: anchor n of level l has its 4 deltas at reg[l] + (n - offset) * 4, contiguous.');
    w.block(
      `static void ${loc.decode_candidate}(const ${elemType(L.quant.boxes)} *const *reg, uint32_t anchor, float *box)`,
      () => {
        w.line('uint32_t l = 0u;');
        generate();
        call();
        w.line(`while (anchor >= ${loc.level_offset}[l + 1u]) ++l;`);
        w.line(`${loc.decode_box}(reg[l] + (size_t)(anchor - ${loc.level_offset}[l]) * 4u, 1u${anchorArg}, box);`);
      },
    );
    w.line();
    return;
  }
  w.comment(
    'Anchor n of level l is position p = (n - offset) / A, anchor a = (n - offset) % A; its delta j is channel a*4 + j.',
  );
  w.block(
    `static void ${loc.decode_candidate}(const ${elemType(L.quant.boxes)} *const *reg, uint32_t anchor, float *box)`,
    () => {
      w.line('uint32_t l = 0u, p;');
      w.line('size_t hw;');
      generate();
      call();
      w.line(`while (anchor >= ${loc.level_offset}[l + 1u]) ++l;`);
      w.line(`hw = (size_t)${loc.level_h}[l] * ${loc.level_w}[l];`);
      w.line(`p = anchor - ${loc.level_offset}[l];`);
      w.line(
        `${loc.decode_box}(reg[l] + (size_t)(p % ${loc.level_a}[l]) * 4u * hw + p / ${loc.level_a}[l], hw${anchorArg}, box);`,
      );
    },
  );
  w.line();
}
