// The static stage functions of postprocess.c: candidate heap, score filter (one variant per score mode), decode (one
// row of transforms per decoder), IoU and NMS. Each mirrors a step of src/postprocess/reference.ts operation for
// operation in float, so the two agree exactly; the comments state the semantics the C reader needs.
import type { Decoder } from '../../postprocess/spec';
import { cFloat, cFloatOrInf } from './floats';
import type { PlanLayout } from './plan';
import type { CodeWriter } from './writer';

/** Candidate type, rank order and the bounded min-heap (root = lowest ranked) used for top-k and the cap. */
export function emitHeap(w: CodeWriter): void {
  w.comment('A candidate: one (anchor, label) pair whose score passed the threshold.');
  w.block('typedef struct', () => {
    w.line('float score;');
    w.line('uint32_t anchor;');
    w.line('uint32_t label;');
  }, ' cand_t;');
  w.comment('The workspace size formula counts 12 bytes per candidate.');
  w.line('typedef char cand_size_check[(sizeof(cand_t) == 12u) ? 1 : -1];');
  w.line();
  w.comment('Rank order: score descending, then anchor ascending, then label ascending (a total order).');
  w.block('static int ranks_before(const cand_t *a, const cand_t *b)', () => {
    w.line('if (a->score != b->score) return a->score > b->score;');
    w.line('if (a->anchor != b->anchor) return a->anchor < b->anchor;');
    w.line('return a->label < b->label;');
  });
  w.line();
  w.comment('Min-heap on rank: heap[0] is the lowest ranked candidate kept.');
  w.block('static void heap_sift_down(cand_t *heap, uint32_t n, uint32_t i)', () => {
    w.block('for (;;)', () => {
      w.line('uint32_t low = i;');
      w.line('const uint32_t l = 2u * i + 1u;');
      w.line('const uint32_t r = l + 1u;');
      w.line('cand_t t;');
      w.line('if (l < n && ranks_before(&heap[low], &heap[l])) low = l;');
      w.line('if (r < n && ranks_before(&heap[low], &heap[r])) low = r;');
      w.line('if (low == i) return;');
      w.line('t = heap[i];');
      w.line('heap[i] = heap[low];');
      w.line('heap[low] = t;');
      w.line('i = low;');
    });
  });
  w.line();
  w.comment(
    'Offer a candidate to a heap of capacity cap: kept while there is room, else it replaces the lowest ranked',
    'entry if it ranks before it. The heap then holds the cap highest ranked candidates offered so far.',
  );
  w.block('static void heap_offer(cand_t *heap, uint32_t *n, uint32_t cap, const cand_t *c)', () => {
    w.block('if (*n < cap)', () => {
      w.line('uint32_t i = (*n)++;');
      w.block('while (i > 0u)', () => {
        w.line('const uint32_t parent = (i - 1u) / 2u;');
        w.line('if (!ranks_before(&heap[parent], c)) break;');
        w.line('heap[i] = heap[parent];');
        w.line('i = parent;');
      });
      w.line('heap[i] = *c;');
      w.line('return;');
    });
    w.block('if (cap > 0u && ranks_before(c, &heap[0]))', () => {
      w.line('heap[0] = *c;');
      w.line('heap_sift_down(heap, *n, 0u);');
    });
  });
  w.line();
  w.comment('Heap sort in place: afterwards heap[0] is the highest ranked candidate.');
  w.block('static void heap_sort(cand_t *heap, uint32_t n)', () => {
    w.block('while (n > 1u)', () => {
      w.line('const cand_t t = heap[0];');
      w.line('heap[0] = heap[--n];');
      w.line('heap[n] = t;');
      w.line('heap_sift_down(heap, n, 0u);');
    });
  });
  w.line();
}

/**
 * How the filters read score column `k` of an anchor's `row`: concatenated inputs are row-major, and a literal stride
 * of 1 lets compilers vectorize the hot loops; per-level maps step by `stride` (the map's H·W).
 */
function rowAccess(L: PlanLayout): { S: string; first: number; col: (k: string) => string } {
  const S = L.plan.input === 'concat' ? '1u' : 'stride';
  const first = L.firstLabelColumn;
  return { S, first, col: (k) => (first === 0 ? `row[${k} * ${S}]` : `row[(${k} + ${first}u) * ${S}]`) };
}

function emitOffer(w: CodeWriter, score: string, label: string): void {
  w.line(`c.score = ${score};`);
  w.line(`c.label = ${label};`);
  w.line('heap_offer(heap, n, cap, &c);');
}

/** score_anchor(): the fused filter for the plan's score mode. */
export function emitScoreFilter(w: CodeWriter, L: PlanLayout): void {
  const mode = L.plan.spec.scores;
  const thr = cFloat(L.scoreThreshold, 'score threshold');
  const { S, first, col } = rowAccess(L);
  const doc: Record<typeof mode, string[]> = {
    probabilities: ['Scores are probabilities already: a label is a candidate iff its score > the threshold (NaN never is).'],
    sigmoid: [
      'Sigmoid scores. A logit x <= REJECT_LOGIT has 1/(1+expf(-x)) <= the threshold even with expf 2 ulps low, so it is',
      'skipped without pd_expf (NaN is skipped too); otherwise the score itself decides: candidate iff score > threshold.',
    ],
    softmax: [
      'Softmax scores, decided per anchor before any expf: with m1 the largest foreground logit and other the largest',
      'logit of the remaining columns, every foreground probability is <= sigmoid(m1 - other) (plus float error), so',
      'm1 - other <= REJECT_MARGIN rejects the anchor (with a background column, background_rejects() applies this with',
      'other = the background logit before score_anchor is called at all). A row with a NaN has no',
      'candidates; a row whose max is +Inf gives 1/count to its +Inf columns; a row of -Inf has none. Otherwise the',
      'float softmax as in the reference (max subtracted; the sum of the exponentials as four interleaved partial sums,',
      'combined pairwise, then the columns past a multiple of 4); a label with logit - max <= SKIP_LOGIT',
      'cannot pass and skips its expf.',
    ],
  };
  if (mode === 'softmax' && L.backgroundColumn >= 0) emitBackgroundReject(w, L);
  w.comment(...doc[mode]);
  w.block('static void score_anchor(const float *row, size_t stride, uint32_t anchor, cand_t *heap, uint32_t *n, uint32_t cap)', () => {
    w.line('cand_t c;');
    w.line('uint32_t k;');
    if (S !== 'stride') w.line('(void)stride;');
    if (mode === 'probabilities') {
      w.line('c.anchor = anchor;');
      w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
        w.line(`const float s = ${col('k')};`);
        w.block(`if (s > ${thr})`, () => emitOffer(w, 's', 'k'));
      });
      return;
    }
    if (mode === 'sigmoid') {
      w.line('c.anchor = anchor;');
      w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
        w.line(`const float x = ${col('k')};`);
        w.line('float s;');
        w.line(`if (!(x > ${cFloatOrInf(L.reject, 'sigmoid reject logit')})) continue; /* REJECT_LOGIT */`);
        w.line('s = 1.0f / (1.0f + pd_expf(-x));');
        w.block(`if (s > ${thr})`, () => emitOffer(w, 's', 'k'));
      });
      return;
    }
    const bg = L.backgroundColumn;
    w.line(`float e[${L.numClasses}];`);
    w.line('float m, sum;');
    w.line('uint32_t j;');
    if (bg >= 0) {
      // background_rejects() already ran the cheap test; what remains is the row maximum (and whether a NaN is in
      // the row), taken over order-preserving integer keys: a branch-free reduction compilers vectorize.
      w.line('uint32_t hi = 0u, lo = 0xffffffffu;');
      w.block(`for (j = 0u; j < ${L.numClasses}u; ++j)`, () => {
        w.line('uint32_t u;');
        w.line(`const float x = row[j * ${S}];`);
        w.line('memcpy(&u, &x, sizeof u);');
        w.line('u ^= (u >> 31) ? 0xffffffffu : 0x80000000u; /* float order = unsigned order; NaNs beyond the infinities */');
        w.line('hi = u > hi ? u : hi;');
        w.line('lo = u < lo ? u : lo;');
      });
      w.line('if (hi > 0xff800000u || lo < 0x007fffffu) return; /* a NaN in the row: no candidates */');
      w.line('hi ^= (hi >> 31) ? 0x80000000u : 0xffffffffu;');
      w.line('memcpy(&m, &hi, sizeof m);');
    } else {
      w.line('float m1 = -INFINITY, m2 = -INFINITY;');
      w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
        w.line(`const float x = ${col('k')};`);
        w.line('if (x != x) return;');
        w.block('if (x > m1)', () => {
          w.line('m2 = m1;');
          w.line('m1 = x;');
          w.line('continue;');
        });
        w.line('if (x > m2) m2 = x;');
      });
      w.line('m = m1;');
      w.line(`if (m1 - m2 <= ${cFloatOrInf(L.reject, 'softmax reject margin')}) return; /* REJECT_MARGIN */`);
    }
    w.line('c.anchor = anchor;');
    w.block('if (m == INFINITY)', () => {
      w.line('uint32_t inf = 0u;');
      w.line(`for (j = 0u; j < ${L.numClasses}u; ++j) inf += row[j * ${S}] == INFINITY;`);
      w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
        w.line(`const float s = ${col('k')} == INFINITY ? 1.0f / (float)inf : 0.0f;`);
        w.block(`if (s > ${thr})`, () => emitOffer(w, 's', 'k'));
      });
      w.line('return;');
    });
    w.line('if (m == -INFINITY) return;');
    // the exponentials of a whole row at once (stage by stage: it vectorizes), then the sum as the reference
    // defines it: four interleaved partial sums over the first 4*floor(C/4) columns, combined pairwise, then the rest
    const C = L.numClasses;
    const C4 = C - (C % 4);
    if (C4 > 0) {
      w.block('', () => {
        w.line(`float v[${C4}];`);
        w.line(`for (j = 0u; j < ${C4}u; ++j) v[j] = row[j * ${S}] - m;`);
        w.line('pd_expf_row(v, e);');
      });
    }
    if (C4 < C) w.line(`for (j = ${C4}u; j < ${C}u; ++j) e[j] = pd_expf(row[j * ${S}] - m);`);
    w.block('', () => {
      w.line('float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;');
      w.block(`for (j = 0u; j < ${C4}u; j += 4u)`, () => {
        w.line('s0 += e[j];');
        w.line('s1 += e[j + 1u];');
        w.line('s2 += e[j + 2u];');
        w.line('s3 += e[j + 3u];');
      });
      w.line('sum = (s0 + s1) + (s2 + s3);');
      if (C4 < C) w.line(`for (j = ${C4}u; j < ${C}u; ++j) sum += e[j];`);
    });
    w.block(`for (k = 0u; k < ${L.numLabels}u; ++k)`, () => {
      w.line(`const float d = ${col('k')} - m;`);
      w.line('float s;');
      w.line(`if (d <= ${cFloatOrInf(L.skip, 'softmax skip logit')}) continue; /* SKIP_LOGIT */`);
      w.line(`s = e[k + ${first}u] / sum;`);
      w.block(`if (s > ${thr})`, () => emitOffer(w, 's', 'k'));
    });
  });
  w.line();
}

/**
 * The fast path for the usual anchor, a background one, run before score_anchor: every foreground probability is
 * <= sigmoid(x_k - bg), and the background is one of the columns score_anchor's exact test takes its maximum over,
 * so an anchor whose every fl(x_k - bg) <= REJECT_MARGIN is one the exact test rejects too (NaN compares false, and
 * such rows have no candidates anyway). One branch-free comparison per logit, which compilers vectorize.
 */
function emitBackgroundReject(w: CodeWriter, L: PlanLayout): void {
  const { S, col } = rowAccess(L);
  w.comment(
    'The usual anchor, a background one, costs this one pass: every foreground probability is <= sigmoid(x_k - bg),',
    'and bg is one of the columns score_anchor\'s exact test takes its maximum over, so every fl(x_k - bg) <=',
    'REJECT_MARGIN means no candidate (NaN compares false; such rows have none anyway). Branch-free: it vectorizes.',
  );
  w.block('static int background_rejects(const float *row, size_t stride)', () => {
    w.line(`const float bgl = row[${L.backgroundColumn}u * ${S}];`);
    w.line('int hit = 0;');
    w.line('uint32_t k;');
    if (S !== 'stride') w.line('(void)stride;');
    w.line(`for (k = 0u; k < ${L.numLabels}u; ++k) hit |= (${col('k')} - bgl) > ${cFloatOrInf(L.reject, 'softmax reject margin')};`);
    w.line('return !hit;');
  });
  w.line();
}

/** C expressions of (tx, ty, tw, th) from d0..d3, per decoder (reference.ts deltaTransform). */
function transforms(dec: Exclude<Decoder, { type: 'none' }>): { doc: string; tx: string; ty: string; tw: string; th: string; clamp?: { c: string; both: boolean } } {
  const F = (x: number, what: string) => cFloat(Math.fround(x), what);
  switch (dec.type) {
    case 'ssd': {
      const [v0, v1] = [F(dec.variances[0], 'variance'), F(dec.variances[1], 'variance')];
      return { doc: 'ssd: t = (dx*v0, dy*v0, dw*v1, dh*v1)', tx: `d0 * ${v0}`, ty: `d1 * ${v0}`, tw: `d2 * ${v1}`, th: `d3 * ${v1}` };
    }
    case 'mmdet-delta-xywh': {
      const t = (i: number) => `d${i} * ${F(dec.stds[i]!, 'std')} + ${F(dec.means[i]!, 'mean')}`;
      return { doc: 'mmdet DeltaXYWH: t = delta*std + mean, tw and th clamped to [-clamp, clamp]', tx: t(0), ty: t(1), tw: t(2), th: t(3), clamp: { c: F(dec.clamp, 'clamp'), both: true } };
    }
    case 'torchvision': {
      const t = (i: number) => `d${i} / ${F(dec.weights[i]!, 'weight')}`;
      return { doc: 'torchvision: t = delta / weight, tw and th clamped from above at clamp', tx: t(0), ty: t(1), tw: t(2), th: t(3), clamp: { c: F(dec.clamp, 'clamp'), both: false } };
    }
    case 'tflite': {
      const [sy, sx, sh, sw] = dec.scales.map((s) => F(s, 'scale'));
      return { doc: 'tflite: deltas are (ty, tx, th, tw); t = (tx/sx, ty/sy, tw/sw, th/sh)', tx: `d1 / ${sx}`, ty: `d0 / ${sy}`, tw: `d3 / ${sw}`, th: `d2 / ${sh}` };
    }
  }
}

/** decode_box(): deltas (with a stride) + center-size anchor -> clipped xyxy box. */
export function emitDecode(w: CodeWriter, L: PlanLayout): void {
  const spec = L.plan.spec;
  const clip = spec.clip ? [cFloat(Math.fround(spec.clip[0]), 'clip width'), cFloat(Math.fround(spec.clip[1]), 'clip height')] : undefined;
  const dec = spec.decoder;
  const t = dec.type === 'none' ? undefined : transforms(dec);
  w.comment(
    t ? `Decode one box. ${t.doc};` : 'Boxes arrive decoded (x1, y1, x2, y2).',
    ...(t ? ['cx = acx + aw*tx, cy = acy + ah*ty, w = aw*expf(tw), h = ah*expf(th); box = (cx -+ w/2, cy -+ h/2).'] : []),
    ...(clip ? [`Then clipped to [0, ${spec.clip![0]}] x [0, ${spec.clip![1]}] (NaN stays NaN).`] : []),
  );
  const anchorParam = t ? ', const float *a' : '';
  w.block(`static void decode_box(const float *d, size_t stride${anchorParam}, float *box)`, () => {
    w.line('const float d0 = d[0], d1 = d[stride], d2 = d[2u * stride], d3 = d[3u * stride];');
    if (t) {
      w.line(`const float tx = ${t.tx};`);
      w.line(`const float ty = ${t.ty};`);
      if (t.clamp) {
        const c = t.clamp.c;
        const cl = (v: string) => (t.clamp!.both ? `${v} > ${c} ? ${c} : (${v} < -${c} ? -${c} : ${v})` : `${v} > ${c} ? ${c} : ${v}`);
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
      w.line('const float hw = 0.5f * (a[2] * pd_expf(tw));');
      w.line('const float hh = 0.5f * (a[3] * pd_expf(th));');
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

/** iou() and nms(). */
export function emitNms(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  w.comment('IoU in the boxes\' units (no +1); negative widths count as 0; 0 when the union is not > 0 or a coordinate is NaN.');
  w.block('static float iou(const float *a, const float *b)', () => {
    w.line('if (a[0] != a[0] || a[1] != a[1] || a[2] != a[2] || a[3] != a[3] || b[0] != b[0] || b[1] != b[1] || b[2] != b[2] || b[3] != b[3]) return 0.0f;');
    w.block('', () => {
    w.line('float iw = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);');
    w.line('float ih = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);');
    w.line('float wa = a[2] - a[0], ha = a[3] - a[1], wb = b[2] - b[0], hb = b[3] - b[1];');
    w.line('float inter, uni;');
    w.line('iw = iw > 0.0f ? iw : 0.0f;');
    w.line('ih = ih > 0.0f ? ih : 0.0f;');
    w.line('wa = wa > 0.0f ? wa : 0.0f;');
    w.line('ha = ha > 0.0f ? ha : 0.0f;');
    w.line('wb = wb > 0.0f ? wb : 0.0f;');
    w.line('hb = hb > 0.0f ? hb : 0.0f;');
    w.line('inter = iw * ih;');
    w.line('uni = wa * ha + wb * hb - inter;');
    w.line('return uni > 0.0f ? inter / uni : 0.0f;');
    });
  });
  w.line();
  const perClass = L.plan.spec.nms === 'per-class';
  w.comment(
    `Greedy NMS over candidates in rank order: each one not yet suppressed is output, then suppresses every later`,
    `candidate${perClass ? ' with the same label' : ''} whose IoU with it is > ${L.plan.spec.iouThreshold}. Stops after ${N.maxDetections} outputs.`,
  );
  w.block(`static size_t nms(const cand_t *cand, const float *boxes, uint8_t *removed, uint32_t n, ${N.detection} *out)`, () => {
    w.line('size_t kept = 0u;');
    w.line('uint32_t i, j;');
    w.line('for (i = 0u; i < n; ++i) removed[i] = 0u;');
    w.block('for (i = 0u; i < n; ++i)', () => {
      w.line('const float *bi = boxes + 4u * (size_t)i;');
      w.line('if (removed[i]) continue;');
      w.line('for (j = 0u; j < 4u; ++j) out[kept].box[j] = bi[j];');
      w.line('out[kept].score = cand[i].score;');
      w.line('out[kept].label = cand[i].label;');
      w.line('out[kept].anchor = cand[i].anchor;');
      w.line(`if (++kept == ${N.maxDetections}) break;`);
      w.block('for (j = i + 1u; j < n; ++j)', () => {
        w.line(perClass ? 'if (removed[j] || cand[j].label != cand[i].label) continue;' : 'if (removed[j]) continue;');
        w.line(`if (iou(bi, boxes + 4u * (size_t)j) > ${cFloat(L.iouThreshold, 'IoU threshold')}) removed[j] = 1u;`);
      });
    });
    w.line('return kept;');
  });
  w.line();
}
