// `prunedet verify ORIGINAL OUTDIR`: prove a compiled detector equivalent to its original on N inputs.
//  (a) tensors: every compiled output equals the original's output gathered at the kept anchors;
//  (b) detections: compiled model + post-processing == original model + post-processing with the removed anchors'
//      scores forced to zero (the paper's oracle; exact because a zero score never passes a strict threshold);
//  (c) the emitted C module, built with gcc, gives the reference's detections on the same tensors.
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadDetector, type AnalyzedModel } from '../detector/index';
import { keptAnchorTable } from '../detector/anchor-table';
import { modelToBytes } from '../onnx/save';
import { PrunedetError } from '../errors';
import type { CompileReport } from '../compile';
import { postprocessForModel, referenceInput, type ModelPostprocess } from '../postprocess/for-model';
import { postprocess, type PostprocessInput } from '../postprocess/reference';
import { listImages, decodeImage } from '../image/decode';
import { preprocess, resizeGeometry, type ResizeGeometry } from '../image/preprocess';
import { boxUnitsOf, preprocessOptionsFor, toImageXywh, type PreprocessFlags } from '../search/inputs';
import { fidelityMetric, scoreDetections } from '../search/metric';
import type { CocoDetection } from '../eval/coco-data';
import { foregroundCount, type Detection } from '../postprocess/spec';
import { suppressedMask } from '../search/oracle';
import { syntheticHeadOutputs, perLevelMaps } from '../bench/synthetic-heads';
import { uniformInput } from '../prng';
import { accumulate, diffDetections, emptyStats, keptAnchorIndices, TENSOR_TOLERANCE, type TensorStats } from './compare';
import { anchorCount, buildRunner, flattenForC, hasGcc, runRunner, type CModuleShape } from './c-runner';
import { candidateCapFor, compiledPostprocess } from '../compile-emit';
import { readCompileReport, reportBaselineSet } from './report';
import { RUN_SESSION_OPTIONS, runOnce } from './session';

export interface VerifyOptions {
  original: string;
  outDir: string;
  images?: string;
  /** Number of inputs: random ones by default (4), or the first N images. */
  samples?: number;
  /** Post-processing preset; default: the one compile emitted C for. */
  postprocess?: string;
  preprocess?: PreprocessFlags;
  inputShape?: number[];
  progress?: (done: number, total: number) => void;
}

export interface CheckResult {
  ok: boolean;
  skipped?: string;
  /** The first failing input and anchor, in words. */
  first?: string;
}

export interface VerifyResult {
  ok: boolean;
  /**
   * With images and a preset: mAP@[.5:.95] of the compiled model's detections against the original's own (what
   * search calls fidelity; 1.0 = the original's detections), computed exactly as search computes a front point's.
   */
  fidelity?: number;
  inputs: { source: 'random' | 'images'; names: string[] };
  tensors: CheckResult & { outputs: ({ name: string } & TensorStats)[] };
  detections: CheckResult & { inputs: number; detections: number };
  cModule: CheckResult & { inputs: number; detections: number };
}

interface Inputs {
  names: string[];
  make: (i: number) => Float32Array;
  /** Per image, how the network input maps back to the photo (images only). */
  geometry?: (i: number) => ResizeGeometry;
}

function inputsFor(o: VerifyOptions, orig: AnalyzedModel, preset: string | undefined): Inputs & { source: 'random' | 'images' } {
  const shape = orig.spec.input.shape;
  if (!o.images) {
    const n = o.samples ?? 4;
    return { source: 'random', names: Array.from({ length: n }, (_, i) => `random #${i}`), make: (i) => uniformInput(shape.reduce((a, b) => a * b, 1), 1000 + i) };
  }
  const files = listImages(o.images);
  const chosen = o.samples ? files.slice(0, o.samples) : files;
  const opts = preprocessOptionsFor(orig.spec, preset ?? '', o.preprocess ?? {});
  const sizes: [number, number][] = [];
  return {
    source: 'images',
    names: chosen.map((f) => basename(f)),
    make: (i) => {
      const img = decodeImage(chosen[i]!);
      sizes[i] = [img.width, img.height];
      return preprocess(img, opts);
    },
    geometry: (i) => resizeGeometry(sizes[i]![0], sizes[i]![1], opts),
  };
}

/** The original with its head convs as extra outputs (for comparing a --cut-head model's per-level maps). */
async function originalSession(orig: AnalyzedModel, exposeHead: boolean): Promise<ort.InferenceSession> {
  if (exposeHead) {
    const g = orig.model.graph;
    for (const l of orig.spec.levels) for (const c of l.convs) if (!g.outputs.includes(c.node.output())) g.outputs.push(c.node.output());
    // a full export's head tensors (read by its in-graph NMS) too, for the reference's input
    for (const o of orig.spec.outputs) if (!o.graphOutput) g.outputs.push(g.values.get(o.name)!);
  }
  return ort.InferenceSession.create(modelToBytes(orig.model), RUN_SESSION_OPTIONS);
}

export async function verify(o: VerifyOptions): Promise<VerifyResult> {
  const report = readCompileReport(o.outDir);
  const opt = o.inputShape ? { inputShape: o.inputShape } : {};
  const orig = loadDetector(o.original, opt);
  const comp = loadDetector(join(o.outDir, 'model.onnx'), opt);
  // a full export keeps its NMS: its detections are compared with the masked original's, in the graph
  if (orig.spec.postprocess && report.cutHead === undefined) return (await import('./full-export')).verifyFullExport(o, report, orig, comp);
  const kept = report.config.kept;
  const counts = orig.spec.levels.map((l) => l.anchorsPerLocation);
  if (kept.length !== counts.length || kept.some((k, i) => k.some((a) => a >= counts[i]!))) {
    throw new PrunedetError('E_CONFIG_MISMATCH', `the kept anchors in ${o.outDir}/report.json do not fit ${o.original} (${counts.join(',')} anchors per level)`, 'verify against the model that was compiled');
  }
  const featureMaps = orig.spec.levels.map((l) => l.featureMap);
  const keptIdx = keptAnchorIndices(featureMaps, counts, kept);
  const preset = o.postprocess ?? (report.postprocess?.requested as string | undefined) ?? (report.postprocess?.preset as string | undefined);
  const inputs = inputsFor(o, orig, preset);
  const cut = report.cutHead !== undefined;
  const sOrig = await originalSession(orig, cut);
  const sComp = await ort.InferenceSession.create(join(o.outDir, 'model.onnx'), RUN_SESSION_OPTIONS);

  let ppOrig: ModelPostprocess | undefined;
  let ppComp: ModelPostprocess | undefined;
  if (preset) {
    const baseline = reportBaselineSet(report);
    ppOrig = postprocessForModel(orig.spec, preset, baseline ? { baseline } : {});
    // a model cut at the head lost the anchor table its graph embedded: the original's, at the kept anchors
    const compSpec = comp.spec.anchorTable || !orig.spec.anchorTable ? comp.spec : { ...comp.spec, anchorTable: keptAnchorTable(orig.spec.anchorTable, keptIdx) };
    ppComp = compiledPostprocess({ spec: compSpec, baselineSet: baseline, featureMaps }, preset, kept, cut);
  }
  const removedMask = ppOrig ? suppressedMask(ppOrig.levels, report.config.removed) : undefined;
  // fidelity (images only): both models' detections as COCO results in photo pixels, as search scores them
  const units = ppOrig && inputs.geometry ? boxUnitsOf(orig.spec, ppOrig) : undefined;
  const fullCoco: CocoDetection[] = [];
  const compCoco: CocoDetection[] = [];
  const toCoco = (dets: Detection[], i: number, into: CocoDetection[]) => {
    for (const d of dets) into.push({ image_id: i + 1, category_id: d.label + 1, bbox: toImageXywh(d.box, units!, inputs.geometry!(i)), score: d.score });
  };

  const outputs = new Map<string, TensorStats>();
  let tensorFirst: string | undefined;
  let detFirst: string | undefined;
  let detCount = 0;
  const hasC = report.files.includes('postprocess.c');
  const cInputs: PostprocessInput[] = [];
  const cNames: string[] = [];
  const total = inputs.names.length;
  for (let i = 0; i < total; i++) {
    const x = inputs.make(i);
    const a = await runOnce(sOrig, orig.spec.input.name, orig.spec.input.shape, x);
    const b = await runOnce(sComp, comp.spec.input.name, comp.spec.input.shape, x);
    // (a) tensors
    for (const out of comp.spec.outputs) {
      const s = outputs.get(out.name) ?? emptyStats();
      outputs.set(out.name, s);
      const got = b[out.name]!.data;
      const before = s.mismatches;
      if (out.kind === 'rows') {
        const k = out.valuesPerRow;
        if (got.length !== keptIdx.length * k) {
          s.mismatches += got.length;
          tensorFirst ??= `input ${i} (${inputs.names[i]}): output ${out.name} has ${got.length / k} rows, the kept anchors are ${keptIdx.length}`;
          continue;
        }
        accumulate(s, got, a[out.name]!.data, (j) => keptIdx[Math.floor(j / k)]! * k + (j % k), (j) => Math.floor(j / k), TENSOR_TOLERANCE);
      } else {
        const lvl = out.level!;
        const origLevel = levelIndexOf(kept, lvl);
        const conv = orig.spec.levels[origLevel]!.convs.find((c) => c.groups.some((g) => g.role === out.role))!;
        const src = a[cut ? conv.node.output().name : (orig.spec.outputs.find((x) => x.kind === 'map' && x.level === origLevel && x.role === out.role)?.name ?? '')];
        if (!src) {
          tensorFirst ??= `output ${out.name} has no counterpart in the original`;
          s.mismatches += got.length;
          continue;
        }
        const [h, w] = featureMaps[origLevel]!;
        const K = conv.valuesPerAnchor;
        const channels = kept[origLevel]!.flatMap((an) => Array.from({ length: K }, (_, k) => an * K + k));
        if (got.length !== channels.length * h * w) {
          s.mismatches += got.length;
          tensorFirst ??= `input ${i}: output ${out.name} has ${got.length} values, expected ${channels.length * h * w}`;
          continue;
        }
        accumulate(s, got, src.data, (j) => channels[Math.floor(j / (h * w))]! * h * w + (j % (h * w)), (j) => Math.floor(j / (h * w * K)) * h * w + (j % (h * w)), TENSOR_TOLERANCE);
      }
      if (s.mismatches > before && !tensorFirst) tensorFirst = `input ${i} (${inputs.names[i]}): output ${out.name} differs, largest error ${s.maxAbs.toExponential(2)} at compiled anchor ${s.worst} (original anchor ${keptIdx[s.worst] ?? '?'})`;
    }
    // (b) detections
    if (ppOrig && ppComp && removedMask) {
      const origIn = referenceInput(orig.spec, a);
      const want = postprocess(ppOrig.spec, origIn, { anchors: ppOrig.anchors, levels: ppOrig.levels, numClasses: ppOrig.numClasses, suppressed: removedMask });
      const compIn = referenceInput(comp.spec, b, ppComp.levels);
      const got = postprocess(ppComp.spec, compIn, { anchors: ppComp.anchors, levels: ppComp.levels, numClasses: ppComp.numClasses });
      detCount += got.length;
      if (units) {
        toCoco(postprocess(ppOrig.spec, origIn, { anchors: ppOrig.anchors, levels: ppOrig.levels, numClasses: ppOrig.numClasses }), i, fullCoco);
        toCoco(got, i, compCoco);
      }
      const d = diffDetections(got, want, (an) => keptIdx[an]!, 1e-5, { atol: 1e-4, rtol: 1e-5 });
      if (d && !detFirst) detFirst = `input ${i} (${inputs.names[i]}), original anchor ${d.anchor}: ${d.detail}`;
      if (hasC) {
        cInputs.push(compIn);
        cNames.push(inputs.names[i]!);
      }
    }
    o.progress?.(i + 1, total);
  }
  await sOrig.release();
  await sComp.release();

  const cModule = ppComp && hasC ? checkC(o.outDir, report, ppComp, cInputs, cNames) : { ok: true, skipped: hasC ? 'no post-processing preset' : 'compile emitted no C module (--emit c)', inputs: 0, detections: 0 };
  const tensors = { ok: tensorFirst === undefined, ...(tensorFirst ? { first: tensorFirst } : {}), outputs: [...outputs].map(([name, s]) => ({ name, ...s })) };
  const detections = ppOrig
    ? { ok: detFirst === undefined, ...(detFirst ? { first: detFirst } : {}), inputs: total, detections: detCount }
    : { ok: true, skipped: 'no post-processing preset (pass --postprocess, or compile with --emit c --postprocess)', inputs: 0, detections: 0 };
  let fidelity: number | undefined;
  if (units && ppOrig) {
    const foreground = foregroundCount(ppOrig.spec, ppOrig.numClasses);
    fidelity = scoreDetections(fidelityMetric(fullCoco, inputs.names.map((_, i) => i + 1), foreground), compCoco);
  }
  return { ok: tensors.ok && detections.ok && cModule.ok, ...(fidelity !== undefined ? { fidelity } : {}), inputs: { source: inputs.source, names: inputs.names }, tensors, detections, cModule };
}

/** Index among the compiled model's (non-empty) levels -> original level index. */
function levelIndexOf(kept: number[][], compiledLevel: number): number {
  let n = -1;
  for (let i = 0; i < kept.length; i++) if (kept[i]!.length > 0 && ++n === compiledLevel) return i;
  return compiledLevel;
}

function checkC(outDir: string, report: CompileReport, pp: ModelPostprocess, inputs: PostprocessInput[], names: string[]): CheckResult & { inputs: number; detections: number } {
  if (!hasGcc()) return { ok: true, skipped: 'gcc not found', inputs: 0, detections: 0 };
  const input = report.postprocess!.input as 'concat' | 'per-level';
  const shape: CModuleShape = { prefix: report.postprocess!.symbolPrefix as string, input, numClasses: pp.numClasses, levels: pp.levels };
  // one more input shaped like a trained detector's, so the C path sees real candidates even with random weights
  const syn = syntheticHeadOutputs(pp.spec, pp.numClasses, pp.anchors, 77);
  const synIn = input === 'concat' ? { form: 'concat' as const, scores: syn.scores, boxes: syn.boxes } : { form: 'per-level' as const, levels: perLevelMaps(pp.levels, pp.numClasses, syn.scores, syn.boxes) };
  const all = [...inputs, synIn];
  const allNames = [...names, 'synthetic trained-like outputs'];
  const cap = (report.postprocess!.candidateCap as number | undefined) ?? candidateCapFor(pp);
  const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses, candidateCap: cap };
  const refs = all.map((x) => postprocess(pp.spec, x.form === input ? x : asModuleReads(flattenForC(x), input, pp), ctx));
  const runner = buildRunner(outDir, shape);
  try {
    const got = runRunner(runner, shape, all.map(flattenForC)).detections;
    let first: string | undefined;
    let count = 0;
    got.forEach((g, i) => {
      count += g.length;
      const d = diffDetections(g, refs[i]!, (a) => a, 1e-6, { atol: 1e-4, rtol: 0 });
      if (d && !first) first = `input ${i} (${allNames[i]}), anchor ${d.anchor}: ${d.detail}`;
    });
    return { ok: first === undefined, ...(first ? { first } : {}), inputs: all.length, detections: count };
  } finally {
    runner.dispose();
  }
}

/**
 * The floats `x` as a module taking `input` reads them. Only for a model whose outputs are in the other form than the
 * module's (concatenated rows next to per-level maps): the C and the reference then see the same floats.
 */
function asModuleReads(x: Float32Array, input: 'concat' | 'per-level', pp: ModelPostprocess): PostprocessInput {
  const n = anchorCount(pp);
  if (input === 'concat') return { form: 'concat', scores: x.subarray(0, n * pp.numClasses), boxes: x.subarray(n * pp.numClasses) };
  let off = 0;
  const take = (len: number) => x.subarray(off, (off += len));
  const cls = pp.levels.map((l) => take(l.h * l.w * l.anchorsPerLocation * pp.numClasses));
  const reg = pp.levels.map((l) => take(l.h * l.w * l.anchorsPerLocation * 4));
  return { form: 'per-level', levels: cls.map((c, i) => ({ cls: c, reg: reg[i]! })) };
}
