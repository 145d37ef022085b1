// Entry point of detector analysis for commands: load, infer shapes (with an input-shape override), analyse.
import { checkQuantizedNodes } from '../quant/ops';
import type { Dim, Model } from '../ir/graph';
import { declaredType } from '../onnx/value-info';
import { loadModelWithInfo } from '../onnx/load';
import { dtypeWidth } from '../ir/dtype';
import { checkMemoryPlan } from '../limits';
import { inferShapes, type ShapeResult } from '../shape/infer';
import { analyzeDetector } from './analyze';
import { loadHeadSpec, type HeadSpecFile } from './head-spec';
import type { DetectorSpec } from './spec';

export interface DetectorOptions {
  /** N,C,H,W for models with a dynamic input size. */
  inputShape?: number[];
  /** Path of a --head-spec JSON file, or the file already loaded (loadHeadSpec). */
  headSpec?: string | HeadSpecFile;
}

export interface AnalyzedModel {
  model: Model;
  shapes: ShapeResult;
  spec: DetectorSpec;
  bytes: number;
  /** The file's bytes (the weights are views into them). */
  fileBytes: Uint8Array;
  file: string;
  /** Every file the model was read from: its path and its external data files. */
  files: string[];
}

/**
 * Shape-inference options for `--input-shape`: it applies to the first non-initializer graph input. Without it, a
 * symbolic batch dimension (N,3,H,W exports) is taken as 1; symbolic H or W need the flag.
 */
export function inputShapeOverride(model: Model, shape: number[] | undefined): { inputShapes?: Record<string, Dim[]> } {
  const first = model.graph.inputs.find((v) => !v.initializer);
  if (!first) return {};
  if (shape) return { inputShapes: { [first.name]: shape } };
  const declared = declaredType(first)?.shape;
  if (declared && declared.length === 4 && typeof declared[0] !== 'number')
    return { inputShapes: { [first.name]: [1, ...declared.slice(1)] } };
  return {};
}

export function analyzeModel(
  model: Model,
  opts: DetectorOptions = {},
  label = 'the model',
): { shapes: ShapeResult; spec: DetectorSpec } {
  const shapes = inferShapes(model, inputShapeOverride(model, opts.inputShape));
  checkQuantizedNodes(model.graph.nodes, shapes);
  const headSpec = !opts.headSpec
    ? undefined
    : typeof opts.headSpec === 'string'
      ? loadHeadSpec(opts.headSpec)
      : opts.headSpec;
  const spec = analyzeDetector(model, shapes, { label, ...(headSpec ? { headSpec } : {}) });
  return { shapes, spec };
}

/** Load and analyse a model that is about to be run (verify, search, bench): refused when one run plans too much memory. */
export function loadDetector(path: string, opts: DetectorOptions = {}): AnalyzedModel {
  const { model, byteLength, bytes, source, files } = loadModelWithInfo(path);
  const { shapes, spec } = analyzeModel(model, opts, source);
  checkMemoryPlan(
    runBytes(model, shapes),
    `running ${source} once (input ${spec.input.shape.join('x')})`,
    'pass a smaller --input-shape',
  );
  return { model, shapes, spec, bytes: byteLength, fileBytes: bytes, file: path, files };
}

/**
 * Memory one inference of `model` plans to hold, at least: its inputs and outputs, and its largest intermediate tensor
 * (onnxruntime reuses buffers, but never below the largest one).
 */
export function runBytes(model: Model, shapes: ShapeResult): number {
  const g = model.graph;
  const bytesOf = (info: { dtype: number; shape?: Dim[] } | undefined): number => {
    if (!info?.shape || !info.shape.every((d) => typeof d === 'number')) return 0;
    let w = 4;
    try {
      w = Math.max(dtypeWidth(info.dtype), 1);
    } catch {
      // unknown element type: count 4 bytes
    }
    return (info.shape as number[]).reduce((a, b) => a * b, 1) * w;
  };
  let largest = 0;
  for (const [v, info] of shapes.info) if (!v.initializer) largest = Math.max(largest, bytesOf(info));
  const io = [...g.inputs.filter((v) => !v.initializer), ...g.outputs].reduce((s, v) => s + bytesOf(shapes.get(v)), 0);
  return io + largest;
}

export type { DetectorSpec };
