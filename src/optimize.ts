// The graph work of a compile, in memory: the pass pipeline (the default one or named passes) with prune-anchors
// keeping `kept`, and the final shapes and detector analysis. Shared by the compile job and bench (which times the
// original "cleaned up": every anchor kept, the graph passes alone). Reads and writes no file.
import type { Model } from './ir/graph';
import type { ShapeResult } from './shape/infer';
import type { DetectorSpec } from './detector/spec';
import type { HeadSpecFile } from './detector/head-spec';
import { analyzeModel } from './detector/index';
import { runPipeline, type PipelineOptions, type StepReport } from './pipeline';
import { DEFAULT_PIPELINE, passesByName } from '../passes/index';

export interface OptimizeOptions {
  /** Per level (finest first), the anchors to keep. */
  kept: number[][];
  /** Pass names, in order (default: DEFAULT_PIPELINE). */
  passes?: readonly string[];
  inputShape?: number[];
  headSpec?: HeadSpecFile;
  /** How errors name the model. */
  label?: string;
  /** The analysis of the model as given (same options), so it is not computed again. */
  initial?: { shapes: ShapeResult; spec: DetectorSpec };
  check?: PipelineOptions['check'];
}

export interface Optimized {
  passes: StepReport[];
  shapes: ShapeResult;
  /** The detector analysis of the optimized model. */
  spec: DetectorSpec;
}

/** Run the pipeline on `model` (mutated in place) and analyse the result once. */
export async function optimizeModel(model: Model, o: OptimizeOptions): Promise<Optimized> {
  const steps = passesByName(o.passes ?? DEFAULT_PIPELINE).map((p) => p.step({ kept: o.kept }));
  const run = await runPipeline(model, steps, {
    ...(o.inputShape ? { inputShape: o.inputShape } : {}),
    ...(o.headSpec ? { headSpec: o.headSpec } : {}),
    ...(o.label ? { label: o.label } : {}),
    ...(o.initial ? { initial: o.initial } : {}),
    ...(o.check ? { check: o.check } : {}),
  });
  // A --head-spec describes the model as given (its anchors per level), not the pruned one: the compiled model is
  // analysed on its own then; otherwise the runner's analysis of the final graph is the one (computed at most once).
  const spec = o.headSpec ? undefined : run.spec();
  const after = spec
    ? { shapes: run.shapes, spec }
    : analyzeModel(model, o.inputShape ? { inputShape: o.inputShape } : {}, 'the compiled model');
  return { passes: run.steps, ...after };
}

/** Every anchor of every level: the "cleaned up" compile (the graph passes alone). */
export function keepEveryAnchor(spec: DetectorSpec): number[][] {
  return spec.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i));
}
