// Runs an ordered list of graph passes: each pass mutates the graph, then the runner checks the invariants (structure,
// shape inference, optionally onnxruntime accepting the model), refreshes declared output types and re-analyses the
// detector for the next pass. A broken invariant is an InternalError naming the pass and the ones before it.
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
}

export interface PassContext {
  readonly model: Model;
  /** Shapes of the current graph (recomputed after every pass that changed it). */
  readonly shapes: ShapeResult;
  /** The detector analysis of the current graph, or undefined after a pass removed what analysis needs. */
  readonly spec: DetectorSpec | undefined;
}

export interface Pass<Options = void> {
  /** kebab-case; equals the file name and the --passes token. */
  readonly name: string;
  /** One line for `prunedet passes` and --help. */
  readonly summary: string;
  run(graph: Graph, ctx: PassContext, options: Options): PassResult;
}

// A pass with its options bound, ready for the runner.
export interface PipelineStep {
  pass: Pass<never>;
  options?: unknown;
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

export async function runPipeline(model: Model, steps: PipelineStep[], opts: PipelineOptions = {}): Promise<StepReport[]> {
  const infer = () => inferShapes(model, inputShapeOverride(model, opts.inputShape));
  let shapes = opts.initial?.shapes ?? infer();
  const baseFailures = new Set(shapes.failures.map((f) => f.node));
  const analyze = (): DetectorSpec | undefined => {
    try {
      return analyzeDetector(model, shapes, { label: opts.label ?? 'the model', ...(opts.headSpec ? { headSpec: opts.headSpec } : {}) });
    } catch (e) {
      if (e instanceof PrunedetError) return undefined;
      throw e;
    }
  };
  // Analysis is redone lazily: only when a pass follows the one that changed the graph.
  let spec = opts.initial ? opts.initial.spec : analyze();
  let stale = false;
  const reports: StepReport[] = [];
  for (const step of steps) {
    await new Promise((r) => setImmediate(r)); // an interrupt (SIGINT/SIGTERM) is handled between passes
    if (stale) {
      spec = analyze();
      stale = false;
    }
    const t0 = performance.now();
    const result = step.pass.run(model.graph, { model, shapes, spec }, step.options as never);
    reports.push({ pass: step.pass.name, ms: performance.now() - t0, ...result });
    if (!result.changed) continue;
    const before = reports.map((r) => r.pass).join(' -> ');
    const problems = verifyGraph(model.graph);
    if (problems.length) throw new InternalError(`pass ${step.pass.name} left an invalid graph (${problems.slice(0, 3).join('; ')}); passes run: ${before}`);
    shapes = infer();
    const fresh = shapes.failures.filter((f) => !baseFailures.has(f.node));
    if (fresh.length) throw new InternalError(`after pass ${step.pass.name}, shape inference fails at ${fresh[0]!.node.label()}: ${fresh[0]!.reason}; passes run: ${before}`);
    refreshDeclaredTypes(model.graph, shapes);
    stale = true;
    opts.after?.(step.pass.name, model);
    if (opts.check) await opts.check(model, step.pass.name);
  }
  return reports;
}
