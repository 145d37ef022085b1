// `prunedet verify ORIGINAL OUTDIR`: prove a compiled detector equivalent to its original, saying what was compared.
//  (a) tensors: every compiled output equals the original's at the kept anchors, bit for bit where the passes only
//      sliced and removed, within a tolerance derived from what they re-rounded otherwise (tolerance.ts);
//  (b) detections: the paper's oracle. The original's post-processing with the removed anchors' scores forced to zero
//      must equal, bit for bit, the compiled post-processing of the original's kept anchors, on the model's own
//      outputs and on head outputs with objects planted on every level (so NMS runs on every level that keeps
//      anchors); the compiled model's own detections are counted against the oracle;
//  (c) the emitted C module, built with gcc, gives the reference's detections bit for bit on the same tensors.
// A check that compared nothing (no inputs, no detections on a level, no C build) is inconclusive, and so is the
// verdict: exit 3, with a line saying what to do. See the README for the JSON schema (VerifyResult).
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadDetector, type AnalyzedModel } from '../../detector/index';
import type { HeadConv } from '../../detector/spec';
import type { Node, Value } from '../../ir/graph';
import { keptAnchorTable } from '../../detector/anchor-table';
import { modelToBytes } from '../../onnx/save';
import { PrunedetError } from '../../errors';
import { findRegion } from '../../detector/region';
import { keptChannels } from '../../detector/keep';
import {
  asModuleReads,
  postprocessForModel,
  referenceInput,
  referenceInputForm,
  type ModelPostprocess,
  type RunOutputs,
} from '../../postprocess/for-model';
import { levelOffsets, postprocess, type PostprocessInput } from '../../postprocess/reference';
import { listImages, decodeImage } from '../../image/decode';
import { preprocess, resizeGeometry, type ResizeGeometry } from '../../image/preprocess';
import { boxUnitsOf, preprocessOptionsFor, toImageXywh } from '../../image/inputs';
import { fidelityMetric, scoreDetections } from '../../eval/metric';
import type { CocoDetection } from '../../eval/coco-data';
import { foregroundCount, type Detection } from '../../postprocess/spec';
import { uniformInput } from '../../prng';
import {
  accumulate,
  describeTolerance,
  diffDetections,
  emptyStats,
  matchDetections,
  overrideFor,
  type TensorStats,
  type WorstElement,
} from './compare';
import { keptAnchorIndices } from '../../detector/kept-anchors';
import {
  DEFAULT_SAMPLES,
  MAX_SAMPLES,
  verdict,
  type CCheck,
  type ComparedTensor,
  type DetectionCheck,
  type ElementReport,
  type LevelCount,
  type TensorCheck,
  type VerifyOptions,
  type VerifyResult,
} from './result';
import { buildRunner, hasGcc, runRunner, BASE_CFLAGS, type CModuleShape } from '../../native/c-runner';
import { asQuantizedInput, flattenForC, packInputForC } from '../../native/c-inputs';
import { candidateCapFor, compiledPostprocess } from '../../artefacts/compiled-postprocess';
import { checkOriginal, cModuleFiles, readCompileReport, reportBaselineSet } from '../../artefacts/report';
import { RUN_SESSION_OPTIONS, runOnce } from '../../native/ort-session';
import { LAMBDA, RoundingPlan, ToleranceModel, type OutputRadii } from './tolerance';
import { gatherKept, plantedInput, removedMask, PLANTED_SEEDS } from './detections';
import { checkSlicedParameters, slicedConvs } from './parameters';
import { convWeight, isIntegerConv } from '../../quant/ops';
import { detectionsPerLevel, levelOfAnchor } from '../../postprocess/per-level';
import type { CompileReport } from '../../artefacts/report';

export { MAX_SAMPLES, DEFAULT_SAMPLES, VERIFY_EXIT } from './result';
export type {
  VerifyOptions,
  Status,
  CheckStatus,
  CheckBase,
  ElementReport,
  ComparedTensor,
  TensorCheck,
  LevelCount,
  DetectionCheck,
  CCheck,
  VerifyResult,
} from './result';
export type { ToleranceOverrides } from './compare';

interface Inputs {
  source: 'random' | 'images';
  names: string[];
  make: (i: number) => Float32Array;
  /** Per image, how the network input maps back to the photo (images only). */
  geometry?: (i: number) => ResizeGeometry;
}

function checkOptions(o: VerifyOptions): void {
  const n = o.samples;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= MAX_SAMPLES)) {
    throw new PrunedetError(
      'E_USAGE',
      `--samples ${String(n)} is not a whole number from 1 to ${MAX_SAMPLES}`,
      `give how many inputs to compare, e.g. --samples ${DEFAULT_SAMPLES}`,
    );
  }
  const t = o.tolerances;
  for (const [where, tol] of [
    ['', t?.all] as const,
    ...Object.entries(t?.byOutput ?? {}).map(([k, v]) => [`${k}:`, v] as const),
  ]) {
    for (const key of ['atol', 'rtol'] as const) {
      const v = tol?.[key];
      if (v !== undefined && !(Number.isFinite(v) && v >= 0))
        throw new PrunedetError(
          'E_USAGE',
          `--${key} ${where}${String(v)} is not a number >= 0`,
          `write e.g. --${key} 1e-5, or --${key} OUTPUT:1e-5 for one output`,
        );
    }
  }
}

function inputsFor(o: VerifyOptions, orig: AnalyzedModel, preset: string | undefined): Inputs {
  const shape = orig.spec.input.shape;
  if (!o.images) {
    const n = o.samples ?? DEFAULT_SAMPLES;
    return {
      source: 'random',
      names: Array.from({ length: n }, (_, i) => `random #${i}`),
      make: (i) =>
        uniformInput(
          shape.reduce((a, b) => a * b, 1),
          1000 + i,
        ),
    };
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

/** A session over `a` with `extra` values (by name, when the graph has them) added to its outputs. */
async function sessionWith(a: AnalyzedModel, extra: Iterable<string>): Promise<ort.InferenceSession> {
  const g = a.model.graph;
  for (const name of extra) {
    const v = g.values.get(name);
    if (v && (v.producer || v.isGraphInput) && !g.outputs.includes(v)) g.outputs.push(v);
  }
  return ort.InferenceSession.create(modelToBytes(a.model), RUN_SESSION_OPTIONS);
}

/** Index among the compiled model's (non-empty) levels -> original level index. */
function levelIndexOf(kept: number[][], compiledLevel: number): number {
  let n = -1;
  for (let i = 0; i < kept.length; i++) if (kept[i]!.length > 0 && ++n === compiledLevel) return i;
  return compiledLevel;
}

/** Each compiled head conv with its original counterpart and the original channel of each of its channels. */
interface HeadPair {
  comp: HeadConv;
  orig: HeadConv;
  level: number;
  compiledLevel: number;
  channels: number[];
}

function headPairs(orig: AnalyzedModel, comp: AnalyzedModel, kept: number[][]): HeadPair[] {
  return comp.spec.levels.flatMap((cl, ci) => {
    const l = levelIndexOf(kept, ci);
    const ol = orig.spec.levels[l]!;
    return cl.convs.flatMap((c) => {
      const o = ol.convs.find(
        (x) => x.groups[0]!.role === c.groups[0]!.role && x.valuesPerAnchor === c.valuesPerAnchor,
      );
      return o
        ? [
            {
              comp: c,
              orig: o,
              level: l,
              compiledLevel: ci,
              channels: keptChannels(o, ol.anchorsPerLocation, kept[l]!),
            },
          ]
        : [];
    });
  });
}

/** How element j of a compiled per-anchor output maps to anchors: for rows, and for per-level maps. */
type AnchorOf = (j: number) => ElementReport['anchor'];

interface OutputPlan {
  name: string;
  got: (b: RunOutputs) => Float32Array;
  want: (a: RunOutputs) => Float32Array | undefined;
  index: (j: number) => number;
  /** Expected element count per input. */
  length: number;
  anchorOf: AnchorOf;
}

function outputPlans(
  orig: AnalyzedModel,
  comp: AnalyzedModel,
  kept: number[][],
  keptIdx: Int32Array,
  pairs: HeadPair[],
  cut: boolean,
): OutputPlan[] {
  const featureMaps = orig.spec.levels.map((l) => l.featureMap);
  const origOffsets = levelOffsets(
    orig.spec.levels.map((l) => ({ h: l.featureMap[0], w: l.featureMap[1], anchorsPerLocation: l.anchorsPerLocation })),
  );
  const levelOfOrig = (n: number) => levelOfAnchor(origOffsets, n);
  const compOffsets = levelOffsets(
    comp.spec.levels.map((l) => ({ h: l.featureMap[0], w: l.featureMap[1], anchorsPerLocation: l.anchorsPerLocation })),
  );
  return comp.spec.outputs.map((out): OutputPlan => {
    // rows of the anchors of out.levels (all levels, or one per output as in SCRFD-style exports), in level order; the
    // original's reading wins when the compiled output is ambiguous (one anchor and one value per location reads as a map)
    const origOut = orig.spec.outputs.find((x) => x.name === out.name);
    if (out.kind === 'rows' || origOut?.kind === 'rows') {
      const k = origOut?.valuesPerRow ?? out.valuesPerRow;
      const anchors = Int32Array.from(
        out.levels.flatMap((l) =>
          Array.from({ length: compOffsets[l + 1]! - compOffsets[l]! }, (_, i) => compOffsets[l]! + i),
        ),
      );
      const origRows = new Map<number, number>();
      let rows = 0;
      for (const l of orig.spec.outputs.find((x) => x.name === out.name)?.levels ?? []) {
        origRows.set(l, rows);
        rows += origOffsets[l + 1]! - origOffsets[l]!;
      }
      // a row's anchor: rows list a level's anchors (y, x, a), or (a, y, x) in YOLO exports
      const rowOf = (levels: readonly { featureMap: [number, number]; anchorsPerLocation: number }[]) => {
        const offsets = levels === orig.spec.levels ? origOffsets : compOffsets;
        return (n: number, l: number) => {
          const i = n - offsets[l]!;
          if (out.rowOrder !== 'anchor-major') return i;
          const A = levels[l]!.anchorsPerLocation;
          const [h, w] = levels[l]!.featureMap;
          return (i % A) * h * w + Math.floor(i / A);
        };
      };
      const origRowIn = rowOf(orig.spec.levels);
      const compRowIn = rowOf(comp.spec.levels);
      const origRow = (n: number) => origRows.get(levelOfOrig(n))! + origRowIn(n, levelOfOrig(n));
      // compiled row r -> its anchor (inverse of compRowIn within a level, which is a permutation)
      const compAnchorAt = new Int32Array(anchors.length);
      {
        let base = 0;
        for (const l of out.levels) {
          const size = compOffsets[l + 1]! - compOffsets[l]!;
          for (let i = 0; i < size; i++) compAnchorAt[base + compRowIn(compOffsets[l]! + i, l)] = compOffsets[l]! + i;
          base += size;
        }
      }
      return {
        name: out.name,
        got: (b) => b[out.name]!.data,
        want: (a) => a[out.name]?.data,
        index: (j) => origRow(keptIdx[compAnchorAt[Math.floor(j / k)]!]!) * k + (j % k),
        length: anchors.length * k,
        anchorOf: (j) => {
          const r = compAnchorAt[Math.floor(j / k)]!;
          return { compiled: r, original: keptIdx[r]!, level: levelOfOrig(keptIdx[r]!), value: j % k };
        },
      };
    }
    const pair = pairs.find((p) => p.compiledLevel === out.level && p.comp.groups.some((g) => g.role === out.role));
    if (!pair)
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `output ${out.name} of the compiled model has no counterpart in the original`,
        'verify against the model that was compiled',
      );
    const l = pair.level;
    const [h, w] = featureMaps[l]!;
    const hw = h * w;
    const A = orig.spec.levels[l]!.anchorsPerLocation;
    const Ak = kept[l]!.length;
    const K = pair.comp.valuesPerAnchor;
    const src = cut
      ? pair.orig.node.output().name
      : (orig.spec.outputs.find((x) => x.kind === 'map' && x.level === l && x.role === out.role)?.name ?? '');
    return {
      name: out.name,
      got: (b) => b[out.name]!.data,
      want: (a) => a[src]?.data,
      index: (j) => pair.channels[Math.floor(j / hw)]! * hw + (j % hw),
      length: pair.channels.length * hw,
      anchorOf: (j) => {
        const ch = Math.floor(j / hw);
        const p = j % hw;
        const [a, value] =
          pair.comp.layout === 'anchor-major' ? [Math.floor(ch / K), ch % K] : [ch % Ak, Math.floor(ch / Ak)];
        return {
          compiled: compOffsets[pair.compiledLevel]! + p * Ak + a,
          original: origOffsets[l]! + p * A + kept[l]![a]!,
          level: l,
          value,
        };
      },
    };
  });
}

export async function verify(o: VerifyOptions): Promise<VerifyResult> {
  checkOptions(o);
  const report = readCompileReport(o.outDir);
  checkOriginal(report, o.original, o.outDir);
  const cFiles = cModuleFiles(report);
  const missing =
    cFiles && !o.skipC ? [cFiles.source, cFiles.header].find((f) => !existsSync(join(o.outDir, f))) : undefined;
  if (missing)
    throw new PrunedetError(
      'E_REPORT',
      `${join(o.outDir, 'report.json')} lists the C module but ${join(o.outDir, missing)} is missing`,
      'recompile with --emit c, or pass --skip-c',
    );
  const opt = o.inputShape ? { inputShape: o.inputShape } : {};
  const orig = loadDetector(o.original, opt);
  const comp = loadDetector(join(o.outDir, 'model.onnx'), opt);
  // a full export keeps its NMS: its detections are compared with the masked original's, in the graph
  if (orig.spec.postprocess && report.cutHead === undefined)
    return (await import('./full-export')).verifyFullExport(o, report, orig, comp);
  const kept = report.config.kept;
  const counts = orig.spec.levels.map((l) => l.anchorsPerLocation);
  if (kept.length !== counts.length || kept.some((k, i) => k.some((a) => a >= counts[i]!))) {
    throw new PrunedetError(
      'E_REPORT',
      `the kept anchors in ${join(o.outDir, 'report.json')} (${kept.map((k) => k.length).join(',')} per level) do not fit ${o.original} (${counts.join(',')} anchors per level)`,
      'verify against the model that was compiled',
    );
  }
  const featureMaps = orig.spec.levels.map((l) => l.featureMap);
  const keptIdx = keptAnchorIndices(featureMaps, counts, kept);
  const preset = o.postprocess ?? report.postprocess?.requested ?? report.postprocess?.preset;
  const inputs = inputsFor(o, orig, typeof preset === 'string' ? preset : undefined);
  const cut = report.cutHead !== undefined;
  const pairs = headPairs(orig, comp, kept);
  const plans = outputPlans(orig, comp, kept, keptIdx, pairs, cut);

  // what the passes re-rounded, and the tolerance model it implies (before any tap is added to the graph)
  const changes = report.passes.flatMap((p) => (p.changed ? (p.rounding ?? []) : []));
  const unrecorded = report.passes.filter((p) => p.changed && p.rounding === undefined).map((p) => p.pass);
  const outValues = comp.spec.outputs.map((b) => comp.model.graph.values.get(b.name)!);
  // a conv in integer arithmetic (QLinearConv, a QDQ conv unit) computes each kept channel exactly as the original
  // (int32 sums, per-channel requantization): with its quantized parameters equal, its output is bit for bit
  const dtypeOf = (v: Value | undefined) => comp.shapes.get(v!)?.dtype;
  const slicedAll = pairs
    .filter((p) => p.channels.length < p.orig.channels)
    .flatMap((p) => slicedConvs(p).map(([c]) => c));
  const sliced = slicedAll.filter((c) => !isIntegerConv(c, dtypeOf));
  const plan = new RoundingPlan(comp.model.graph, comp.shapes, changes, unrecorded, sliced);
  // the exact half of slicing: the sliced convs hold the original's parameters at the kept channels, bit for bit
  const parameters = checkSlicedParameters(pairs, (c) => plan.parametersChanged(c));
  const integer = slicedAll.length - sliced.length;
  if (integer) parameters.integer = integer;
  const inputMap = (conv: Node) => {
    const p = pairs.find((x) => x.comp.node === conv);
    const inC = comp.shapes.shape(convWeight(conv))?.[1];
    return p && conv.getInt('group', 1)! > 1 && inC === 1 ? Int32Array.from(p.channels) : undefined;
  };
  const tm = new ToleranceModel(
    plan,
    comp.shapes,
    findRegion(comp.model.graph, comp.shapes, outValues),
    outValues,
    inputMap,
  );
  const taps = tm.taps().map((v: Value) => v.name);
  const origTaps = [...taps, ...(cut ? pairs.map((p) => p.orig.node.output().name) : [])];
  const sOrig = await sessionWith(orig, origTaps);
  const sComp = await sessionWith(comp, taps);

  const { ppOrig, ppComp } =
    typeof preset === 'string' ? postprocessPair(report, orig, comp, preset, kept, keptIdx, cut) : {};
  const mask = removedMask(orig.spec.boxes, keptIdx);
  const origInput = (a: RunOutputs): PostprocessInput => originalInput(orig, a, cut);
  const mapAnchor = (an: number) => keptIdx[an]!;

  // fidelity (images only): both models' detections as COCO results in photo pixels, as search scores them
  const units = ppOrig && inputs.geometry ? boxUnitsOf(orig.spec, ppOrig) : undefined;
  const fullCoco: CocoDetection[] = [];
  const compCoco: CocoDetection[] = [];
  const toCoco = (dets: Detection[], i: number, into: CocoDetection[]) => {
    for (const d of dets)
      into.push({
        image_id: i + 1,
        category_id: d.label + 1,
        bbox: toImageXywh(d.box, units!, inputs.geometry!(i)),
        score: d.score,
      });
  };

  const stats = new Map<string, TensorStats>(plans.map((p) => [p.name, emptyStats()]));
  const featureStats = new Map<string, TensorStats & { ulps: number }>();
  const underivable = new Map<string, string>();
  let tensorFirst: string | undefined;
  let detFirst: string | undefined;
  const det = { count: 0, detections: 0, compiled: 0, matched: 0, identical: 0 };
  const levelCounts = (ppOrig?.levels ?? []).map(() => ({ inputs: 0, planted: 0 }));
  const cInputs: PostprocessInput[] = [];
  const cNames: string[] = [];
  const n = inputs.names.length;
  for (let i = 0; i < n; i++) {
    const x = inputs.make(i);
    const a = await runOnce(sOrig, orig.spec.input.name, orig.spec.input.shape, x);
    const b = await runOnce(sComp, comp.spec.input.name, comp.spec.input.shape, x);
    const name = `input ${i} (${inputs.names[i]})`;
    // (a) tensors: outputs, then the head's feature maps
    const radii: OutputRadii = tm.radii(b, a);
    for (const p of plans) {
      const s = stats.get(p.name)!;
      const got = p.got(b);
      const want = p.want(a);
      if (!want || got.length !== p.length) {
        s.mismatches += got.length;
        s.elements += got.length;
        tensorFirst ??= `${name}: output ${p.name} has ${got.length} values, the kept anchors give ${p.length}${want ? '' : ' (and the original has no counterpart)'}`;
        continue;
      }
      const user = overrideFor(o.tolerances, p.name);
      const r = radii.get(p.name);
      if (typeof r === 'string' && !user) {
        underivable.set(p.name, r);
        continue;
      }
      const before = s.mismatches;
      const tol = user
        ? (_j: number, w: number) => user.atol + user.rtol * Math.abs(w)
        : r
          ? (j: number) => (r as Float32Array)[j]!
          : () => 0;
      accumulate(s, i, got, want, p.index, tol);
      if (s.mismatches > before && !tensorFirst && s.worst?.input === i) {
        const an = p.anchorOf(s.worst.index)!;
        tensorFirst = `${name}: output ${p.name} at compiled anchor ${an.compiled} (original anchor ${an.original}, level ${an.level}), value ${an.value}: got ${s.worst.got}, expected ${s.worst.expected}, error ${s.worst.absError.toExponential(2)} > tolerance ${s.worst.tolerance.toExponential(2)}`;
      }
    }
    for (const f of tm.features(b, a)) {
      const s = featureStats.get(f.value) ?? { ...emptyStats(), ulps: f.ulps };
      featureStats.set(f.value, s);
      const before = s.mismatches;
      accumulate(s, i, f.got, f.want, f.index, () => f.tolerance);
      if (s.mismatches > before && !tensorFirst)
        tensorFirst = `${name}: the head's input ${f.value} differs by ${s.maxAbs.toExponential(2)} > tolerance ${f.tolerance.toExponential(2)} (${f.ulps.toFixed(0)} ulp of its largest value)`;
    }
    // (b) detections: the oracle on the model's own outputs
    if (ppOrig && ppComp) {
      const origIn = origInput(a);
      const ctx = { anchors: ppOrig.anchors, levels: ppOrig.levels, numClasses: ppOrig.numClasses };
      const want = postprocess(ppOrig.spec, origIn, { ...ctx, suppressed: mask });
      const cctx = { anchors: ppComp.anchors, levels: ppComp.levels, numClasses: ppComp.numClasses };
      const ident = postprocess(ppComp.spec, gatherKept(origIn, keptIdx, ppOrig, kept), cctx);
      const compIn = referenceInput(comp.spec, b, ppComp.levels);
      const got = postprocess(ppComp.spec, compIn, cctx);
      const d = diffDetections(ident, want, mapAnchor);
      if (d && !detFirst)
        detFirst = `${name}, original anchor ${d.anchor}: the compiled post-processing of the original's kept anchors differs from the oracle: ${d.detail}`;
      if (tm.exact && !detFirst) {
        const e = diffDetections(got, want, mapAnchor);
        if (e)
          detFirst = `${name}, original anchor ${e.anchor}: the compiled model's detections differ from the oracle's although every tensor is bit for bit: ${e.detail}`;
      }
      det.count++;
      det.detections += want.length;
      det.compiled += got.length;
      const m = matchDetections(got, want, mapAnchor);
      det.matched += m.matched;
      det.identical += m.identical;
      detectionsPerLevel([want], ppOrig.levels).forEach((c, l) => (levelCounts[l]!.inputs += c));
      if (units) {
        toCoco(postprocess(ppOrig.spec, origIn, ctx), i, fullCoco);
        toCoco(got, i, compCoco);
      }
      cInputs.push(compIn);
      cNames.push(inputs.names[i]!);
    }
    o.progress?.(i + 1, n);
  }
  await sOrig.release();
  await sComp.release();

  // (b) on planted head outputs: objects on every level that keeps anchors
  const planted =
    ppOrig && ppComp
      ? checkPlanted(orig, ppOrig, ppComp, { kept, keptIdx, mask, cut })
      : { count: 0, detections: 0, perLevel: [], inputs: [] };
  if (planted.first && !detFirst) detFirst = planted.first;
  planted.perLevel.forEach((c, l) => (levelCounts[l]!.planted += c));
  for (const p of planted.inputs) {
    cInputs.push(p.input);
    cNames.push(p.name);
  }

  // (a) assembled
  const tensors = tensorCheck({
    plans,
    stats,
    featureStats,
    underivable,
    tm,
    plan,
    comp,
    o,
    names: inputs.names,
    tensorFirst,
    parameters,
    anchors: keptIdx.length,
  });

  const levels: LevelCount[] = orig.spec.levels.map((_, i) => ({
    level: i,
    keptAnchors: kept[i]!,
    anchors: featureMaps[i]![0] * featureMaps[i]![1] * kept[i]!.length,
    detections: levelCounts[i] ?? { inputs: 0, planted: 0 },
  }));
  const silent = levels.filter((l) => l.anchors > 0 && l.detections.inputs + l.detections.planted === 0);
  const detections: DetectionCheck = {
    ...(!ppOrig
      ? {
          status: 'inconclusive' as const,
          reason:
            'no post-processing preset is known for OUTDIR, so no detection was compared: pass --postprocess PRESET (or compile with --emit c --postprocess PRESET)',
        }
      : detFirst
        ? { status: 'fail' as const, reason: detFirst }
        : silent.length
          ? {
              status: 'inconclusive' as const,
              reason: `level${silent.length > 1 ? 's' : ''} ${silent.map((l) => l.level).join(', ')} keep anchors but no detection there was compared: give --images where the model detects objects at that scale, or lower score_thr (--postprocess ${String(preset)},score_thr=...)`,
            }
          : { status: 'pass' as const }),
    ...(typeof preset === 'string' ? { preset } : {}),
    levels,
    inputs: det,
    planted: { count: planted.count, detections: planted.detections },
  };

  const cModule = checkC(o, report, ppComp, cInputs, cNames);
  let fidelity: number | undefined;
  if (units && ppOrig && fullCoco.length > 0) {
    const foreground = foregroundCount(ppOrig.spec, ppOrig.numClasses);
    fidelity = scoreDetections(
      fidelityMetric(
        fullCoco,
        inputs.names.map((_, i) => i + 1),
        foreground,
      ),
      compCoco,
    );
  }
  const checks = { tensors, detections, cModule };
  return {
    schema: 'prunedet.verify/1',
    ...verdict([tensors, detections, cModule]),
    original: { file: o.original, sha256: report.model.sha256 },
    outDir: o.outDir,
    inputs: { source: inputs.source, count: n, names: inputs.names },
    checks,
    ...(fidelity !== undefined ? { fidelity } : {}),
  };
}

interface TensorFindings {
  plans: OutputPlan[];
  stats: Map<string, TensorStats>;
  featureStats: Map<string, TensorStats & { ulps: number }>;
  /** Outputs no tolerance follows for, and why. */
  underivable: Map<string, string>;
  tm: ToleranceModel;
  plan: RoundingPlan;
  comp: AnalyzedModel;
  o: VerifyOptions;
  names: string[];
  tensorFirst: string | undefined;
  parameters: TensorCheck['parameters'];
  anchors: number;
}

/** Check (a), assembled: per output and per head feature, what was compared under which tolerance, and the verdict. */
function tensorCheck(f: TensorFindings): TensorCheck {
  const outputs: ComparedTensor[] = f.plans.map((p) => {
    const s = f.stats.get(p.name)!;
    const user = overrideFor(f.o.tolerances, p.name);
    const origin = f.tm.origin(p.name);
    const tolerance: ComparedTensor['tolerance'] = user
      ? { kind: 'override', max: s.maxTolerance, origin: `--atol/--rtol: ${describeTolerance(user)}`, ...user }
      : origin
        ? { kind: 'derived', max: s.maxTolerance, origin: f.underivable.get(p.name) ?? origin }
        : { kind: 'bitwise', max: 0, origin: 'bit for bit: only slicing and removal reach this output' };
    return {
      name: p.name,
      elements: s.elements,
      tolerance,
      maxAbsError: s.maxAbs,
      overTolerance: s.mismatches,
      ...(s.worst ? { worst: elementReport(s.worst, f.names, p.anchorOf) } : {}),
    };
  });
  const features: ComparedTensor[] = [...f.featureStats].map(([name, s]) => ({
    name,
    elements: s.elements,
    tolerance: {
      kind: 'derived',
      max: s.maxTolerance,
      origin: `${f.plan.describe([f.comp.model.graph.values.get(name)!])}: ${LAMBDA}·s = ${s.ulps.toFixed(0)} ulp of max|x| (tolerance.ts step 1)`,
    },
    maxAbsError: s.maxAbs,
    overTolerance: s.mismatches,
    ...(s.worst ? { worst: elementReport(s.worst, f.names, () => undefined) } : {}),
  }));
  const compared = outputs.reduce((t, x) => t + x.elements, 0);
  const failure = f.tensorFirst ?? f.parameters.first;
  return {
    ...(failure
      ? { status: 'fail' as const, reason: failure }
      : f.underivable.size
        ? {
            status: 'inconclusive' as const,
            reason: `no tolerance follows for output ${[...f.underivable.keys()].join(', ')} (${[...f.underivable.values()][0]}): give one with --atol/--rtol`,
          }
        : compared === 0
          ? { status: 'inconclusive' as const, reason: 'no tensor element was compared' }
          : { status: 'pass' as const }),
    inputs: f.names.length,
    anchors: f.anchors,
    parameters: f.parameters,
    outputs,
    features,
  };
}

/**
 * The post-processing of both sides: both read the same kind of tensors (the raw head maps for a --cut-head model).
 * A model cut at the head lost the anchor table its graph embedded; compile emitted its C module from the table of
 * the model before the cut: the original's, at the kept anchors.
 */
function postprocessPair(
  report: CompileReport,
  orig: AnalyzedModel,
  comp: AnalyzedModel,
  preset: string,
  kept: number[][],
  keptIdx: Int32Array,
  cut: boolean,
): { ppOrig: ModelPostprocess; ppComp: ModelPostprocess } {
  const baseline = reportBaselineSet(report);
  const ppOrig = postprocessForModel(orig.spec, preset, {
    ...(baseline ? { baseline } : {}),
    ...(cut ? { rawHead: true } : {}),
  });
  const compSpec =
    comp.spec.anchorTable || !orig.spec.anchorTable
      ? comp.spec
      : { ...comp.spec, anchorTable: keptAnchorTable(orig.spec.anchorTable, keptIdx) };
  const featureMaps = orig.spec.levels.map((l) => l.featureMap);
  return {
    ppOrig,
    ppComp: compiledPostprocess({ spec: compSpec, baselineSet: baseline, featureMaps }, preset, kept, cut),
  };
}

/** The original's post-processing input from its outputs `a`; cut: its head maps, per level (none is empty there). */
function originalInput(orig: AnalyzedModel, a: RunOutputs, cut: boolean): PostprocessInput {
  if (!cut) return referenceInput(orig.spec, a);
  return {
    form: 'per-level',
    levels: orig.spec.levels.map((l, i) => {
      const map = (role: string) => l.convs.find((c) => c.groups.length === 1 && c.groups[0]!.role === role);
      const cls = map('scores');
      const reg = map('boxes');
      if (!cls || !reg)
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `level ${i + 1} has no separate score and box convs`,
          'compile without --cut-head',
        );
      return { cls: a[cls.node.output().name]!.data, reg: a[reg.node.output().name]!.data };
    }),
  };
}

interface PlantedResult {
  count: number;
  detections: number;
  /** Oracle detections per level of the original. */
  perLevel: number[];
  /** The first difference, if any. */
  first?: string;
  /** The gathered inputs, for the C module check. */
  inputs: { input: PostprocessInput; name: string }[];
}

/** The oracle on planted head outputs (objects on every level that keeps anchors): compiled post-processing of the kept anchors vs the masked original. */
function checkPlanted(
  orig: AnalyzedModel,
  ppOrig: ModelPostprocess,
  ppComp: ModelPostprocess,
  k: { kept: number[][]; keptIdx: Int32Array; mask: Uint8Array; cut: boolean },
): PlantedResult {
  const out: PlantedResult = { count: 0, detections: 0, perLevel: ppOrig.levels.map(() => 0), inputs: [] };
  const form = k.cut ? 'per-level' : referenceInputForm(orig.spec);
  PLANTED_SEEDS.forEach((seed, s) => {
    const x = plantedInput(ppOrig, orig.spec, k.kept, seed, form);
    if (!x) return;
    const want = postprocess(ppOrig.spec, x, {
      anchors: ppOrig.anchors,
      levels: ppOrig.levels,
      numClasses: ppOrig.numClasses,
      suppressed: k.mask,
    });
    const gathered = gatherKept(x, k.keptIdx, ppOrig, k.kept);
    const got = postprocess(ppComp.spec, gathered, {
      anchors: ppComp.anchors,
      levels: ppComp.levels,
      numClasses: ppComp.numClasses,
    });
    const d = diffDetections(got, want, (an) => k.keptIdx[an]!);
    if (d && !out.first)
      out.first = `planted head outputs #${s}, original anchor ${d.anchor}: the compiled post-processing differs from the oracle: ${d.detail}`;
    out.count++;
    out.detections += want.length;
    detectionsPerLevel([want], ppOrig.levels).forEach((c, l) => (out.perLevel[l]! += c));
    out.inputs.push({ input: gathered, name: `planted head outputs #${s}` });
  });
  return out;
}

function elementReport(w: WorstElement, names: string[], anchorOf: AnchorOf): ElementReport {
  const anchor = anchorOf(w.index);
  return { ...w, inputName: names[w.input] ?? `input ${w.input}`, ...(anchor ? { anchor } : {}) };
}

/** (c): the C module against the reference on the compiled side's inputs, bit for bit. */
function checkC(
  o: VerifyOptions,
  report: CompileReport,
  pp: ModelPostprocess | undefined,
  inputs: PostprocessInput[],
  names: string[],
): CCheck {
  const files = cModuleFiles(report);
  if (!files)
    return {
      status: 'skipped',
      reason: 'compile emitted no C module (compile --emit c --postprocess PRESET writes one)',
      runs: 0,
      detections: 0,
    };
  if (o.skipC) return { status: 'skipped', reason: 'C module not checked (--skip-c)', runs: 0, detections: 0 };
  if (!pp)
    return {
      status: 'inconclusive',
      reason: 'no post-processing preset to run the C module against: pass --postprocess PRESET',
      runs: 0,
      detections: 0,
    };
  if (!hasGcc())
    return {
      status: 'inconclusive',
      reason:
        'gcc is not on PATH, so the emitted C module was not built: install gcc (Debian: apt-get install gcc), or pass --skip-c to verify without it',
      runs: 0,
      detections: 0,
    };
  const input = report.postprocess!.input as 'concat' | 'per-level' | 'yolo';
  const quant = report.postprocess!.inputQuant;
  const shape: CModuleShape = {
    prefix: report.postprocess!.symbolPrefix as string,
    files,
    input,
    numClasses: pp.numClasses,
    levels: pp.levels,
    ...(report.postprocess!.inputLayout === 'nhwc' ? { layout: 'nhwc' as const } : {}),
    ...(quant ? { quant } : {}),
  };
  const cap = (report.postprocess!.candidateCap as number | undefined) ?? candidateCapFor(pp);
  const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses, candidateCap: cap };
  // a quantized module reads the outputs quantized with its scale and zero point: the reference runs on those values
  // dequantised (a model whose outputs come from that DequantizeLinear gives them back unchanged)
  const refs = inputs.map((x0) => {
    const x = asQuantizedInput(x0, quant);
    return postprocess(pp.spec, x.form === input ? x : asModuleReads(flattenForC(x), input, pp), ctx);
  });
  const runner = buildRunner(o.outDir, shape);
  try {
    const got = runRunner(
      runner,
      shape,
      inputs.map((x) => packInputForC(shape, x)),
    ).detections;
    let first: string | undefined;
    let count = 0;
    got.forEach((g, i) => {
      count += g.length;
      const d = diffDetections(g, refs[i]!, (a) => a);
      if (d && !first) first = `${names[i]}, anchor ${d.anchor}: the C module differs from the reference: ${d.detail}`;
    });
    const flags = ['gcc', ...BASE_CFLAGS].join(' ');
    if (first) return { status: 'fail', reason: first, runs: inputs.length, detections: count, flags };
    if (count === 0)
      return {
        status: 'inconclusive',
        reason: `the C module ran on ${inputs.length} inputs but produced no detection to compare: pass --images with objects the model detects`,
        runs: inputs.length,
        detections: 0,
        flags,
      };
    return { status: 'pass', runs: inputs.length, detections: count, flags };
  } finally {
    runner.dispose();
  }
}
