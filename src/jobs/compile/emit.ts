// The optional artefacts of `compile`: the fused C post-processing module (--emit c) for the compiled model, with its
// anchor table pruned like the model. Kept apart from index.ts so the ONNX path does not load the emitters.
import { basename, join } from 'node:path';
import type { Model } from '../../ir/graph';
import type { DetectorSpec } from '../../detector/spec';
import type { AnchorSet, FeatureMap } from '../../anchors/types';
import { PrunedetError } from '../../errors';
import { writeFileAtomic } from '../../fs';
import type { ModelPostprocess } from '../../postprocess/for-model';
import { formatPostprocess } from '../../postprocess/presets';
import { yoloRowOutputs } from '../../postprocess/yolo';
import { emitHeader, emitPostprocessC, type EmitPlan } from '../../emit/c/index';
import { measureFootprint } from '../../native/footprint';
import { parseInputType } from './input-type';
import { appendPostprocess, emitOnnxNms } from '../../emit/onnx/index';
import { MIN_OPSET } from '../../emit/onnx/ops';
import { loadModel } from '../../onnx/load';
import { modelToBytes, saveModel } from '../../onnx/save';
import { cFileNames, sanitizeStem } from '../../emit/c/names';
import {
  PRUNEDET_VERSION,
  type CompileOptions,
  type CompileReport,
  type PostprocessRecord,
} from '../../artefacts/report';
import { compiledPostprocess, emitPlanFor } from '../../artefacts/compiled-postprocess';

export interface EmitContext {
  options: CompileOptions;
  report: CompileReport;
  model: Model;
  spec: DetectorSpec;
  baselineSet: AnchorSet | undefined;
  featureMaps: FeatureMap[];
}

export async function emitArtefacts(
  stage: string,
  ctx: EmitContext,
): Promise<{ files: string[]; postprocess?: PostprocessRecord }> {
  const emit = ctx.options.emit ?? [];
  const preset = ctx.options.postprocess;
  // compile checked the kinds and that a preset is given (checkEmitOptions) before doing any work
  if (emit.length === 0 || !preset) return { files: [] };
  if (ctx.spec.postprocess && !ctx.options.cutHead) {
    throw new PrunedetError(
      'E_USAGE',
      `--emit ${emit.join(',')}: ${basename(ctx.options.model)} keeps its own post-processing (${ctx.spec.postprocess.ops.includes('NonMaxSuppression') ? 'NMS' : 'top-k'} in the graph), so no emitted module could read its outputs`,
      'add --cut-head to end the model at the head and post-process with the emitted module',
    );
  }
  const pp = compiledPostprocess(ctx, preset, ctx.report.config.kept, ctx.options.cutHead === true);
  const files: string[] = [];
  const record: PostprocessRecord = { requested: preset, preset: formatPostprocess(pp.spec), anchors: pp.anchorSource };
  if (emit.includes('c')) Object.assign(record, await emitC(stage, ctx, pp, files));
  if (emit.includes('onnx-nms') || emit.includes('onnx-nms-exact'))
    Object.assign(record, emitOnnx(stage, ctx, pp, files, emit.includes('onnx-nms-exact')));
  if (pp.standardYoloAnchors) {
    // raw YOLO rows carry no anchor sizes: say which ones the emitted post-processing decodes with
    const note = `the YOLO anchor sizes are ${pp.anchorSource} (the graph has no anchor_grid): a model trained with other anchors (autoanchor) decodes wrongly with them; export it with its Detect decode in the graph so prunedet reads its anchor_grid`;
    record.notes = [...((record.notes as string[] | undefined) ?? []), note];
  }
  return { files, postprocess: record };
}

async function emitC(
  stage: string,
  ctx: EmitContext,
  pp: ModelPostprocess,
  files: string[],
): Promise<
  Pick<
    PostprocessRecord,
    | 'input'
    | 'candidateCap'
    | 'workspaceBytes'
    | 'anchorMode'
    | 'symbolPrefix'
    | 'cFiles'
    | 'footprint'
    | 'inputQuant'
    | 'inputLayout'
  >
> {
  const input: EmitPlan['input'] = pp.spec.objectness
    ? 'yolo'
    : ctx.options.cutHead || ctx.spec.outputs.some((o) => o.kind === 'map')
      ? 'per-level'
      : 'concat';
  // --name gives the symbols and the file names; without it the symbols come from the model's file name, the files are postprocess.c/.h
  const name = ctx.options.name !== undefined ? sanitizeStem(ctx.options.name) : undefined;
  const anchorMode = ctx.options.anchors === 'runtime' ? 'runtime' : 'table';
  const plan = emitPlanFor(
    pp,
    name ?? sanitizeStem(basename(ctx.options.model).replace(/\.onnx$/i, '')),
    {
      version: PRUNEDET_VERSION,
      modelFile: basename(ctx.options.model),
      modelSha256: ctx.report.model.sha256.slice(0, 12),
      config: ctx.report.config.name,
    },
    input,
    ctx.spec.imageSize,
    anchorMode,
  );
  if (name !== undefined) plan.fileStem = name;
  const quant = ctx.options.inputType !== undefined ? parseInputType(ctx.options.inputType, ctx.spec) : {};
  if (quant.scores || quant.boxes) plan.quant = quant;
  if (ctx.options.inputLayout === 'nhwc') {
    if (input !== 'per-level')
      throw new PrunedetError(
        'E_USAGE',
        `--input-layout nhwc is for per-level maps, and ${basename(ctx.options.model)}'s module reads concatenated rows`,
        'add --cut-head to end the model at the per-level head maps, or leave --input-layout out',
      );
    plan.layout = 'nhwc';
  }
  const emitted = emitPostprocessC(plan);
  const layout = emitted.layout;
  for (const f of emitted.files) {
    writeFileAtomic(join(stage, f.name), f.text);
    files.push(f.name);
  }
  const { header, source } = cFileNames(plan.fileStem);
  // measured by compiling the module just written (host gcc, and arm-none-eabi-gcc when installed); the header, which
  // the object code does not depend on, is then rewritten with the figures and the FLASH/RAM macros
  const footprint = await measureFootprint(stage, source, layout.names.run);
  if (footprint.length > 0) writeFileAtomic(join(stage, header), emitHeader(layout, footprint));
  return {
    input,
    candidateCap: plan.candidateCap,
    workspaceBytes: layout.workspace.size,
    anchorMode,
    symbolPrefix: layout.names.prefix,
    cFiles: { header, source },
    ...(footprint.length > 0 ? { footprint } : {}),
    ...(plan.quant ? { inputQuant: plan.quant } : {}),
    ...(input === 'per-level' ? { inputLayout: plan.layout ?? 'nchw' } : {}),
  };
}

/**
 * postprocess.onnx (decode + NonMaxSuppression on the scores/boxes tensors, or on a YOLO head's row outputs as they
 * are; its own opset 13 graph) and model_nms.onnx (appended); `exact`: the bit-exact variant (the reference's float arithmetic) instead of the runtime's Softmax/Sigmoid/
 * Exp. A model below opset 13 gets the standalone graph only, and a note saying so: appending would mean raising the
 * model's opset, which changes what its own ops mean.
 */
function emitOnnx(
  stage: string,
  ctx: EmitContext,
  pp: ModelPostprocess,
  files: string[],
  exact: boolean,
): { onnxNms: { standalone: string; appended: string | null }; notes?: string[] } {
  // what the graph reads: the YOLO row outputs as they are, or the concatenated score and box outputs
  const yolo = pp.spec.objectness ? yoloRowOutputs(ctx.spec) : undefined;
  const scores = ctx.spec.outputs.find((o) => o.kind === 'rows' && o.role === 'scores');
  const boxes = ctx.spec.outputs.find((o) => o.kind === 'rows' && o.role === 'boxes');
  if (!yolo && (ctx.options.cutHead || !scores || !boxes)) {
    throw new PrunedetError(
      'E_USAGE',
      "--emit onnx-nms needs the model's concatenated score and box outputs",
      'compile without --cut-head (and from a model with [N, anchors, K] outputs)',
    );
  }
  const params = {
    spec: pp.spec,
    anchors: pp.anchors,
    levels: pp.levels,
    numClasses: pp.numClasses,
    exact,
    ...(yolo
      ? { yoloInputs: yolo.map((o) => ({ name: o.name, levels: o.levels })) }
      : { scoresName: scores!.name, boxesName: boxes!.name }),
  };
  const inputs = yolo ? yolo.map((o) => o.name).join(', ') : `${scores!.name} and ${boxes!.name}`;
  writeFileAtomic(
    join(stage, 'postprocess.onnx'),
    emitOnnxNms({ ...params, scoresName: undefined, boxesName: undefined }),
  );
  files.push('postprocess.onnx');
  const opset = ctx.model.opset('') ?? 0;
  if (opset < MIN_OPSET) {
    const note = `model_nms.onnx not written: ${basename(ctx.options.model)} imports ai.onnx opset ${opset} and the appended post-processing needs ${MIN_OPSET}; run postprocess.onnx (opset ${MIN_OPSET}, a separate graph) on model.onnx's ${inputs} outputs, or convert the model to opset ${MIN_OPSET} and recompile`;
    return { onnxNms: { standalone: 'postprocess.onnx', appended: null }, notes: [note] };
  }
  const copy = loadModel(modelToBytes(ctx.model));
  appendPostprocess(copy, params);
  saveModel(copy, join(stage, 'model_nms.onnx'));
  files.push('model_nms.onnx');
  return { onnxNms: { standalone: 'postprocess.onnx', appended: 'model_nms.onnx' } };
}
