// What users run instead of prunedet's fused C, as ONNX graphs for onnxruntime, built for bench's side-by-side timing
// on the same tensors: (1) the post-processing mmdeploy-style exporters append to a detector (Softmax or Sigmoid,
// decode with the runtime's Exp, top-k anchors by their best score, NonMaxSuppression per class, gather, top-k
// detections), and (2) onnxruntime's NonMaxSuppression op alone on boxes already decoded and scores already activated.
// Their semantics are theirs (mmdeploy: pre_top_k over anchors, not prunedet's per-level top-k over pairs), so bench
// reports their detection counts beside their times; they are not prunedet outputs and nothing here is emitted.
import { A, DataType, GraphBuilder, Tensor, finishModel } from '../../ir/builder';
import type { Model } from '../../ir/graph';
import { Ops } from '../../emit/onnx/ops';
import { setDeclaredType } from '../../onnx/value-info';
import { decode } from '../../emit/onnx/stages';
import { f32 } from '../../postprocess/float32';
import { anchorsCenterSize, decodeBox, levelOffsets, scoreAnchor, type LevelShape } from '../../postprocess/reference';
import { foregroundCount, labelColumn, type PostprocessSpec } from '../../postprocess/spec';

export interface PeerParams {
  spec: PostprocessSpec;
  anchors: Float32Array;
  levels: LevelShape[];
  numClasses: number;
}

/** mmdeploy's default `pre_top_k` (configs/mmdet/_base_/base_static.py): anchors kept by their best class score. */
export const MMDEPLOY_PRE_TOP_K = 5000;

const OPSET = 13;

/**
 * mmdeploy-style post-processing: inputs `scores` [1, N, C] and `boxes` [1, N, 4] (raw head outputs), outputs
 * det_boxes [D, 4], det_scores [D], det_labels [D], D <= maxDetections. Thresholds, IoU and caps are the spec's;
 * NonMaxSuppression gets max_output_boxes_per_class = maxDetections.
 */
export function mmdeployStyleGraph(p: PeerParams, preTopK = MMDEPLOY_PRE_TOP_K): Model {
  const { spec } = p;
  const n = levelOffsets(p.levels).at(-1)!;
  const c = p.numClasses;
  const k = foregroundCount(spec, c);
  const b = new GraphBuilder();
  const ops = new Ops(b, OPSET, '', false);
  const scoresIn = b.input('scores', DataType.FLOAT, [1, n, c]);
  const boxesIn = b.input('boxes', DataType.FLOAT, [1, n, 4]);
  const rows = ops.squeeze(scoresIn, [0], 'score_rows');
  const act =
    spec.scores === 'softmax'
      ? ops.op('Softmax', [rows], [A.int('axis', 1)], 'softmax')
      : spec.scores === 'sigmoid'
        ? ops.op('Sigmoid', [rows], [], 'sigmoid')
        : rows;
  const first = labelColumn(spec, 0);
  let s = k === c ? act : ops.slice(act, 1, first, first + k, 'foreground');
  const table =
    spec.decoder.type === 'none'
      ? undefined
      : b.init('anchors_center_size', Tensor.fromFloat32([n, 4], anchorsCenterSize(p.anchors, spec.anchorFormat)));
  let boxes = decode(ops, spec, ops.squeeze(boxesIn, [0], 'box_rows'), table);
  if (n > preTopK) {
    const best = ops.reduce('ReduceMax', s, [1], false, 'best_score');
    const [, idx] = ops.topK(best, ops.i64([preTopK], 'pre_top_k'), 'pre_top_k');
    s = ops.gather(s, idx, 0, 'top_scores');
    boxes = ops.gather(boxes, idx, 0, 'top_boxes');
  }
  const scoresKM = ops.unsqueeze(ops.op('Transpose', [s], [A.ints('perm', [1, 0])], 'class_major'), [0], 'nms_scores');
  const sel = ops.op(
    'NonMaxSuppression',
    [
      ops.unsqueeze(boxes, [0], 'nms_boxes'),
      scoresKM,
      ops.i64([spec.maxDetections], 'max_output_boxes_per_class'),
      ops.f32([f32(spec.iouThreshold)], 'iou_threshold'),
      ops.f32([f32(spec.scoreThreshold)], 'score_threshold'),
    ],
    [A.int('center_point_box', 0)],
    'nms',
  );
  const selScores = ops.op('GatherND', [scoresKM, sel], [], 'selected_scores');
  const kOut = ops.op(
    'Min',
    [ops.length(selScores, 'selected_count'), ops.i64([spec.maxDetections], 'keep_top_k')],
    [],
    'output_count',
  );
  const [detScores, order] = ops.topK(selScores, kOut, 'keep_top_k');
  const picked = ops.gather(sel, order, 0, 'picked');
  const detBoxes = ops.gather(boxes, ops.gather(picked, ops.i64(2, 'col_box'), 1, 'picked_rows'), 0, 'det_boxes');
  const detLabels = ops.gather(picked, ops.i64(1, 'col_class'), 1, 'det_labels');
  b.graph.outputs = [detBoxes, detScores, detLabels];
  const model = finishModel(b.graph, {
    opset: OPSET,
    irVersion: 8,
    docString: 'bench peer: mmdeploy-style post-processing',
  });
  setDeclaredType(detBoxes, DataType.FLOAT, ['num_detections', 4]);
  setDeclaredType(detScores, DataType.FLOAT, ['num_detections']);
  setDeclaredType(detLabels, DataType.INT64, ['num_detections']);
  return model;
}

/**
 * onnxruntime's NonMaxSuppression alone: inputs `boxes` [1, N, 4] (decoded) and `scores` [1, K, N] (activated,
 * background dropped, class-major); output the selected (batch, class, box) triples.
 */
export function nmsOpGraph(p: PeerParams): Model {
  const { spec } = p;
  const n = levelOffsets(p.levels).at(-1)!;
  const k = foregroundCount(spec, p.numClasses);
  const b = new GraphBuilder();
  const ops = new Ops(b, OPSET, '', false);
  const boxes = b.input('boxes', DataType.FLOAT, [1, n, 4]);
  const scores = b.input('scores', DataType.FLOAT, [1, k, n]);
  const sel = ops.op(
    'NonMaxSuppression',
    [
      boxes,
      scores,
      ops.i64([spec.maxDetections], 'max_output_boxes_per_class'),
      ops.f32([f32(spec.iouThreshold)], 'iou_threshold'),
      ops.f32([f32(spec.scoreThreshold)], 'score_threshold'),
    ],
    [A.int('center_point_box', 0)],
    'nms',
  );
  b.graph.outputs = [sel];
  const model = finishModel(b.graph, { opset: OPSET, irVersion: 8, docString: 'bench peer: NonMaxSuppression alone' });
  setDeclaredType(sel, DataType.INT64, ['num_selected', 3]);
  return model;
}

/** The inputs of nmsOpGraph for head outputs (concat form): every box decoded, every score activated (reference). */
export function nmsOpInputs(
  p: PeerParams,
  scores: Float32Array,
  deltas: Float32Array,
): { boxes: Float32Array; scores: Float32Array } {
  const { spec } = p;
  const n = deltas.length / 4;
  const c = p.numClasses;
  const k = foregroundCount(spec, c);
  const centers = spec.decoder.type === 'none' ? p.anchors : anchorsCenterSize(p.anchors, spec.anchorFormat);
  const boxes = new Float32Array(n * 4);
  const classMajor = new Float32Array(k * n);
  const row = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const d = [deltas[4 * i]!, deltas[4 * i + 1]!, deltas[4 * i + 2]!, deltas[4 * i + 3]!] as [
      number,
      number,
      number,
      number,
    ];
    boxes.set(decodeBox(spec, d, centers.subarray(4 * i, 4 * i + 4)), 4 * i);
    scoreAnchor(spec, c, (j) => scores[i * c + j]!, row);
    for (let j = 0; j < k; j++) classMajor[j * n + i] = row[j]!;
  }
  return { boxes, scores: classMajor };
}
