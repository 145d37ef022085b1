// Runs an ordered list of graph passes: each pass mutates the graph, then the runner checks the invariants (structure,
// shape inference, optionally onnxruntime accepting the model) and refreshes declared output types. The detector
// analysis is computed once per model state: redone only after a pass that says it invalidated it, and only when a
// pass (or the caller) reads it. A broken invariant is an InternalError naming the pass and the ones before it.
import { checkQuantizedNodes } from './quant/ops';
import type { Graph, Model } from './ir/graph';
import { verifyGraph } from './ir/verify';
import { inferShapes, type ShapeResult } from './shape/infer';
import { analyzeDetector } from './detector/analyze';
import type { HeadSpecFile } from './detector/head-spec';
import type { DetectorSpec } from './detector/spec';
import { inputShapeOverride } from './detector/index';
import { setDeclaredType, declaredType } from './onnx/value-info';
import { InternalError, PrunedetError } from './errors';

/**
 * A value whose float arithmetic a pass changed: the graph computes it from re-rounded constants (same mathematics,
 * different float32 rounding). Passes that only slice, remove or rewire (prune-anchors, eliminate-dead,
 * remove-identity, integer shape folds) change no arithmetic and record nothing; verify checks every output no
 * recorded value reaches bit for bit, and derives a tolerance for the others from these records.
 */
export interface RoundingChange {
  /** The value (by name, in the graph the pass left) whose producer now reads re-rounded constants, or the folded constant itself. */
  value: string;
  /**
   * 'batchnorm-folded': a Conv now computes Conv + BatchNormalization with weights W·s and bias (b − mean)·s + beta,
   * each rounded once to float32; 'constant-folded': a float value computed once by prunedet (float64, rounded once)
   * instead of by the runtime's float32 ops.
   */
  how: 'batchnorm-folded' | 'constant-folded';
}

export interface PassResult {
  changed: boolean;
  stats: Record<string, number>;
  /** Why the pass did nothing (not an error): e.g. 'no BatchNormalization follows a Conv'. */
  skipped?: string;
  /**
   * Every value whose float arithmetic the pass changed; [] when it changed none (slicing, removal, rewiring). Reports
   * of older prunedet versions lack the field: verify then assumes every conv may have been re-rounded.
   */
  rounding: RoundingChange[];
  /**
   * Whether the detector analysis of the graph before the pass (the DetectorSpec with its head region and trace) still
   * describes the graph after it. 'preserved': the pass only removed what no output reads, or touched nothing the
   * analysis looked at; absent on a changed graph means 'invalidated' (the safe default).
   */
  analysis?: 'preserved' | 'invalidated';
}

export interface PassContext {
  readonly model: Model;
  /** Shapes of the current graph (recomputed after every pass that changed it). */
  readonly shapes: ShapeResult;
  /**
   * The detector analysis of the current graph, or undefined after a pass removed what analysis needs. Computed when
   * first read after a pass invalidated it.
   */
  readonly spec: DetectorSpec | undefined;
}

export interface Pass<Options = void> {
  /** kebab-case; equals the file name and the --passes token. */
  readonly name: string;
  /** One line for `prunedet passes` and --help. */
  readonly summary: string;
  run(graph: Graph, ctx: PassContext, options: Options): PassResult;
}

/** What a compile asks of its passes; each registered pass takes its options from it (passes/index.ts). */
export interface PipelineSettings {
  /** Per level (finest first), the anchor indices prune-anchors keeps. */
  kept: number[][];
}

/** A pass with its options bound, ready for the runner. */
export interface PipelineStep {
  readonly name: string;
  run(graph: Graph, ctx: PassContext): PassResult;
}

/** A registry entry: the pass, and how its options follow from the pipeline's settings (typed, no cast). */
export interface RegisteredPass {
  readonly name: string;
  readonly summary: string;
  step(settings: PipelineSettings): PipelineStep;
}

/** `pass` with `options` bound. */
export function stepOf<Options>(pass: Pass<Options>, options: Options): PipelineStep {
  return { name: pass.name, run: (graph, ctx) => pass.run(graph, ctx, options) };
}

/** A registry entry for `pass`; `options` derives its options from the settings (`noOptions` for a pass without). */
export function registerPass<Options>(pass: Pass<Options>, options: (s: PipelineSettings) => Options): RegisteredPass {
  return { name: pass.name, summary: pass.summary, step: (s) => stepOf(pass, options(s)) };
}

/** The options of a pass that takes none. */
export const noOptions = (): void => undefined;

/** What the runner leaves: a report per pass and the final model state (shapes; the analysis, computed on demand). */
export interface PipelineRun {
  steps: StepReport[];
  shapes: ShapeResult;
  /** The detector analysis of the final graph (computed at most once more, and only if a pass invalidated it). */
  spec(): DetectorSpec | undefined;
}

export interface StepReport extends PassResult {
  pass: string;
  ms: number;
}

export interface PipelineOptions {
  inputShape?: number[];
  headSpec?: HeadSpecFile;
  /** Also open the model in onnxruntime after every pass (slow; --check). */
  check?: (model: Model, afterPass: string) => Promise<void>;
  /** Called after each pass (for --print-after). */
  after?: (pass: string, model: Model) => void;
  label?: string;
  /** The caller's shapes and analysis of the model as given (the same options), so the runner need not redo them. */
  initial?: { shapes: ShapeResult; spec: DetectorSpec | undefined };
}

/** Declared types of graph outputs, value_info and initializer inputs follow the inferred shapes (symbols kept). */
export function refreshDeclaredTypes(g: Graph, shapes: ShapeResult): void {
  for (const v of new Set([...g.outputs, ...g.valueInfo, ...g.inputs.filter((x) => x.initializer)])) {
    const d = declaredType(v);
    const s = shapes.get(v);
    if (!d || !s?.shape) continue;
    const merged = s.shape.map((x, i) => (typeof x === 'number' ? x : (d.shape?.[i] ?? x)));
    setDeclaredType(v, d.dtype || s.dtype, d.shape === undefined ? undefined : merged);
  }
}

export async function runPipeline(
  model: Model,
  steps: readonly PipelineStep[],
  opts: PipelineOptions = {},
): Promise<PipelineRun> {
  const infer = () => inferShapes(model, inputShapeOverride(model, opts.inputShape));
  let shapes = opts.initial?.shapes ?? infer();
  const baseFailures = new Set(shapes.failures.map((f) => f.node));
  const analyze = (): DetectorSpec | undefined => {
    try {
      return analyzeDetector(model, shapes, {
        label: opts.label ?? 'the model',
        ...(opts.headSpec ? { headSpec: opts.headSpec } : {}),
      });
    } catch (e) {
      if (e instanceof PrunedetError) return undefined;
      throw e;
    }
  };
  // One analysis per model state: `current` holds it until a pass invalidates it, and it is recomputed on first read.
  let current: { spec: DetectorSpec | undefined } | undefined = opts.initial ? { spec: opts.initial.spec } : undefined;
  const spec = (): DetectorSpec | undefined => (current ??= { spec: analyze() }).spec;
  const reports: StepReport[] = [];
  for (const step of steps) {
    await new Promise((r) => setImmediate(r)); // an interrupt (SIGINT/SIGTERM) is handled between passes
    const t0 = performance.now();
    const ctx: PassContext = {
      model,
      shapes,
      get spec() {
        return spec();
      },
    };
    const result = step.run(model.graph, ctx);
    reports.push({ pass: step.name, ms: performance.now() - t0, ...result });
    if (!result.changed) continue;
    const before = reports.map((r) => r.pass).join(' -> ');
    const problems = verifyGraph(model.graph);
    if (problems.length)
      throw new InternalError(
        `pass ${step.name} left an invalid graph (${problems.slice(0, 3).join('; ')}); passes run: ${before}`,
      );
    shapes = infer();
    const fresh = shapes.failures.filter((f) => !baseFailures.has(f.node));
    const first = fresh[0];
    if (first)
      throw new InternalError(
        `after pass ${step.name}, shape inference fails at ${first.node.label()}: ${first.reason}; passes run: ${before}`,
      );
    // every Q/DQ pair and QLinearConv still valid (per-channel scales as long as the channels they quantize)
    try {
      checkQuantizedNodes(model.graph.nodes, shapes);
    } catch (e) {
      if (!(e instanceof PrunedetError)) throw e;
      throw new InternalError(`pass ${step.name} left invalid quantization (${e.message}); passes run: ${before}`);
    }
    refreshDeclaredTypes(model.graph, shapes);
    if (result.analysis !== 'preserved') current = undefined;
    opts.after?.(step.name, model);
    if (opts.check) await opts.check(model, step.name);
  }
  return { steps: reports, shapes, spec };
}
