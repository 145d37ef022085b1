// The post-processing of a compiled model, as compile emitted it and verify and bench rebuild it from report.json:
// the model's post-processing restricted to the kept anchors, the C workspace's candidate cap, and the C emit plan.
import type { DetectorSpec } from '../detector/spec';
import type { AnchorSet, FeatureMap } from '../anchors/types';
import { postprocessForModel, type ModelPostprocess } from '../postprocess/for-model';
import type { EmitPlan } from '../emit/c/index';
import type { RuntimeAnchors } from '../anchors/runtime';
import { PrunedetError } from '../errors';

/** What the compiled model's post-processing is rebuilt from: its detector analysis, baseline anchors and feature maps. */
export interface CompiledModelFacts {
  spec: DetectorSpec;
  baselineSet: AnchorSet | undefined;
  featureMaps: FeatureMap[];
}

/** Workspace candidates when the preset sets no top-k (TensorRT's EfficientNMS decodes at most 4096 too). */
export const DEFAULT_CANDIDATE_CAP = 4096;

/** How many candidates the C workspace holds: every per-level top-k survivor, the global top-k, or the default. */
export function candidateCapFor(pp: ModelPostprocess): number {
  const levels = pp.levels.filter((l) => l.h * l.w * l.anchorsPerLocation > 0).length;
  const k = pp.spec.preNmsTopK;
  if (k > 0) return pp.spec.topKScope === 'per-level' ? k * levels : k;
  return DEFAULT_CANDIDATE_CAP;
}

/** The post-processing of the compiled model (`report.config.kept` of the baseline levels). */
export function compiledPostprocess(
  ctx: CompiledModelFacts,
  preset: string,
  kept: number[][],
  rawHead = false,
): ModelPostprocess {
  return postprocessForModel(ctx.spec, preset, {
    kept,
    featureMaps: ctx.featureMaps,
    rawHead,
    ...(ctx.baselineSet ? { baseline: ctx.baselineSet } : {}),
  });
}

/**
 * The C emit plan of `pp` for a network input of `imageSize` ([H, W]): level strides ([h, w]) are the anchor
 * generator's (8 for SSD300's 38x38 map), else the input over the map size.
 */
export function emitPlanFor(
  pp: ModelPostprocess,
  name: string,
  banner: EmitPlan['banner'],
  input: EmitPlan['input'],
  imageSize: readonly [number, number],
  anchorMode: 'table' | 'runtime' = 'table',
): EmitPlan {
  const [H, W] = imageSize;
  return {
    name,
    banner,
    spec: pp.spec,
    input,
    levels: pp.levels.map((l, i) => ({ ...l, stride: pp.strides?.[i] ?? [H / l.h, W / l.w] })),
    numClasses: pp.numClasses,
    anchors: pp.anchors,
    candidateCap: candidateCapFor(pp),
    ...(anchorMode === 'runtime' ? { runtimeAnchors: runtimeAnchorsFor(pp) } : {}),
  };
}

/** The generator parameters of `pp` for --anchors runtime; exit 2 when its table came from no generator. */
export function runtimeAnchorsFor(pp: ModelPostprocess): RuntimeAnchors {
  if (pp.spec.decoder.type === 'none') {
    throw new PrunedetError(
      'E_USAGE',
      '--anchors runtime: the model decodes its boxes in the graph, so the module reads no anchors',
      'use --anchors table (the default)',
    );
  }
  const runtime = pp.runtime?.();
  if (!runtime) {
    throw new PrunedetError(
      'E_USAGE',
      `--anchors runtime: the anchors come from ${pp.anchorSource}, and no anchor generator prunedet knows gives them bit for bit`,
      'use --anchors table (the default)',
    );
  }
  return runtime;
}
