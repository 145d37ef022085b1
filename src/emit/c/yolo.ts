// The YOLO parts of the C module (input form 'yolo': per level rows [A, H, W, 4 + C], anchors listed (a, y, x), score
// column 0 the objectness): the objectness score filter, the range over a level's rows, the grid decode with the
// level's stride and per-anchor sizes, and decode_candidate. Each mirrors src/postprocess/reference.ts
// (objectnessCandidates, yoloCentreSize) operation for operation.
import { cFloat } from './floats';
import type { PlanLayout } from './plan';
import type { CodeWriter } from './writer';

/** score_anchor() for YOLO rows: row[0] the objectness, row[1 + k] label k, contiguous. */
export function emitObjectnessFilter(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const spec = L.plan.spec;
  const sigmoid = spec.scores === 'sigmoid';
  const thr = cFloat(L.scoreThreshold, 'score threshold');
  const act = (x: string) => (sigmoid ? `1.0f / (1.0f + ${loc.expf}(-${x}))` : x);
  const K = L.numLabels;
  w.comment(
    'YOLO scores: o = objectness; nothing unless o > the threshold; then score_k = o * class k, a candidate iff > the',
    spec.bestLabel
      ? 'threshold, and only the best label of the row (lowest label on ties; none when a product is NaN).'
      : 'threshold (every label that passes).',
    ...(sigmoid
      ? [
          'Sigmoids: a logit <= REJECT_LOGIT has 1/(1+expf(-x)) <= the threshold even with expf 2 ulps low, so the row (for',
          'the objectness) or the label (o <= 1, so o * p <= p) is skipped without pd_expf.',
        ]
      : []),
  );
  const reject = sigmoid ? cFloat(L.reject, 'reject logit') : '';
  w.block(`static void ${loc.score_anchor}(const float *row, uint32_t anchor, ${loc.pool_t} *pool)`, () => {
    w.line(`const uint32_t pair = anchor * ${K}u;`);
    w.line('float o;');
    w.line('uint32_t k;');
    if (spec.bestLabel) {
      w.line('float best = -INFINITY;');
      w.line('uint32_t best_k = 0u;');
    }
    if (sigmoid) w.line(`if (!(row[0] > ${reject})) return;`);
    w.line(`o = ${act('row[0]')};`);
    w.line(`if (!(o > ${thr})) return;`);
    w.block(`for (k = 0u; k < ${K}u; ++k)`, () => {
      w.line('const float x = row[1u + k];');
      w.line('float s;');
      if (sigmoid && !spec.bestLabel) w.line(`if (!(x > ${reject})) continue;`);
      w.line(`s = o * (${act('x')});`);
      if (spec.bestLabel) {
        w.line('if (s != s) return;');
        w.block('if (s > best)', () => {
          w.line('best = s;');
          w.line('best_k = k;');
        });
      } else {
        w.line(`if (s > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(s, pair + k));`);
      }
    });
    if (spec.bestLabel) w.line(`if (best > ${thr}) ${loc.pool_offer}(pool, ${loc.cand_key}(best, pair + best_k));`);
  });
  w.line();
}

/** score_range() for YOLO rows: every row of one level, plane by plane (a outer, so rows are read in memory order). */
export function emitYoloRange(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const K = L.numClasses + 4;
  w.comment(
    'The rows of one level into the pool. Row r = a * hw + p (anchor a, position p = y * W + x) starts at base + r * K;',
    'its anchor index is first_anchor + p * na + a (prunedet orders anchors (y, x, a) within a level).',
  );
  w.block(
    `static ${loc.HOT} void ${loc.score_range}(const float *base, size_t hw, uint32_t na, uint32_t first_anchor, ${loc.pool_t} *pool)`,
    () => {
      w.line('uint32_t a;');
      w.line('size_t p;');
      w.block('for (a = 0u; a < na; ++a)', () => {
        w.line(
          `for (p = 0u; p < hw; ++p) ${loc.score_anchor}(base + ((size_t)a * hw + p) * ${K}u + 4u, first_anchor + (uint32_t)p * na + a, pool);`,
        );
      });
    },
  );
  w.line();
}

/** The streaming pass over YOLO rows, level by level. */
export function emitYoloStream(
  w: CodeWriter,
  L: PlanLayout,
  pool: string,
  levelStart: () => void,
  levelEnd: () => void,
): void {
  const loc = L.names.local;
  w.block(`for (l = 0u; l < ${L.names.numLevels}; ++l)`, () => {
    levelStart();
    w.line(
      `if (${loc.level_offset}[l + 1u] > ${loc.level_offset}[l]) ${loc.score_range}(rows[l], (size_t)${loc.level_h}[l] * ${loc.level_w}[l], ${loc.level_a}[l], ${loc.level_offset}[l], ${pool});`,
    );
    levelEnd();
  });
}

/** Level strides and the kept anchors' sizes, for the grid decoders (the table they replace is (gx, gy, aw, ah)). */
export function emitYoloTables(w: CodeWriter, L: PlanLayout): void {
  const y = L.yolo;
  if (!y) return;
  const loc = L.names.local;
  const n = L.names.numLevels;
  w.comment(
    'Grid decode parameters: per level the stride (x, y) in pixels, and per kept anchor its size (w, h) in pixels,',
    "anchor a of level l at yolo_anchor[level_first[l] + a]. The grid cell comes from the anchor's index.",
  );
  w.line(
    `static const float ${loc.level_stride}[${n}][2] = { ${L.levels.map((l, i) => `{ ${cFloat(Math.fround(l.stride[1]), `level ${i} stride`)}, ${cFloat(Math.fround(l.stride[0]), `level ${i} stride`)} }`).join(', ')} };`,
  );
  const flat = y.anchors.flat();
  w.line(`static const float ${loc.yolo_anchor}[${Math.max(flat.length, 1)}][2] = {`);
  w.indent();
  y.anchors.forEach((lv, i) =>
    lv.forEach(([aw, ah], a) =>
      w.line(
        `{ ${cFloat(aw, `level ${i} anchor ${a} width`)}, ${cFloat(ah, `level ${i} anchor ${a} height`)} }, /* level ${i} */`,
      ),
    ),
  );
  if (flat.length === 0) w.line('{ 0.0f, 0.0f }');
  w.dedent();
  w.line('};');
  let first = 0;
  const firsts = y.anchors.map((lv) => ((first += lv.length), first - lv.length));
  w.line(`static const uint32_t ${loc.anchor_level}[${n}] = { ${firsts.map((v) => `${v}u`).join(', ')} };`);
  w.line();
}

/** decode_box() for YOLO rows: decoded centre-size boxes, or the yolov5 / yolov3 grid decode. */
export function emitYoloDecode(w: CodeWriter, L: PlanLayout): void {
  const loc = L.names.local;
  const dec = L.plan.spec.decoder;
  const clip = L.plan.spec.clip;
  const sig = (x: string) => `(1.0f / (1.0f + ${loc.expf}(-${x})))`;
  const grid = dec.type === 'yolov5' || dec.type === 'yolov3';
  w.comment(
    dec.type === 'yolov5'
      ? 'yolov5 grid decode: cx = ((2 * sigmoid(tx) - 0.5) + gx) * sx, w = (2 * sigmoid(tw)) * (2 * sigmoid(tw)) * aw.'
      : dec.type === 'yolov3'
        ? 'yolov3 grid decode: cx = (sigmoid(tx) + gx) * sx, w = expf(tw) * aw.'
        : 'Boxes arrive decoded as centre-size (cx, cy, w, h).',
    'box = (cx - 0.5w, cy - 0.5h, cx + 0.5w, cy + 0.5h)' +
      (clip ? `, clipped to [0, ${clip[0]}] x [0, ${clip[1]}].` : '.'),
  );
  const params = grid ? ', float gx, float gy, const float *an, const float *s' : '';
  w.block(`static void ${loc.decode_box}(const float *d${params}, float *box)`, () => {
    if (dec.type === 'yolov5') {
      w.line(`const float vw = 2.0f * ${sig('d[2]')}, vh = 2.0f * ${sig('d[3]')};`);
      w.line(`const float cx = ((2.0f * ${sig('d[0]')} - 0.5f) + gx) * s[0];`);
      w.line(`const float cy = ((2.0f * ${sig('d[1]')} - 0.5f) + gy) * s[1];`);
      w.line('const float hw = 0.5f * ((vw * vw) * an[0]);');
      w.line('const float hh = 0.5f * ((vh * vh) * an[1]);');
    } else if (dec.type === 'yolov3') {
      w.line(`const float cx = (${sig('d[0]')} + gx) * s[0];`);
      w.line(`const float cy = (${sig('d[1]')} + gy) * s[1];`);
      w.line(`const float hw = 0.5f * (${loc.expf}(d[2]) * an[0]);`);
      w.line(`const float hh = 0.5f * (${loc.expf}(d[3]) * an[1]);`);
    } else {
      w.line('const float cx = d[0], cy = d[1];');
      w.line('const float hw = 0.5f * d[2], hh = 0.5f * d[3];');
    }
    w.line('box[0] = cx - hw;');
    w.line('box[1] = cy - hh;');
    w.line('box[2] = cx + hw;');
    w.line('box[3] = cy + hh;');
    if (clip) {
      const lim = clip.map((v, i) => cFloat(Math.fround(v), i ? 'clip height' : 'clip width'));
      for (let i = 0; i < 4; i++) {
        const hi = lim[i % 2]!;
        w.line(`box[${i}] = box[${i}] < 0.0f ? 0.0f : (box[${i}] > ${hi} ? ${hi} : box[${i}]);`);
      }
    }
  });
  w.line();
  const K = L.numClasses + 4;
  w.comment(
    'Anchor n of level l is position p = (n - offset) / A, anchor a = (n - offset) % A; its row is a * hw + p.',
  );
  w.block(`static void ${loc.decode_candidate}(const float *const *rows, uint32_t anchor, float *box)`, () => {
    w.line('uint32_t l = 0u, p, a;');
    w.line('size_t hw;');
    w.line(`while (anchor >= ${loc.level_offset}[l + 1u]) ++l;`);
    w.line(`hw = (size_t)${loc.level_h}[l] * ${loc.level_w}[l];`);
    w.line(`p = (anchor - ${loc.level_offset}[l]) / ${loc.level_a}[l];`);
    w.line(`a = (anchor - ${loc.level_offset}[l]) % ${loc.level_a}[l];`);
    const row = `rows[l] + ((size_t)a * hw + p) * ${K}u`;
    if (grid) {
      w.line(
        `${loc.decode_box}(${row}, (float)(p % ${loc.level_w}[l]), (float)(p / ${loc.level_w}[l]), ${loc.yolo_anchor}[${loc.anchor_level}[l] + a], ${loc.level_stride}[l], box);`,
      );
    } else {
      w.line(`${loc.decode_box}(${row}, box);`);
    }
  });
  w.line();
}
