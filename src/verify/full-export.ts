// verify for a full export (its post-processing, NMS included, stays in the compiled model): the compiled model's
// detections must equal those of the original with the removed anchors' scores forced to zero where its in-graph
// post-processing reads them (src/detector/mask-anchors.ts). Exact: pruning changes no arithmetic the detections
// depend on, and a zero score never passes the graph's strict score threshold.
import * as ort from 'onnxruntime-node';
import type { AnalyzedModel } from '../detector/index';
import { maskRemovedAnchors } from '../detector/mask-anchors';
import { inputShapeOverride } from '../detector/index';
import { inferShapes } from '../shape/infer';
import { modelToBytes } from '../onnx/save';
import { uniformInput } from '../prng';
import type { CompileReport } from '../compile';
import { RUN_SESSION_OPTIONS, runOnce } from './session';
import type { VerifyOptions, VerifyResult } from './index';

/** Images in [0, 1] (what a full export's in-graph normalisation expects), seeded. */
function image(size: number, seed: number): Float32Array {
  return uniformInput(size, seed).map((v) => (v + 1) / 2);
}

export async function verifyFullExport(o: VerifyOptions, report: CompileReport, orig: AnalyzedModel, comp: AnalyzedModel): Promise<VerifyResult> {
  const kept = report.config.kept;
  const shapesOf = (m: typeof orig.model) => inferShapes(m, inputShapeOverride(m, o.inputShape));
  const oracle = maskRemovedAnchors(orig.model, kept, shapesOf);
  const sA = await ort.InferenceSession.create(modelToBytes(oracle.model), RUN_SESSION_OPTIONS);
  const sB = await ort.InferenceSession.create(modelToBytes(comp.model), RUN_SESSION_OPTIONS);
  const shape = orig.spec.input.shape;
  const n = o.samples ?? 4;
  const names = Array.from({ length: n }, (_, i) => `random image #${i}`);
  const outputs = new Map<string, { name: string; elements: number; maxAbs: number; maxRel: number; mismatches: number; worst: number }>();
  let first: string | undefined;
  let detections = 0;
  for (let i = 0; i < n; i++) {
    const x = image(shape.reduce((a, b) => a * b, 1), 3000 + i);
    const [a, b] = [await runOnce(sA, orig.spec.input.name, shape, x), await runOnce(sB, comp.spec.input.name, shape, x)];
    for (const name of Object.keys(a)) {
      const s = outputs.get(name) ?? { name, elements: 0, maxAbs: 0, maxRel: 0, mismatches: 0, worst: -1 };
      outputs.set(name, s);
      const [p, q] = [a[name]!, b[name]];
      if (!q || q.dims.join() !== p.dims.join()) {
        s.mismatches += p.data.length || 1;
        first ??= `input ${i} (${names[i]}): output ${name} has shape [${q?.dims.join(',') ?? 'missing'}], the masked original [${p.dims.join(',')}]`;
        continue;
      }
      s.elements += p.data.length;
      for (let j = 0; j < p.data.length; j++) {
        const d = Math.abs(Number(p.data[j]) - Number(q.data[j]));
        if (d > s.maxAbs) [s.maxAbs, s.worst] = [d, j];
        s.maxRel = Math.max(s.maxRel, d / Math.max(Math.abs(Number(p.data[j])), 1e-12));
        if (d !== 0) s.mismatches++;
      }
      if (s.mismatches && !first) first = `input ${i} (${names[i]}): output ${name} differs from the masked original, largest error ${s.maxAbs.toExponential(2)} at element ${s.worst}`;
    }
    detections += a[Object.keys(a)[0]!]?.dims[0] ?? 0;
    o.progress?.(i + 1, n);
  }
  await sA.release();
  await sB.release();
  // a comparison of no detection proves nothing: inconclusive, not a pass
  const ok = first === undefined && detections > 0;
  const why = first ?? (detections === 0 ? 'no input gave a detection: nothing was compared (inconclusive)' : undefined);
  return {
    ok,
    inputs: { source: 'random', names },
    tensors: { ok: first === undefined, ...(first ? { first } : {}), outputs: [...outputs.values()] },
    detections: { ok, ...(why ? { first: why } : {}), inputs: n, detections },
    cModule: { ok: true, skipped: 'the compiled model keeps its in-graph post-processing; compile with --cut-head --emit c for a C module', inputs: 0, detections: 0 },
  };
}
