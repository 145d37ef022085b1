// Appending the onnx-nms post-processing (nms-graph.ts) to a detector model, as mmdeploy does for runtimes with
// NonMaxSuppression: the model's concatenated score and box outputs feed the stages, det_* become its outputs.
// Not for models below opset 13: raising their opset would change the meaning of their own ops.
import { DataType, GraphBuilder } from '../../ir/builder';
import type { Model, Value } from '../../ir/graph';
import { declaredType } from '../../onnx/value-info';
import { PrunedetError } from '../../errors';
import { levelOffsets } from '../../postprocess/reference';
import { MIN_OPSET, Ops } from './ops';
import {
  OUTPUT_NAMES,
  addPostprocessStages,
  checkGraphParams,
  yoloInputGroups,
  yoloStageInputs,
  setDetectionOutputs,
  type PostprocessGraphParams,
} from './nms-graph';

export interface AppendParams extends Omit<PostprocessGraphParams, 'opset'> {
  /** Keep the model's scores/boxes outputs before det_* (default: det_* only). */
  keepHeadOutputs?: boolean;
}

/** Prefix of the appended nodes and values. */
export const APPEND_PREFIX = 'postprocess/';

function fail(what: string, hint: string): never {
  throw new PrunedetError('E_POSTPROCESS', `appending onnx-nms post-processing: ${what}`, hint);
}

/**
 * Append decode + NonMaxSuppression to `model` (mutated and returned): its outputs `scoresName` [1, N, C] and
 * `boxesName` [1, N, 4] (default `scores`, `boxes`) feed the stages of nms-graph.ts, written in the model's own opset.
 * Throws PrunedetError E_POSTPROCESS when the model cannot take them.
 */
export function appendPostprocess(model: Model, p: AppendParams): Model {
  const g = model.graph;
  const opset = model.opset('') ?? 0;
  if (opset < MIN_OPSET) {
    fail(
      `the model imports ai.onnx opset ${opset}, the post-processing needs ${MIN_OPSET} or later`,
      'use the standalone postprocess.onnx on the model outputs, or convert the model to opset 13 first',
    );
  }
  const n = checkGraphParams({ ...p, opset }, opset);
  const output = (name: string, cols: number): Value => {
    const v = g.outputs.find((o) => o.name === name);
    if (!v)
      fail(
        `the model has no output "${name}" (outputs: ${g.outputs.map((o) => o.name).join(', ')})`,
        'name the concatenated score and box outputs (scoresName, boxesName)',
      );
    const t = declaredType(v);
    if (t && t.dtype !== DataType.FLOAT) fail(`output ${name} is not float32`, 'append to float32 head outputs');
    const want = [1, n, cols];
    if (t?.shape && (t.shape.length !== 3 || t.shape.some((d, i) => typeof d === 'number' && d !== want[i]))) {
      fail(
        `output ${name} is [${t.shape.join(', ')}], expected [1, ${n}, ${cols}] for ${levelOffsets(p.levels).length - 1} levels`,
        'check the levels and numClasses against the model',
      );
    }
    return v;
  };
  const ops = new Ops(new GraphBuilder(g), opset, APPEND_PREFIX, p.exact === true);
  let scores: Value;
  let boxes: Value;
  if (p.spec.objectness) {
    // YOLO rows: the model's row outputs as they are (per level or fused)
    const rows = yoloInputGroups(p).map(({ name, dims }) => {
      const v = g.outputs.find((o) => o.name === name);
      if (!v) fail(`the model has no output "${name}"`, 'name the YOLO row outputs (yoloInputs)');
      const t = declaredType(v);
      if (t && t.dtype !== DataType.FLOAT) fail(`output ${name} is not float32`, 'append to float32 head outputs');
      if (
        t?.shape &&
        (t.shape.length !== dims.length || t.shape.some((d, i) => typeof d === 'number' && d !== dims[i]))
      )
        fail(
          `output ${name} is [${t.shape.join(', ')}], expected [${dims.join(', ')}]`,
          'check the levels and numClasses',
        );
      return v;
    });
    [scores, boxes] = yoloStageInputs(ops, p, rows);
  } else {
    scores = output(p.scoresName ?? 'scores', p.numClasses);
    boxes = output(p.boxesName ?? 'boxes', 4);
  }
  const taken = Object.values(OUTPUT_NAMES).filter((name) => g.values.has(name));
  if (taken.length > 0) fail(`the model already has a value named ${taken.join(', ')}`, 'rename it before appending');
  const det = addPostprocessStages(ops, p, scores, boxes);
  setDetectionOutputs(g, det, p.keepHeadOutputs ? g.outputs.slice() : []);
  g.sortTopologically();
  return model;
}
