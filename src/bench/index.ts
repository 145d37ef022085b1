// `prunedet bench OUTDIR`: what pruning buys in post-processing and in the model. For the original anchor set and the
// pruned one, each implementation runs on the same head outputs: the emitted C (gcc -O2, timed natively), the
// TypeScript reference, and onnxruntime running decode + NonMaxSuppression as an ONNX graph; next to the floor (a
// memcpy of the same bytes) and end-to-end model latency in onnxruntime.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadDetector } from '../detector/index';
import { PrunedetError } from '../errors';
import { makeTempDir } from '../cleanup';
import { LIMITS } from '../limits';
import { compiledPostprocess, emitPlanFor, candidateCapFor } from '../compile-emit';
import { postprocessForModel, referenceInput, type ModelPostprocess } from '../postprocess/for-model';
import { postprocess, scoreAnchor, type PostprocessInput } from '../postprocess/reference';
import { foregroundCount } from '../postprocess/spec';
import { emitPostprocessC } from '../emit/c/index';
import { BASE_CFLAGS, flattenForC, hasGcc } from '../verify/c-runner';
import { checkOriginal, readCompileReport, reportBaselineSet } from '../verify/report';
import { RUN_SESSION_OPTIONS, runOnce } from '../verify/session';
import { timeSideBySide, type TimedModule } from './c-timing';
import { keptAnchorIndices } from '../verify/compare';
import { listImages, decodeImage } from '../image/decode';
import { preprocess } from '../image/preprocess';
import { preprocessOptionsFor } from '../search/inputs';
import { buildPostprocessGraph } from '../emit/onnx/nms-graph';
import { modelToBytes } from '../onnx/save';
import { syntheticHeadOutputs } from './synthetic-heads';
import { summarize, type Summary } from './stats';

export interface BenchOptions {
  outDir: string;
  original?: string;
  /** A folder of images: benchmark on the real head outputs of the first one (else synthetic trained-like outputs). */
  images?: string;
  postprocess?: string;
  /** Timed runs per measurement (the CLI insists on at least 200; tests use fewer). */
  runs?: number;
  warmup?: number;
  /** Skip the end-to-end model timing. */
  noModel?: boolean;
  /** Which anchor sets to measure (default both). */
  sets?: ('original' | 'pruned')[];
  /** Timed runs of the (slow) TypeScript reference, when fewer than `runs` are enough (the demo). */
  tsRuns?: number;
  progress?: (msg: string) => void;
}

export type Impl = 'c' | 'ts' | 'ort';

export interface PostprocessTiming extends Summary {
  impl: Impl;
  anchors: 'original' | 'pruned';
  /** (anchor, class) pairs above the score threshold. */
  candidates: number;
  detections: number;
}

/**
 * The C module is timed as it would be built for this machine: gcc -O2 for the host CPU (-march=native: the vector
 * width the target has). Embedded builds use their own -mcpu; the results are identical either way (-ffp-contract=off).
 */
export const NATIVE_FLAGS = ['-march=native'];

export interface BenchResult {
  /** How the C module was compiled for timing. */
  cFlags: string;
  preset: string;
  inputs: 'synthetic' | 'images';
  boxes: { original: number; pruned: number };
  /** Floor of the original anchor set's head outputs (median µs); `floors` has both sets. */
  floorUs: number;
  floor: Summary;
  floors: { original: Summary; pruned: Summary };
  postprocess: PostprocessTiming[];
  model: { originalMs: number; compiledMs: number } | null;
  runs: number;
}

/** (anchor, class) pairs whose score passes the threshold: the work NMS sees. */
export function countCandidates(pp: ModelPostprocess, input: PostprocessInput): number {
  if (input.form !== 'concat') return -1;
  const k = foregroundCount(pp.spec, pp.numClasses);
  const out = new Float64Array(k);
  const n = input.scores.length / pp.numClasses;
  let count = 0;
  for (let i = 0; i < n; i++) {
    scoreAnchor(pp.spec, pp.numClasses, (j) => input.scores[i * pp.numClasses + j]!, out);
    for (let j = 0; j < k; j++) if (out[j]! > pp.spec.scoreThreshold) count++;
  }
  return count;
}

/** Gather the rows of kept anchors out of concat-form outputs. */
function gatherRows(x: { scores: Float32Array; boxes: Float32Array }, idx: Int32Array, c: number): { scores: Float32Array; boxes: Float32Array } {
  const scores = new Float32Array(idx.length * c);
  const boxes = new Float32Array(idx.length * 4);
  idx.forEach((n, r) => {
    scores.set(x.scores.subarray(n * c, (n + 1) * c), r * c);
    boxes.set(x.boxes.subarray(n * 4, (n + 1) * 4), r * 4);
  });
  return { scores, boxes };
}

/** Median latency (ms) of a model in onnxruntime-node over `runs` runs after 2 warm-up runs. */
export async function timeModel(path: string, dims: number[], runs: number): Promise<number> {
  const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3, intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.1), dims);
  const name = s.inputNames[0]!;
  for (let i = 0; i < 2; i++) await s.run({ [name]: x });
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run({ [name]: x });
    t.push(performance.now() - t0);
  }
  await s.release();
  return summarize(t.map((v) => v * 1000)).medianUs / 1000;
}

export async function bench(o: BenchOptions): Promise<BenchResult> {
  const runs = o.runs ?? 200;
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= LIMITS.benchRuns)) {
    throw new PrunedetError('E_USAGE', `--runs ${runs} is not a whole number from 1 to ${LIMITS.benchRuns.toLocaleString('en-US')}`, 'medians and p99 settle within a few thousand runs; pass e.g. --runs 1000');
  }
  const warmup = o.warmup ?? 20;
  const say = o.progress ?? (() => undefined);
  const report = readCompileReport(o.outDir);
  const originalPath = o.original ?? report.model.file;
  if (!existsSync(originalPath)) throw new PrunedetError('E_FILE_NOT_FOUND', `the original model ${originalPath} is not there`, 'pass it with --original');
  checkOriginal(report, originalPath, o.outDir);
  const preset = o.postprocess ?? (report.postprocess?.requested as string | undefined);
  if (!preset) throw new PrunedetError('E_USAGE', 'bench needs the post-processing semantics', 'compile with --emit c --postprocess PRESET, or pass --postprocess');
  const orig = loadDetector(originalPath);
  const comp = loadDetector(join(o.outDir, 'model.onnx'));
  const kept = report.config.kept;
  const featureMaps = report.featureMaps;
  const counts = orig.spec.levels.map((l) => l.anchorsPerLocation);
  const baseline = reportBaselineSet(report);
  // both anchor sets read the same kind of input: the raw head (concat), as a fused post-processing would
  const ppOrig = postprocessForModel(orig.spec, preset, { rawHead: true, ...(baseline ? { baseline } : {}) });
  const ppPruned = compiledPostprocess({ spec: comp.spec, baselineSet: baseline, featureMaps }, preset, kept, true);
  const idx = keptAnchorIndices(featureMaps, counts, kept);

  say(o.images ? 'running the original on an image for real head outputs' : 'making trained-like head outputs');
  let origIn: { scores: Float32Array; boxes: Float32Array };
  if (o.images) {
    const img = listImages(o.images)[0]!;
    const x = preprocess(decodeImage(img), preprocessOptionsFor(orig.spec, preset));
    const s = await ort.InferenceSession.create(originalPath, RUN_SESSION_OPTIONS);
    const outs = await runOnce(s, orig.spec.input.name, orig.spec.input.shape, x);
    await s.release();
    const ri = referenceInput(orig.spec, outs);
    if (ri.form !== 'concat') throw new PrunedetError('E_USAGE', 'bench on images needs a model with concatenated outputs', 'bench without --images');
    origIn = { scores: ri.scores, boxes: ri.boxes };
  } else {
    origIn = syntheticHeadOutputs(ppOrig.spec, ppOrig.numClasses, ppOrig.anchors, 2024, 5);
  }
  const prunedIn = gatherRows(origIn, idx, ppOrig.numClasses);
  const sets = [
    { anchors: 'original' as const, pp: ppOrig, input: { form: 'concat' as const, ...origIn } },
    { anchors: 'pruned' as const, pp: ppPruned, input: { form: 'concat' as const, ...prunedIn } },
  ].filter((x) => !o.sets || o.sets.includes(x.anchors));
  const timings: PostprocessTiming[] = [];
  const floors: Partial<Record<'original' | 'pruned', Summary>> = {};
  const cMods: { anchors: 'original' | 'pruned'; candidates: number; mod: TimedModule }[] = [];
  const { dir: work, release } = makeTempDir('bench');
  try {
    for (const set of sets) {
      const candidates = countCandidates(set.pp, set.input);
      const cap = candidateCapFor(set.pp);
      const ctx = { anchors: set.pp.anchors, levels: set.pp.levels, numClasses: set.pp.numClasses, candidateCap: cap };
      const ref = postprocess(set.pp.spec, set.input, ctx);
      if (hasGcc()) {
        // emitted now, timed below side by side with the other set's module
        const dir = join(work, set.anchors);
        const plan = emitPlanFor(set.pp, set.anchors, { version: 'bench', modelFile: 'bench', modelSha256: 'bench', config: set.anchors }, 'concat', orig.spec.imageSize);
        mkdirSync(dir, { recursive: true }); // bench's private scratch folder: plain writes are enough
        for (const f of emitPostprocessC(plan).files) writeFileSync(join(dir, f.name), f.text);
        cMods.push({ anchors: set.anchors, candidates, mod: { dir, shape: { prefix: `pd_${set.anchors}_`, input: 'concat', numClasses: set.pp.numClasses, levels: set.pp.levels }, input: flattenForC(set.input) } });
      }
      const tsRuns = o.tsRuns ?? runs;
      const tsWarm = Math.min(warmup, tsRuns);
      say(`TypeScript reference, ${set.anchors} anchors (${tsRuns} runs)`);
      const ts: number[] = [];
      for (let i = 0; i < tsRuns + tsWarm; i++) {
        const t0 = performance.now();
        postprocess(set.pp.spec, set.input, ctx);
        if (i >= tsWarm) ts.push((performance.now() - t0) * 1000);
        await new Promise((r) => setImmediate(r)); // untimed: lets an interrupt be handled between runs
      }
      timings.push({ impl: 'ts', anchors: set.anchors, candidates, detections: ref.length, ...summarize(ts) });
      say(`onnxruntime decode + NonMaxSuppression, ${set.anchors} anchors (${runs} runs)`);
      const graph = buildPostprocessGraph({ spec: set.pp.spec, anchors: set.pp.anchors, levels: set.pp.levels, numClasses: set.pp.numClasses });
      const s = await ort.InferenceSession.create(modelToBytes(graph), { logSeverityLevel: 3, intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
      const n = set.input.scores.length / set.pp.numClasses;
      const feeds = { scores: new ort.Tensor('float32', set.input.scores, [1, n, set.pp.numClasses]), boxes: new ort.Tensor('float32', set.input.boxes, [1, n, 4]) };
      const t: number[] = [];
      let dets = 0;
      for (let i = 0; i < runs + warmup; i++) {
        const t0 = performance.now();
        const out = await s.run(feeds);
        if (i >= warmup) t.push((performance.now() - t0) * 1000);
        dets = (out[s.outputNames[0]!] as ort.Tensor).dims[0] ?? 0;
      }
      await s.release();
      timings.push({ impl: 'ort', anchors: set.anchors, candidates, detections: dets, ...summarize(t) });
    }
    if (cMods.length) {
      say(`C post-processing, ${cMods.map((m) => m.anchors).join(' and ')} anchors side by side (${runs} runs)`);
      const t = timeSideBySide(cMods.map((m) => m.mod), runs, warmup, NATIVE_FLAGS);
      const cTimes: PostprocessTiming[] = [];
      cMods.forEach((m, i) => {
        cTimes.push({ impl: 'c', anchors: m.anchors, candidates: m.candidates, detections: t.detections[i]!, ...summarize(t.runs[i]!.map((v) => v / 1000)) });
        floors[m.anchors] = summarize(t.floors[i]!.map((v) => v / 1000));
      });
      timings.unshift(...cTimes);
    }
  } finally {
    release();
  }
  let model: BenchResult['model'] = null;
  if (!o.noModel) {
    say('end-to-end model latency in onnxruntime (original, compiled)');
    const mr = Math.min(runs, 30);
    model = { originalMs: await timeModel(originalPath, orig.spec.input.shape, mr), compiledMs: await timeModel(join(o.outDir, 'model.onnx'), comp.spec.input.shape, mr) };
  }
  return {
    cFlags: ['gcc', ...BASE_CFLAGS, ...NATIVE_FLAGS].join(' '),
    preset,
    inputs: o.images ? 'images' : 'synthetic',
    boxes: { original: orig.spec.boxes, pruned: idx.length },
    floorUs: floors.original?.medianUs ?? 0,
    floor: floors.original ?? summarize([0]),
    floors: { original: floors.original ?? summarize([0]), pruned: floors.pruned ?? summarize([0]) },
    postprocess: timings,
    model,
    runs,
  };
}
