// `prunedet search`: find pruned-anchor configurations the way the paper does, on the user's photos. Runs the model
// once per photo into the sparse cache (sparse-cache.ts; `--build-cache-only --shard i/n` fills it from several
// processes), walks a strategy with candidates scored in worker threads that stream the cache (stream-eval.ts), and
// writes the front (configs, pareto.json, report.html). The pieces verify and bench share with it live a floor down
// (src/image/inputs.ts, src/eval/metric.ts, src/search/oracle.ts).
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InternalError } from '../../errors';
import type { SearchInputs } from '../../search/search-inputs';
import { checkOutput, claimOutputDir, readOutputMarker, type CheckOutputOptions } from '../../fs';
import { loadDetector, type AnalyzedModel } from '../../detector/index';
import type { DetectorSpec } from '../../detector/spec';
import { checkImageFile, listImages } from '../../image/decode';
import { parseCocoAnnotations, readCocoAnnotations } from '../../eval/coco-data';
import { postprocessForModel, type ModelPostprocess } from '../../postprocess/for-model';
import { formatPostprocess, PRESETS } from '../../postprocess/presets';
import { yoloAsScoresAndBoxes } from '../../postprocess/yolo';
import { foregroundCount, type Detection } from '../../postprocess/spec';
import type { ParetoLevel } from '../../report/pareto-html';
import { fmtInt, table } from '../../format/table';
import { levelCosts } from '../../search/cost';
import { CandidateEvaluator, type CandidateScore } from '../../search/evaluator';
import {
  boxUnitsOf,
  describePreprocess,
  preprocessOptionsFor,
  usage,
  type BoxUnits,
  type PreprocessFlags,
} from '../../image/inputs';
import { checkFidelity, cocoMetric, matchAnnotations } from '../../eval/metric';
import { oracleDetections, selectParams } from '../../search/oracle';
import { writeSearchOutputs, type LevelEvidence } from '../../search/output';
import { startPool, type EvaluatorSource } from '../../search/pool';
import { loadJournal } from '../../search/state';
import { runStrategy, STRATEGIES, type StrategyName } from '../../search/strategies';
import { evaluationDriver } from '../../search/driver';
import { sha256Hex } from '../../search/cache';
import { denseEvaluatorData } from '../../search/dense-path';
import {
  buildCache,
  recordExpectation,
  shardIndices,
  type CacheStats,
  type PhotoRecord,
} from '../../search/sparse-cache';
import { StreamEvaluator, type StreamData, type StreamMetric } from '../../search/stream-eval';

export type { CacheStats };
import { detectionsPerLevel } from '../../postprocess/per-level';
import { levelName } from '../../format/levels';

export interface SearchOptions {
  model: string;
  images: string;
  outDir: string;
  annotations?: string;
  /** Post-processing preset text, e.g. `ultraface` or `mmdet-ssd300,score_thr=0.3`. */
  postprocess?: string;
  strategy?: StrategyName;
  /** Branches stop below this mAP (default 0.2 with annotations, the paper's; 0.5 for fidelity). */
  minMap?: number;
  /** Layer-wise: most anchors removed per level (default: no limit). */
  anchorsPerLevel?: number;
  /** Most candidates evaluated, over all runs of this search (default 2000). */
  maxCandidates?: number;
  /** Worker threads (default: available cores). */
  workers?: number;
  /**
   * A level whose anchors gave the full model fewer detections than this on the photos is weak evidence: candidates
   * removing anchors there are flagged (their score says little about that level). Default MIN_LEVEL_DETECTIONS.
   */
  minLevelDetections?: number;
  inputShape?: number[];
  headSpec?: string;
  preprocess?: PreprocessFlags;
  /** Cache folder (default OUTDIR/cache); several searches and machines can share one. */
  cacheDir?: string;
  /** With buildSearchCache: the slice of the photos this run fills (`--shard i/n`). */
  shard?: Shard;
  /** 'stream' (default): candidates scored from the cache folder a chunk of photos at a time. 'dense': the in-memory
   * reference path (dense-path.ts; every pair of every photo in memory), for the tests that prove the two agree. */
  evaluation?: 'stream' | 'dense';
  /** Photos a streaming evaluator holds at once (default 16). */
  photoChunk?: number;
  onProgress?: (p: SearchProgress) => void;
  /** Replace an existing non-empty OUTDIR that prunedet did not make. */
  force?: boolean;
}

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

export type SearchProgress =
  | { phase: 'inference'; done: number; total: number; computed: number }
  | { phase: 'search'; candidates: number; max: number; images: number };

export interface SearchResult {
  model: string;
  images: number;
  metric: 'coco-map' | 'fidelity-map';
  strategy: StrategyName;
  minMap: number;
  postprocess: string;
  preprocess: string;
  outDir: string;
  pareto: string;
  report: string;
  /**
   * points[0] = the full model, then the front by decreasing head MACs. lowEvidence: the levels a point removes
   * anchors from that had fewer than evidence.minDetections reference detections (its score is not evidence there).
   */
  points: {
    removed: number[];
    keptPerLevel: number[];
    map: number;
    headMacs: number;
    boxes: number;
    config: string;
    lowEvidence: number[];
  }[];
  /** The full model's detections on the photos per level (the evidence each level's anchors give), and the minimum. */
  evidence: LevelEvidence;
  stats: {
    candidates: number;
    seconds: number;
    evaluatedThisRun: number;
    resumed: number;
    workers: number;
    exhausted: boolean;
  };
  cache: CacheStats;
  journalDiscarded?: string;
}

export const DEFAULT_MAX_CANDIDATES = 2000;

/** Reference detections a level needs before removing its anchors is measured rather than guessed. */
export const MIN_LEVEL_DETECTIONS = 10;

/**
 * Children evaluated per round (split over the workers). Fixed, not derived from --workers: with a candidate budget
 * the round size decides which candidates get evaluated, and the result must not depend on the thread count.
 */
export const EVALUATION_CHUNK = 8;

function checkInt(name: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max)
    usage(`${name} ${v} is out of range`, `use a whole number from ${min} to ${max}`);
}

/** Check the flags that do not need the model. */
function checkOptions(o: SearchOptions): void {
  if (o.strategy !== undefined && !STRATEGIES.includes(o.strategy))
    usage(`--strategy ${String(o.strategy)} is unknown`, `use one of ${STRATEGIES.join(', ')}`);
  if (o.minMap !== undefined && !(Number.isFinite(o.minMap) && o.minMap >= 0 && o.minMap <= 1))
    usage(`--min-map ${o.minMap} is out of range`, 'use a number from 0 to 1');
  checkInt('--max-candidates', o.maxCandidates, 1, 10_000_000);
  checkInt('--workers', o.workers, 1, 256);
  checkInt('--anchors-per-level', o.anchorsPerLevel, 1, 1_000_000);
  if (o.shard) {
    const { index, count } = o.shard;
    if (!(
      Number.isInteger(count) &&
      count >= 1 &&
      count <= 100_000 &&
      Number.isInteger(index) &&
      index >= 1 &&
      index <= count
    ))
      usage(`--shard ${index}/${count} is out of range`, 'use i/n with whole numbers 1 <= i <= n, e.g. --shard 2/4');
  }
  checkInt('--min-level-detections', o.minLevelDetections, 0, 1_000_000_000);
  checkOutput(o.outDir, outputRule(o, []));
}

/** The output rule for search: every input named on the command line, plus `more` (files read). */
function outputRule(o: SearchOptions, more: readonly string[]): CheckOutputOptions {
  return {
    command: 'search',
    kind: 'dir',
    inputs: [o.model, o.images, o.annotations, o.headSpec, ...more],
    ...(o.force ? { force: true } : {}),
  };
}

/** Base-anchor sizes per level in input pixels (for the report's anchor drawings). */
function reportLevels(
  det: DetectorSpec,
  pp: ModelPostprocess,
  units: BoxUnits,
  yoloSizes?: [number, number][][],
): ParetoLevel[] {
  if (yoloSizes)
    return det.levels.map((l, i) => ({
      featureMap: l.featureMap,
      stride: l.stride,
      anchors: yoloSizes[i]!.map(([w, h]) => ({ w, h })),
    }));
  const [H, W] = det.imageSize;
  const sx = units === 'normalized' ? W : 1,
    sy = units === 'normalized' ? H : 1;
  return det.levels.map((l) => {
    const anchors = Array.from({ length: l.anchorsPerLocation }, (_, a) => {
      const n = l.anchorOffset + a;
      if (pp.spec.decoder.type !== 'none') {
        const r = pp.anchors.subarray(4 * n, 4 * n + 4);
        return pp.spec.anchorFormat === 'cxcywh'
          ? { w: r[2]! * sx, h: r[3]! * sy }
          : { w: (r[2]! - r[0]!) * sx, h: (r[3]! - r[1]!) * sy };
      }
      const t = det.anchorTable;
      if (t) {
        const r = t.xyxy.subarray(4 * n, 4 * n + 4);
        const k = t.normalized ? [W, H] : [1, 1];
        return { w: (r[2]! - r[0]!) * k[0]!, h: (r[3]! - r[1]!) * k[1]! };
      }
      return { w: l.stride[1], h: l.stride[0] };
    });
    return { featureMap: l.featureMap, stride: l.stride, anchors };
  });
}

/** The model, post-processing and photos of a search, checked, before any inference. */
/** Everything a search scores candidates with: the analysed model, its post-processing, the photos' cache records. */
export interface PreparedSearch extends SearchInputs {
  /** What the evaluators (this thread's or the workers') are built from: the streamed cache, or the dense tables. */
  source: EvaluatorSource;
  metric: { kind: 'coco' | 'fidelity'; divisor: number };
  cache: CacheStats;
  /** Cache key of each photo. */
  cacheKeys: string[];
  /** The full model's detections on the photos, per level. */
  referencePerLevel: number[];
}

export type PrepareOptions = Pick<
  SearchOptions,
  | 'model'
  | 'images'
  | 'outDir'
  | 'annotations'
  | 'postprocess'
  | 'inputShape'
  | 'headSpec'
  | 'preprocess'
  | 'onProgress'
  | 'strategy'
  | 'cacheDir'
  | 'evaluation'
  | 'photoChunk'
> & {
  /** Called once the inputs are read and checked, before the first write (the cache): search claims OUTDIR there. */
  beforeWrite?: (det: AnalyzedModel, images: string[]) => void;
};

/** Read and check the photos, annotations, model and post-processing (cheap checks first). */
function loadSearchInputs(o: PrepareOptions): SearchInputs {
  if (!o.postprocess)
    usage(
      'search needs the post-processing the model is used with',
      `pass --postprocess with a preset (${Object.keys(PRESETS).join(', ')}) and key=value overrides`,
    );
  const images = listImages(o.images);
  for (const img of images) checkImageFile(img); // a bad file fails here, before anything is computed or written
  let matched: ReturnType<typeof matchAnnotations> | undefined;
  let annotationsSha256: string | null = null;
  if (o.annotations) {
    const bytes = readCocoAnnotations(o.annotations);
    matched = matchAnnotations(parseCocoAnnotations(bytes, o.annotations), images, o.annotations);
    annotationsSha256 = sha256Hex(bytes);
  }
  const det = loadDetector(o.model, {
    ...(o.inputShape ? { inputShape: o.inputShape } : {}),
    ...(o.headSpec ? { headSpec: o.headSpec } : {}),
  });
  const spec = det.spec;
  const full = postprocessForModel(spec, o.postprocess);
  // YOLO rows: scored as the equivalent precomputed scores and boxes (the evaluators read concatenated rows)
  const y = full.spec.objectness ? yoloAsScoresAndBoxes(full) : undefined;
  const pp: ModelPostprocess = y ? { ...full, spec: y.spec, numClasses: y.numClasses } : full;
  const counts = spec.levels.map((l) => l.anchorsPerLocation);
  if (o.strategy === 'shared' && counts.some((c) => c !== counts[0])) {
    usage(
      `--strategy shared removes the same anchor on every level, but the levels have ${counts.join(', ')} anchors`,
      'use --strategy pareto or layerwise for this model',
    );
  }
  return {
    modelPath: o.model,
    det,
    pp,
    preprocess: preprocessOptionsFor(spec, o.postprocess, o.preprocess),
    images,
    imageIds: matched ? matched.imageIds : images.map((_, i) => i + 1),
    matched,
    annotations: o.annotations,
    annotationsSha256,
    units: boxUnitsOf(spec, pp),
    counts,
    foreground: foregroundCount(pp.spec, pp.numClasses),
    cacheDir: o.cacheDir ?? join(resolve(o.outDir), 'cache'),
    ...(y
      ? {
          yolo: {
            toInput: y.toInput,
            cacheTag: sha256Hex(
              `${formatPostprocess(full.spec)}|${sha256Hex(new Uint8Array(full.anchors.buffer, full.anchors.byteOffset, full.anchors.byteLength))}`,
            ),
            anchorSizes: yoloLevelSizes(spec, full),
            postprocess: formatPostprocess(full.spec),
          },
        }
      : {}),
  };
}

/** The data of a StreamEvaluator over `photos` (their records in the cache folder). */
function streamData(inp: SearchInputs, photos: PhotoRecord[], metric: StreamMetric, chunk?: number): StreamData {
  const { pp } = inp;
  return {
    cacheDir: inp.cacheDir,
    photos,
    expect: recordExpectation(pp.spec, pp.numClasses, pp.levels),
    spec: pp.spec,
    levels: pp.levels,
    numClasses: pp.numClasses,
    anchors: pp.anchors,
    preprocess: inp.preprocess,
    units: inp.units,
    select: selectParams(pp.spec, inp.det.spec.levels.length),
    totalBase: inp.counts.reduce((a, b) => a + b, 0),
    metric,
    ...(chunk ? { chunk } : {}),
  };
}

/**
 * Make sure the photos (all, or `indices`) have valid cache records, running the model where they do not. The first
 * record computed is read back and checked against the reference post-processing on that photo's head outputs.
 */
async function fillCache(
  inp: SearchInputs,
  o: Pick<PrepareOptions, 'onProgress'>,
  indices?: number[],
): Promise<{ stats: CacheStats; photos: (PhotoRecord | undefined)[] }> {
  const { pp, det } = inp;
  let checked = false;
  const res = await buildCache({
    modelPath: inp.modelPath,
    modelBytes: det.fileBytes,
    model: det.model,
    det: det.spec,
    images: inp.images,
    preprocess: inp.preprocess,
    cacheDir: inp.cacheDir,
    spec: pp.spec,
    classes: pp.numClasses,
    levels: pp.levels,
    ...(indices ? { indices } : {}),
    ...(inp.yolo ? { yolo: inp.yolo } : {}),
    onProgress: (p) => o.onProgress?.({ phase: 'inference', done: p.done, total: p.total, computed: p.computed }),
    onComputed: (index, input, record) => {
      if (checked) return;
      checked = true;
      const photo = { key: record.key, width: record.width, height: record.height, pairs: record.score.length };
      const got = new StreamEvaluator(
        streamData(inp, [photo], { kind: 'fidelity', imageIds: [inp.imageIds[index]!], categoryIds: [], divisor: 1 }),
      ).detections([])[0];
      const want = oracleDetections(
        pp.spec,
        input,
        { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses },
        [],
      );
      if (JSON.stringify(got) !== JSON.stringify(want))
        throw new InternalError(
          `search: the cache record of ${inp.images[index]} disagrees with the post-processing reference on the full model`,
        );
    },
  });
  return res;
}

/**
 * Load and analyse the model, fill the cache (running the model only on photos without a valid record), and build
 * what candidates are scored with: the streamed evaluator's data and, in fidelity mode, the full model's detections
 * and self-score (one pass over the cache). evaluation 'dense' builds the in-memory reference tables instead.
 */
export async function prepareSearch(o: PrepareOptions): Promise<PreparedSearch> {
  const inp = loadSearchInputs(o);
  o.beforeWrite?.(inp.det, inp.images);
  const { stats, photos } = await fillCache(inp, o);
  const records = photos as PhotoRecord[];
  const cached = { ...inp, cache: stats, cacheKeys: records.map((p) => p.key) };
  if (o.evaluation === 'dense') {
    const data = await denseEvaluatorData(inp);
    const referencePerLevel = detectionsPerLevel(new CandidateEvaluator(data).detections([]), inp.pp.levels);
    return {
      ...cached,
      referencePerLevel,
      source: { kind: 'dense', data },
      metric: { kind: data.metric.kind, divisor: data.metric.divisor },
    };
  }
  // the full model's detections per level (one more pass over the cache, counting only)
  const base = {
    ...cached,
    referencePerLevel: new StreamEvaluator(
      streamData(inp, records, { kind: 'fidelity', imageIds: inp.imageIds, categoryIds: [], divisor: 1 }, o.photoChunk),
    ).detectionsPerLevel([]),
  };
  const categoryIds = Array.from({ length: inp.foreground }, (_, k) => k + 1);
  let metric: StreamMetric;
  if (inp.matched) {
    const m = cocoMetric(inp.matched.gt, inp.imageIds, inp.foreground, inp.annotations!);
    metric = { kind: 'coco', gt: m.gt, imageIds: inp.imageIds, categoryIds: m.categoryIds, divisor: 1 };
  } else {
    const full = new StreamEvaluator(
      streamData(inp, records, { kind: 'fidelity', imageIds: inp.imageIds, categoryIds, divisor: 1 }, o.photoChunk),
    ).calibrate();
    checkFidelity(full.gtObjects, inp.images.length, full.raw);
    metric = {
      kind: 'fidelity',
      imageIds: inp.imageIds,
      categoryIds,
      divisor: full.raw,
      fullKept: full.fullKept,
      fullStart: full.fullStart,
    };
  }
  return {
    ...base,
    source: { kind: 'stream', data: streamData(inp, records, metric, o.photoChunk) },
    metric: { kind: metric.kind, divisor: metric.divisor },
  };
}

/** What `search --build-cache-only` did. */
export interface CacheBuildResult {
  cacheDir: string;
  images: number;
  /** The photos this run covered (all, or its shard's). */
  covered: number;
  shard?: Shard;
  cache: CacheStats;
  seconds: number;
}

/** `search --build-cache-only [--shard i/n]`: fill the cache for all photos or one shard of them; no evaluation. */
export async function buildSearchCache(o: SearchOptions): Promise<CacheBuildResult> {
  checkOptions(o);
  const t0 = performance.now();
  const inp = loadSearchInputs(o);
  const indices = o.shard ? shardIndices(inp.images.length, o.shard) : undefined;
  // The cache in OUTDIR/cache: OUTDIR is claimed as search's (the search that follows reuses it). Shards started at
  // once may race to claim it: the loser finds the winner's claim, which is the same. A --cache-dir elsewhere is a
  // shared folder of keyed records: OUTDIR is not written.
  let claim: ReturnType<typeof claimOutputDir> | undefined;
  if (o.cacheDir === undefined) {
    const rule = outputRule(o, [...inp.det.files, ...inp.images]);
    try {
      claim = claimOutputDir(checkOutput(o.outDir, rule));
    } catch (e) {
      if (readOutputMarker(resolve(o.outDir))?.command !== 'search') throw e;
    }
  }
  let stats: CacheStats;
  try {
    ({ stats } = await fillCache(inp, o, indices));
    claim?.keep();
  } catch (e) {
    claim?.abandon();
    throw e;
  }
  return {
    cacheDir: inp.cacheDir,
    images: inp.images.length,
    covered: indices?.length ?? inp.images.length,
    ...(o.shard ? { shard: o.shard } : {}),
    cache: stats,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Score one removed set (global base-anchor indices, level-major) exactly as search does: its mAP (COCO or fidelity),
 * the detection fingerprint, and per photo the detections of the original model's post-processing with those
 * anchors' scores forced to zero (boxes in the model's units; COCO boxes via toImageXywh). Used by the tests to check
 * the scores search reports.
 */
export function evaluateCandidate(
  p: PreparedSearch,
  removed: readonly number[],
): CandidateScore & { detections: Detection[][] } {
  const ev = p.source.kind === 'stream' ? new StreamEvaluator(p.source.data) : new CandidateEvaluator(p.source.data);
  return { ...ev.evaluateBatch([removed])[0]!, detections: ev.detections(removed) };
}

/** Run a search and write its outputs. */
export async function search(o: SearchOptions): Promise<SearchResult> {
  checkOptions(o);
  const strategy = o.strategy ?? 'pareto';
  const outDir = resolve(o.outDir);
  if (o.shard)
    usage(
      '--shard only splits --build-cache-only',
      'fill the cache with --build-cache-only --shard i/n in each process, then run the search without --shard',
    );
  let claim: ReturnType<typeof claimOutputDir> | undefined;
  try {
    const r = await searchIn(o, outDir, strategy, (det, images) => {
      claim = claimOutputDir(checkOutput(o.outDir, outputRule(o, [...det.files, ...images])));
    });
    claim?.keep();
    return r;
  } catch (e) {
    claim?.abandon(); // a run that failed before writing anything leaves no empty OUTDIR behind
    throw e;
  }
}

async function searchIn(
  o: SearchOptions,
  outDir: string,
  strategy: StrategyName,
  beforeWrite: PrepareOptions['beforeWrite'],
): Promise<SearchResult> {
  const prepared = await prepareSearch({ ...o, beforeWrite });
  const { det, pp, counts, cache, cacheKeys } = prepared;
  const spec = det.spec;
  const metric = prepared.metric;
  const minMap = o.minMap ?? (metric.kind === 'coco' ? 0.2 : 0.5);
  const maxCandidates = o.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  const workers = o.workers ?? Math.max(1, availableParallelism());

  // The journal of evaluated candidates, the driver the strategies call, the strategy.
  const postprocessText = prepared.yolo?.postprocess ?? formatPostprocess(pp.spec);
  const journalKey = sha256Hex(
    JSON.stringify({
      cacheKeys,
      postprocess: postprocessText,
      metric: metric.kind,
      annotations: prepared.annotationsSha256,
    }),
  );
  const journalPath = join(outDir, 'search-state.json');
  const { journal, discarded } = loadJournal(journalPath, journalKey);
  const resumed = Object.keys(journal.results).length;
  const pool = await startPool(prepared.source, workers);
  const driver = evaluationDriver({
    counts,
    costs: levelCosts(spec, det.shapes),
    minMap,
    anchorsPerLevel: o.anchorsPerLevel ?? Math.max(...counts),
    chunk: EVALUATION_CHUNK,
    maxCandidates,
    pool,
    journal,
    journalPath,
    onEvaluated: (n) =>
      o.onProgress?.({ phase: 'search', candidates: n, max: maxCandidates, images: prepared.images.length }),
  });
  let front;
  try {
    const [root] = await driver.evaluate([[]]);
    if (!root) throw new InternalError('search: no budget for the full model');
    front = await runStrategy(strategy, driver, root);
  } finally {
    await pool.close();
    driver.save();
  }

  // Outputs: points[0] is the full model whether or not it stays on the front.
  const root = driver.get('')!;
  const points = [
    root,
    ...front.points.filter((p) => p.key !== '').sort((a, b) => b.headMacs - a.headMacs || b.map - a.map),
  ];
  const stats = { candidates: driver.total, seconds: Math.round(journal.seconds * 1000) / 1000 };
  const evidence: LevelEvidence = {
    referenceDetections: prepared.referencePerLevel,
    minDetections: o.minLevelDetections ?? MIN_LEVEL_DETECTIONS,
  };
  const file = writeSearchOutputs({
    outDir,
    counts,
    points,
    stats,
    evidence,
    report: {
      model: basename(o.model),
      metric: metric.kind === 'coco' ? 'coco-map' : 'fidelity-map',
      levels: reportLevels(spec, pp, prepared.units, prepared.yolo?.anchorSizes),
      all: driver.all.map((e) => ({ map: e.map, headMacs: e.headMacs })),
    },
  });
  return {
    model: o.model,
    images: prepared.images.length,
    metric: metric.kind === 'coco' ? 'coco-map' : 'fidelity-map',
    strategy,
    minMap,
    postprocess: postprocessText,
    preprocess: describePreprocess(prepared.preprocess),
    outDir,
    pareto: join(outDir, 'pareto.json'),
    report: join(outDir, 'report.html'),
    points: file.points.map((p) => ({ ...p, lowEvidence: p.lowEvidence ?? [] })),
    evidence,
    stats: {
      ...stats,
      evaluatedThisRun: driver.evaluatedThisRun,
      resumed,
      workers: pool.workers,
      exhausted: driver.exhausted(),
    },
    cache,
    ...(discarded ? { journalDiscarded: discarded } : {}),
  };
}

/** The reference detections per level and, when a front point removes anchors of a weak level, the warning. */
function evidenceLines(r: SearchResult): string[] {
  const e = r.evidence;
  const lines = [
    `reference detections per level (the full model's on these ${r.images} images): ${e.referenceDetections.map((n, l) => `${levelName(l)}: ${fmtInt(n)}`).join(', ')}`,
  ];
  const weak = e.referenceDetections.map((n, l) => ({ n, l })).filter((x) => x.n < e.minDetections);
  for (const { n, l } of weak) {
    const flagged = r.points
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p.lowEvidence.includes(l))
      .map(({ i }) => `#${i}`);
    if (flagged.length === 0) continue;
    lines.push(
      `warning: ${levelName(l)} has ${n} reference detection${n === 1 ? '' : 's'} (< ${e.minDetections}): the scores of ${flagged.join(', ')}, which remove its anchors, are not evidence for that level; add images with objects at its scale (or annotations)`,
    );
  }
  return [...lines, ''];
}

/** The text `prunedet search` prints. */
export function formatSearch(r: SearchResult): string {
  const full = r.points[0]!;
  const metric = r.metric === 'coco-map' ? 'COCO mAP' : 'fidelity';
  const rows = r.points.map((p, i) => [
    `${i}${p.lowEvidence.length ? ' !' : ''}`,
    p.removed.length ? `{${p.removed.join(', ')}}` : 'none (full model)',
    p.keptPerLevel.join('·'),
    p.map.toFixed(4),
    fmtInt(p.headMacs),
    fmtInt(p.boxes),
    `${((1 - p.boxes / full.boxes) * 100).toFixed(1)}%`,
    p.config,
  ]);
  const s = r.stats;
  const rate = s.seconds > 0 ? ` (${(s.candidates / s.seconds).toFixed(1)}/s)` : '';
  return [
    `${r.model}: ${r.images} images, ${metric}, strategy ${r.strategy}; ${s.candidates} candidates evaluated in ${s.seconds.toFixed(1)} s${rate}${s.resumed ? `, ${s.resumed} from an earlier run` : ''}${s.exhausted ? ' (stopped at --max-candidates)' : ''}`,
    `preprocessing ${r.preprocess}; post-processing ${r.postprocess}`,
    `cache: ${formatCacheStats(r.cache, r.images)}`,
    '',
    table(['#', 'removed anchors', 'kept/level', metric, 'head MACs', 'boxes', 'fewer boxes', 'config'], rows),
    '',
    ...(full.map < r.minMap
      ? [
          `note: the full model scores ${full.map.toFixed(4)}, below --min-map ${r.minMap}, where branches stop; lower --min-map to search further`,
          '',
        ]
      : []),
    ...evidenceLines(r),
    `wrote ${r.pareto} and ${r.report}`,
  ].join('\n');
}

/** `N reused, M computed (R rebuilt); B MB, K KB per photo`. */
export function formatCacheStats(c: CacheStats, photos: number): string {
  const per =
    photos > 0
      ? ` (${(c.bytes / photos / 1e3).toFixed(1)} KB per photo, ${Math.round(c.pairs / photos)} pairs above the threshold)`
      : '';
  return `${c.hits} records reused, ${c.computed} computed${c.rebuilt ? ` (${c.rebuilt} rebuilt: older format, other scores or damaged)` : ''}; ${(c.bytes / 1e6).toFixed(1)} MB${per}`;
}

/** The text `prunedet search --build-cache-only` prints. */
export function formatCacheBuild(r: CacheBuildResult): string {
  const which = r.shard
    ? `shard ${r.shard.index}/${r.shard.count}: ${r.covered} of ${r.images} photos`
    : `${r.images} photos`;
  const rate = r.cache.computed > 0 ? `, ${(r.cache.computed / r.seconds).toFixed(1)} photos/s` : '';
  return [
    `cache ${r.cacheDir}, ${which} in ${r.seconds.toFixed(1)} s${rate}`,
    `  ${formatCacheStats(r.cache, r.covered)}`,
  ].join('\n');
}

/** Anchor sizes [w, h] per level of a YOLO head: the graph's anchor_grid, else the YOLO table's first location. */
function yoloLevelSizes(det: DetectorSpec, pp: ModelPostprocess): [number, number][][] {
  if (det.yoloAnchors) return det.yoloAnchors.sizes;
  return det.levels.map((l) =>
    Array.from({ length: l.anchorsPerLocation }, (_, a): [number, number] => {
      const n = l.anchorOffset + a;
      return [pp.anchors[4 * n + 2]!, pp.anchors[4 * n + 3]!];
    }),
  );
}
