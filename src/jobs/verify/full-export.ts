// verify for a full export (its post-processing, NMS included, stays in the compiled model): the compiled model's
// detections must equal those of the original with the removed anchors' scores forced to zero where its in-graph
// post-processing reads them (src/detector/mask-anchors.ts). Bit for bit when no pass re-rounded anything: pruning
// changes no arithmetic the detections depend on, and a zero score never passes the graph's strict score threshold.
// When a pass did re-round (StepReport.rounding), no tolerance follows through the graph's NMS (a detection can flip
// at the threshold): equal outputs still pass, different ones are inconclusive unless the user gives --atol/--rtol
// (or compiles with --cut-head, whose head maps get derived tolerances).
import * as ort from 'onnxruntime-node';
import type { AnalyzedModel } from '../../detector/index';
import { maskRemovedAnchors } from '../../detector/mask-anchors';
import { inputShapeOverride } from '../../detector/index';
import { inferShapes } from '../../shape/infer';
import { modelToBytes } from '../../onnx/save';
import { uniformInput } from '../../prng';
import type { CompileReport } from '../../artefacts/report';
import { RUN_SESSION_OPTIONS, runOnce } from '../../native/ort-session';
import { accumulate, describeTolerance, emptyStats, overrideFor, type TensorStats } from './compare';
import {
  DEFAULT_SAMPLES,
  verdict,
  type CheckStatus,
  type ComparedTensor,
  type VerifyOptions,
  type VerifyResult,
} from './result';

/** Images in [0, 1] (what a full export's in-graph normalisation expects), seeded. */
function image(size: number, seed: number): Float32Array {
  return uniformInput(size, seed).map((v) => (v + 1) / 2);
}

export async function verifyFullExport(
  o: VerifyOptions,
  report: CompileReport,
  orig: AnalyzedModel,
  comp: AnalyzedModel,
): Promise<VerifyResult> {
  const kept = report.config.kept;
  const rerounded = report.passes.some((p) => p.changed && (p.rounding === undefined || p.rounding.length > 0));
  const shapesOf = (m: typeof orig.model) => inferShapes(m, inputShapeOverride(m, o.inputShape));
  const oracle = maskRemovedAnchors(orig.model, kept, shapesOf);
  const sA = await ort.InferenceSession.create(modelToBytes(oracle.model), RUN_SESSION_OPTIONS);
  const sB = await ort.InferenceSession.create(modelToBytes(comp.model), RUN_SESSION_OPTIONS);
  const shape = orig.spec.input.shape;
  const n = o.samples ?? DEFAULT_SAMPLES;
  const names = Array.from({ length: n }, (_, i) => `random image #${i}`);
  const stats = new Map<string, TensorStats>();
  let first: string | undefined;
  let undecided: string | undefined;
  let detections = 0;
  let compiled = 0;
  let identical = 0;
  for (let i = 0; i < n; i++) {
    const x = image(
      shape.reduce((a, b) => a * b, 1),
      3000 + i,
    );
    const [a, b] = [
      await runOnce(sA, orig.spec.input.name, shape, x),
      await runOnce(sB, comp.spec.input.name, shape, x),
    ];
    let same = true;
    for (const name of Object.keys(a)) {
      const s = stats.get(name) ?? emptyStats();
      stats.set(name, s);
      const [p, q] = [a[name]!, b[name]];
      if (!q || q.dims.join() !== p.dims.join()) {
        same = false;
        if (rerounded && !overrideFor(o.tolerances, name)) {
          undecided ??= `input ${i} (${names[i]}): output ${name} has shape [${q?.dims.join(',') ?? 'missing'}], the masked original [${p.dims.join(',')}]`;
          continue;
        }
        s.mismatches += p.data.length || 1;
        first ??= `input ${i} (${names[i]}): output ${name} has shape [${q?.dims.join(',') ?? 'missing'}], the masked original [${p.dims.join(',')}]`;
        continue;
      }
      const user = overrideFor(o.tolerances, name);
      const before = s.mismatches;
      accumulate(
        s,
        i,
        Array.from(q.data, Number),
        Array.from(p.data, Number),
        (j) => j,
        user ? (_j, w) => user.atol + user.rtol * Math.abs(w) : () => 0,
      );
      if (s.mismatches > before) {
        same = false;
        const w = s.worst!;
        const what = `input ${i} (${names[i]}): output ${name} differs from the masked original at element ${w.index}: got ${w.got}, expected ${w.expected}, error ${w.absError.toExponential(2)} > tolerance ${w.tolerance.toExponential(2)}`;
        if (rerounded && !user) {
          s.mismatches = before; // not decided: re-rounding with no tolerance through the graph's NMS
          undecided ??= what;
        } else first ??= what;
      }
    }
    const dets = a[Object.keys(a)[0]!]?.dims[0] ?? 0;
    detections += dets;
    compiled += b[Object.keys(b)[0]!]?.dims[0] ?? 0;
    if (same) identical += dets;
    o.progress?.(i + 1, n);
  }
  await sA.release();
  await sB.release();

  const outputs: ComparedTensor[] = [...stats].map(([name, s]) => {
    const user = overrideFor(o.tolerances, name);
    return {
      name,
      elements: s.elements,
      tolerance: user
        ? {
            kind: 'override' as const,
            max: s.maxTolerance,
            origin: `--atol/--rtol: ${describeTolerance(user)}`,
            ...user,
          }
        : {
            kind: 'bitwise' as const,
            max: 0,
            origin: 'bit for bit: the masked original runs the same in-graph post-processing',
          },
      maxAbsError: s.maxAbs,
      overTolerance: s.mismatches,
      ...(s.worst && s.worst.absError > 0 ? { worst: { ...s.worst, inputName: names[s.worst.input]! } } : {}),
    };
  });
  const check = (status: CheckStatus, reason?: string) => ({ status, ...(reason ? { reason } : {}) });
  // a comparison of no detection proves nothing: inconclusive, not a pass
  const tensors = first
    ? check('fail', first)
    : undecided
      ? check(
          'inconclusive',
          `${undecided}; a pass re-rounded float arithmetic and no tolerance follows through the graph's NMS: give --atol/--rtol, or compile with --cut-head to verify the head maps with derived tolerances`,
        )
      : check('pass');
  const dets = first
    ? check('fail', first)
    : detections === 0
      ? check(
          'inconclusive',
          "no input gave a detection, so nothing was compared: the masked original detects nothing on random images (lower the graph's score threshold, or compile with --cut-head)",
        )
      : tensors;
  return {
    schema: 'prunedet.verify/1',
    ...verdict([tensors, dets]),
    original: { file: o.original, sha256: report.model.sha256 },
    outDir: o.outDir,
    inputs: { source: 'random', count: n, names },
    checks: {
      tensors: {
        ...tensors,
        parameters: { convs: 0, values: 0, mismatches: 0 },
        inputs: n,
        anchors: kept.reduce((t, k, l) => t + k.length * report.featureMaps[l]![0] * report.featureMaps[l]![1], 0),
        outputs,
        features: [],
      },
      detections: {
        ...dets,
        levels: [],
        inputs: { count: n, detections, compiled, matched: identical, identical },
        planted: { count: 0, detections: 0 },
      },
      cModule: {
        status: 'skipped',
        reason:
          'the compiled model keeps its in-graph post-processing; compile with --cut-head --emit c for a C module',
        runs: 0,
        detections: 0,
      },
    },
  };
}
