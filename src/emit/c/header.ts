// postprocess.h: the public face of an emitted module (guard, sizes, types, the documented run function, a usage
// example). One emitX(writer, layout) per section, called in order by emitHeader. Only <stdint.h>/<stddef.h>.
import type { PostprocessSpec } from '../../postprocess/spec';
import { bannerText, commentSafe } from './banner';
import { cFileNames } from './names';
import type { PlanLayout } from './plan';
import { CodeWriter } from './writer';
import { emitFootprint, type ModuleFootprint } from './footprint';
import { elemType, quantDoc } from './quant';
import { fmtHW, fmtStride } from '../../format/levels';

/** The run function's signature as three lines: the header ends the last with `;`, the source with the body. */
export function runSignature(L: PlanLayout): [string, string, string] {
  const N = L.names;
  const ts = elemType(L.quant.scores?.params);
  const tb = elemType(L.quant.boxes);
  const first =
    L.plan.input === 'concat'
      ? `const ${ts} *scores, const ${tb} *boxes,`
      : L.plan.input === 'yolo'
        ? 'const float *const *rows,'
        : `const ${ts} *const *cls, const ${tb} *const *reg,`;
  return [
    `${N.status} ${N.run}(${first}`,
    '    void *workspace, size_t workspace_size,',
    `    ${N.detection} *detections, size_t capacity, size_t *count)`,
  ];
}

/** What the deltas / boxes input holds, per decoder. */
export function deltaOrder(spec: PostprocessSpec): string {
  switch (spec.decoder.type) {
    case 'none':
      return 'decoded boxes (x1, y1, x2, y2)';
    case 'tflite':
      return 'box deltas (ty, tx, th, tw)';
    case 'xywh':
      return 'decoded boxes (cx, cy, w, h)';
    case 'yolov5':
    case 'yolov3':
      return 'raw box values (tx, ty, tw, th)';
    default:
      return 'box deltas (dx, dy, dw, dh)';
  }
}

/** One line per post-processing choice, for the header's overview. */
export function describeSpec(L: PlanLayout): string[] {
  const s = L.plan.spec;
  const d = s.decoder;
  const decoder =
    d.type === 'none'
      ? 'none (the graph outputs decoded xyxy boxes)'
      : d.type === 'ssd'
        ? `ssd center-size, variances ${d.variances.join(', ')}`
        : d.type === 'mmdet-delta-xywh'
          ? `mmdet DeltaXYWH, means ${d.means.join(', ')}, stds ${d.stds.join(', ')}, dw/dh clamped to +-${d.clamp}`
          : d.type === 'torchvision'
            ? `torchvision BoxCoder, weights ${d.weights.join(', ')}, dw/dh clamped above at ${d.clamp}`
            : d.type === 'tflite'
              ? `tflite center-size, scales (y, x, h, w) ${d.scales.join(', ')}`
              : d.type === 'xywh'
                ? 'xywh (the graph outputs decoded centre-size boxes)'
                : d.type === 'yolov5'
                  ? 'yolov5 grid: xy = (2 sigmoid - 0.5 + grid) * stride, wh = (2 sigmoid)^2 * anchor'
                  : 'yolov3 grid: xy = (sigmoid + grid) * stride, wh = exp * anchor';
  const bg =
    s.background === 'none'
      ? 'no background column'
      : `background column ${L.backgroundColumn} (${s.background}), not reported`;
  const topk =
    s.preNmsTopK > 0
      ? `top ${s.preNmsTopK} candidates ${s.topKScope === 'per-level' ? 'per level' : 'over all levels'}`
      : 'no top-k';
  const yolo = L.yolo;
  const objectness = s.objectness
    ? [
        `scores:     YOLO: o = ${s.scores === 'sigmoid' ? 'sigmoid(objectness)' : 'objectness'}, score = o * ${s.scores === 'sigmoid' ? 'sigmoid(class)' : 'class'}; labels 0..${L.numLabels - 1}`,
        `candidates: rows with o > ${s.scoreThreshold}, then ${s.bestLabel ? "the row's best label (lowest on ties; none if a score is NaN)" : 'every label'} with score > ${s.scoreThreshold} (strict);`,
        `            ${topk}, then at most ${L.cap} kept`,
      ]
    : [
        `scores:     ${s.scores} over ${L.numClasses} column(s), ${bg}; labels 0..${L.numLabels - 1}`,
        `candidates: (anchor, label) pairs with score > ${s.scoreThreshold} (strict); ${topk}, then at most ${L.cap} kept`,
      ];
  return [
    `decoder:    ${decoder}${d.type === 'none' || d.type === 'xywh' || yolo ? '' : `; anchors ${s.anchorFormat}`}`,
    ...(yolo
      ? [
          `anchors:    no table: per level the stride and the kept anchors' sizes (${(L.levels.length * 2 + yolo.anchors.flat().length * 2) * 4} B read-only);`,
          `            the grid cell comes from the anchor index`,
        ]
      : d.type === 'none' || d.type === 'xywh'
        ? []
        : anchorCosts(L)),
    ...objectness,
    `            (the highest scoring; ties go to the lower anchor index, then the lower label)`,
    `nms:        greedy, ${s.nms === 'per-class' ? 'per class' : 'class-agnostic'}, suppress when IoU > ${s.iouThreshold} (no +1 on widths)`,
    `output:     at most ${L.maxDetections} detections by score (ties: anchor, label)${s.clip ? `; boxes clipped to [0, ${s.clip[0]}] x [0, ${s.clip[1]}]` : ''}`,
    `NaN:        a NaN score is never a candidate; a candidate whose box input holds a NaN gets NaN coordinates`,
    `            (${s.clip ? 'clipping leaves NaN as NaN; ' : ''}NMS counts a NaN box as overlapping nothing), as in prunedet's reference`,
  ];
}

/** Where the anchors come from, and what each --anchors mode costs in read-only data (neither needs RAM). */
function anchorCosts(L: PlanLayout): string[] {
  const table = L.numAnchors * 16;
  const bases = L.levels.reduce((n, l) => n + l.a, 0);
  const runtime = L.levels.length * (16 + 16) + Math.max(bases, 1) * 32;
  return L.runtimeAnchors
    ? [
        `anchors:    generated on demand (--anchors runtime): ${runtime} B of read-only per-level parameters, no RAM;`,
        `            the compiled-in table would be ${table} B (${L.numAnchors} x 4 floats), bit for bit the same anchors`,
      ]
    : [
        `anchors:    compiled-in table (--anchors table): ${table} B of read-only data (${L.numAnchors} x 4 floats), no RAM;`,
        `            --anchors runtime would hold ${runtime} B of per-level parameters instead (same anchors, bit for bit)`,
      ];
}

function emitGuardOpen(w: CodeWriter, L: PlanLayout): void {
  w.line(`/* ${bannerText(L.plan)} */`);
  w.line(`#ifndef ${L.names.guard}`);
  w.line(`#define ${L.names.guard}`);
  w.line();
  w.line('#include <stddef.h>');
  w.line('#include <stdint.h>');
  w.line();
  w.line('#ifdef __cplusplus');
  w.line('extern "C" {');
  w.line('#endif');
  w.line();
}

function levelTable(L: PlanLayout): string[] {
  const rows = [['level', 'stride', 'map HxW', 'A', 'offset', 'anchors']];
  L.levels.forEach((l, i) =>
    rows.push([String(i), fmtStride(l.stride), fmtHW(l.h, l.w), String(l.a), String(l.offset), String(l.count)]),
  );
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map(
    (r) =>
      '  ' +
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
  );
}

/** What the score and box inputs hold when quantized (nothing for float inputs). */
function quantLines(L: PlanLayout): string[] {
  const qs = L.quant.scores;
  const qb = L.quant.boxes;
  if (!qs && !qb) return [];
  return [
    `Element types: scores ${quantDoc(qs?.params)};`,
    `               boxes ${quantDoc(qb)}.`,
    ...(qs
      ? [
          'Quantized scores are tested as integers against bounds proven over every value (and, for softmax, every pair',
          'of values); only rows that can hold a candidate are dequantised, and only kept candidates are decoded. The',
          "detections equal prunedet's reference run on the dequantised tensors.",
        ]
      : []),
  ];
}

function inputDoc(L: PlanLayout): string[] {
  const N = L.names;
  if (L.plan.input === 'yolo') {
    return [
      'Inputs (YOLO rows), one pointer per level (NULL allowed for a level with 0 anchors); a fused output',
      '[sum A*H*W][K] is the levels one after another (rows[l] = base + level offset * K):',
      `  rows[l] float[A][H][W][4 + ${N.numClasses}]: ${deltaOrder(L.plan.spec)}, objectness, ${L.numLabels} classes`,
    ];
  }
  const ts = elemType(L.quant.scores?.params);
  const tb = elemType(L.quant.boxes);
  if (L.plan.input === 'concat') {
    return [
      'Inputs (concat form):',
      `  scores  ${ts}[${N.numAnchors}][${N.numClasses}], row-major, one row per anchor`,
      `  boxes   ${tb}[${N.numAnchors}][4], ${deltaOrder(L.plan.spec)}`,
      ...quantLines(L),
    ];
  }
  if (L.plan.layout === 'nhwc') {
    return [
      'Inputs (per-level form), NHWC maps with N = 1, one pointer per level (NULL allowed for a level with 0 anchors):',
      `  cls[l]  ${ts}[H][W][A*${N.numClasses}], value a*${N.numClasses} + k of position (y, x) (anchor-major)`,
      `  reg[l]  ${tb}[H][W][A*4], value a*4 + j: ${deltaOrder(L.plan.spec)}`,
      ...quantLines(L),
    ];
  }
  return [
    'Inputs (per-level form), NCHW maps with N = 1, one pointer per level (NULL allowed for a level with 0 anchors):',
    `  cls[l]  ${ts}[A*${N.numClasses}][H][W], channel a*${N.numClasses} + k (anchor-major)`,
    `  reg[l]  ${tb}[A*4][H][W], channel a*4 + j: ${deltaOrder(L.plan.spec)}`,
    ...quantLines(L),
  ];
}

function emitOverview(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  const call =
    L.plan.input === 'concat'
      ? `${N.run}(scores, boxes, workspace, sizeof workspace,`
      : L.plan.input === 'yolo'
        ? `${N.run}(rows, workspace, sizeof workspace,`
        : `${N.run}(cls_maps, reg_maps, workspace, sizeof workspace,`;
  w.doc(
    `\\file ${cFileNames(L.plan.fileStem).header}`,
    `\\brief Fused detector post-processing "${commentSafe(L.plan.name)}": score filter, top-k, decode, NMS.`,
    '',
    ...describeSpec(L).map(commentSafe),
    '',
    ...inputDoc(L),
    '',
    `Anchor levels (anchor n = offset + (y * W + x) * A + a, levels finest first):`,
    ...levelTable(L),
    '',
    "No allocation, no stdio, no writable globals: all state lives in the caller's workspace, so one workspace per",
    "thread makes the function reentrant. Link with the C math library (-lm). For results identical to prunedet's",
    'reference, compile without -ffast-math and with -ffp-contract=off (the Makefile and CMakeLists.txt do).',
    '',
    'Example:',
    '',
    `    static uint32_t workspace[(${N.workspaceMacro} + 3u) / 4u];  // 4-byte aligned`,
    `    ${N.detection} dets[${N.maxDetections}];`,
    '    size_t n = 0, i;',
    `    if (${call}`,
    `            dets, ${N.maxDetections}, &n) == ${N.ok}) {`,
    '        for (i = 0; i < n; ++i)',
    '            draw(dets[i].box, dets[i].score, dets[i].label);',
    '    }',
  );
  w.line();
}

function emitSizes(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  w.line(`/** Anchor levels (pointers in the per-level form). */`);
  w.line(`#define ${N.numLevels} ${L.levels.length}u`);
  w.line(`/** Anchors N on the anchor axis. */`);
  w.line(`#define ${N.numAnchors} ${L.numAnchors}u`);
  w.line(`/** Score columns C per anchor${L.backgroundColumn >= 0 ? ', background included' : ''}. */`);
  w.line(`#define ${N.numClasses} ${L.numClasses}u`);
  w.line(`/** Foreground labels reported (0 .. ${N.numLabels} - 1). */`);
  w.line(`#define ${N.numLabels} ${L.numLabels}u`);
  w.line(
    `/** Most detections one run returns: min(max detections ${L.plan.spec.maxDetections}, candidate cap ${L.cap}). */`,
  );
  w.line(`#define ${N.maxDetections} ${L.maxDetections}u`);
  w.line(`/** Most candidates kept for NMS (the highest ranked). */`);
  w.line(`#define ${N.candidateCap} ${L.cap}u`);
  w.doc('Workspace bytes (4-byte aligned) =', ...L.workspace.formula.split('\n').map((l) => `  ${l}`));
  w.line(`#define ${N.workspaceMacro} ${L.workspace.size}u`);
  w.line();
}

function emitTypes(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  w.doc('Status of a run.');
  w.block(
    'typedef enum',
    () => {
      w.line(`${N.ok} = 0,           /**< detections written */`);
      w.line(`${N.errArg} = 1,      /**< NULL input or output pointer, or capacity < ${N.maxDetections} */`);
      w.line(`${N.errWorkspace} = 2 /**< workspace NULL, not 4-byte aligned, or smaller than ${N.workspaceMacro} */`);
    },
    ` ${N.status};`,
  );
  w.line();
  w.doc('One detection.');
  w.block(
    'typedef struct',
    () => {
      w.line("float box[4];    /**< x1, y1, x2, y2 in the anchors' units */");
      w.line('float score;     /**< the class score that passed the threshold */');
      w.line(`uint32_t label;  /**< foreground label, 0 .. ${N.numLabels} - 1 */`);
      w.line(`uint32_t anchor; /**< anchor index, 0 .. ${N.numAnchors} - 1 */`);
    },
    ` ${N.detection};`,
  );
  w.line();
}

/** The dimensions of a level's map in the plan's layout. */
function maps(L: PlanLayout, k: string): string {
  return L.plan.layout === 'nhwc' ? `[H][W][A*${k}]` : `[A*${k}][H][W]`;
}

function emitFunctions(w: CodeWriter, L: PlanLayout): void {
  const N = L.names;
  w.doc(`\\return ${N.workspaceMacro}, for callers that size the workspace at run time.`);
  w.line(`size_t ${N.workspaceSize}(void);`);
  w.line();
  const inputs: [string, string, string][] =
    L.plan.input === 'yolo'
      ? [['in', 'rows', `${N.numLevels} pointers to YOLO rows float[A][H][W][4 + C] (see Inputs above)`]]
      : L.plan.input === 'concat'
        ? [
            ['in', 'scores', `${elemType(L.quant.scores?.params)}[N][C] class scores (see Inputs above)`],
            ['in', 'boxes', `${elemType(L.quant.boxes)}[N][4] ${deltaOrder(L.plan.spec)}`],
          ]
        : [
            ['in', 'cls', `${N.numLevels} pointers to class maps ${elemType(L.quant.scores?.params)}${maps(L, 'C')}`],
            ['in', 'reg', `${N.numLevels} pointers to box maps ${elemType(L.quant.boxes)}${maps(L, '4')}`],
          ];
  const params: [string, string, string][] = [
    ...inputs,
    ['in,out', 'workspace', `caller memory, 4-byte aligned, at least ${N.workspaceMacro} bytes, written as scratch`],
    ['in', 'workspace_size', 'its size in bytes'],
    ['out', 'detections', `room for ${N.maxDetections} detections`],
    ['in', 'capacity', 'number of entries in detections'],
    ['out', 'count', 'number of detections written (0 on error)'],
  ];
  const dirWidth = Math.max(...params.map(([d]) => d.length));
  const nameWidth = Math.max(...params.map(([, n]) => n.length));
  w.doc(
    'Run post-processing on one image: filter scores while streaming over the anchors (cheap proven bounds first,',
    'exponentials only for rows that can hold a candidate), keep the top candidates, then run greedy NMS in rank order,',
    "decoding a candidate's box only when NMS reaches it, and write the detections by score.",
    '',
    ...params.map(([d, n, text]) => `@param${`[${d}]`.padEnd(dirWidth + 2)} ${n.padEnd(nameWidth)}  ${text}`),
    `@return ${N.ok}, ${N.errArg} or ${N.errWorkspace}; arguments are checked before anything is read.`,
  );
  const [head, args, last] = runSignature(L);
  w.line(head);
  w.line(args);
  w.line(`${last};`);
  w.line();
}

function emitGuardClose(w: CodeWriter, L: PlanLayout): void {
  w.line('#ifdef __cplusplus');
  w.line('}');
  w.line('#endif');
  w.line();
  w.line(`#endif /* ${L.names.guard} */`);
}

/** The text of postprocess.h; `footprint` (measured by compiling the source) adds its section and macros. */
export function emitHeader(L: PlanLayout, footprint: readonly ModuleFootprint[] = []): string {
  const w = new CodeWriter();
  emitGuardOpen(w, L);
  emitOverview(w, L);
  emitSizes(w, L);
  emitFootprint(w, L.names, footprint);
  emitTypes(w, L);
  emitFunctions(w, L);
  emitGuardClose(w, L);
  return w.toString();
}
