// `prunedet search`: find pruned-anchor configurations the way the paper does, on the user's photos. Runs the model
// once per photo (cached), builds the oracle's candidate lists, walks a strategy with candidates scored in worker
// threads, and writes the front (configs, pareto.json, report.html). Verify and bench import the pieces they reuse
// (inputs.ts, metric.ts, oracle.ts) from their own modules.
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { InternalError } from '../../errors';
import { checkOutput, claimOutputDir, type CheckOutputOptions } from '../../fs';
import { loadDetector, type AnalyzedModel } from '../../detector/index';
import type { DetectorSpec } from '../../detector/spec';
import { checkImageFile, listImages } from '../../image/decode';
import type { PreprocessOptions, ResizeGeometry } from '../../image/preprocess';
import { parseCocoAnnotations, readCocoAnnotations } from '../../eval/coco-data';
import { postprocessForModel, type ModelPostprocess } from '../../postprocess/for-model';
import { formatPostprocess, PRESETS } from '../../postprocess/presets';
import { foregroundCount, type Detection } from '../../postprocess/spec';
import type { ParetoLevel } from '../../report/pareto-html';
import { fmtInt, table } from '../../format/table';
import { levelCosts } from '../../search/cost';
import { CandidateEvaluator, packTables, type CandidateScore, type EvaluatorData, type MetricSpec } from '../../search/evaluator';
import { forEachHeadOutput, type CacheStats } from '../../search/infer';
import { boxUnitsOf, describePreprocess, preprocessOptionsFor, toImageXywh, usage, type BoxUnits, type PreprocessFlags } from '../../image/inputs';
import { cocoMetric, fidelityMetric, matchAnnotations } from '../../eval/metric';
import { buildCandidateList, oracleDetections, oracleModel, selectParams, type CandidateList } from '../../search/oracle';
import { writeSearchOutputs, type LevelEvidence } from '../../search/output';
import { startPool } from '../../search/pool';
import { loadJournal } from '../../search/state';
import { runStrategy, STRATEGIES, type StrategyName } from '../../search/strategies';
import { evaluationDriver } from '../../search/driver';
import { sha256Hex } from '../../search/cache';
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
  onProgress?: (p: SearchProgress) => void;
  /** Replace an existing non-empty OUTDIR that prunedet did not make. */
  force?: boolean;
}

export type SearchProgress =
  | { phase: 'inference'; done: number; total: number; cached: number }
  | { phase: 'search'; candidates: number; max: number };

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
  points: { removed: number[]; keptPerLevel: number[]; map: number; headMacs: number; boxes: number; config: string; lowEvidence: number[] }[];
  /** The full model's detections on the photos per level (the evidence each level's anchors give), and the minimum. */
  evidence: LevelEvidence;
  stats: { candidates: number; seconds: number; evaluatedThisRun: number; resumed: number; workers: number; exhausted: boolean };
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
  if (!Number.isInteger(v) || v < min || v > max) usage(`${name} ${v} is out of range`, `use a whole number from ${min} to ${max}`);
}

/** Check the flags that do not need the model. */
function checkOptions(o: SearchOptions): void {
  if (o.strategy !== undefined && !STRATEGIES.includes(o.strategy)) usage(`--strategy ${String(o.strategy)} is unknown`, `use one of ${STRATEGIES.join(', ')}`);
  if (o.minMap !== undefined && !(Number.isFinite(o.minMap) && o.minMap >= 0 && o.minMap <= 1)) usage(`--min-map ${o.minMap} is out of range`, 'use a number from 0 to 1');
  checkInt('--max-candidates', o.maxCandidates, 1, 10_000_000);
  checkInt('--workers', o.workers, 1, 256);
  checkInt('--anchors-per-level', o.anchorsPerLevel, 1, 1_000_000);
  checkInt('--min-level-detections', o.minLevelDetections, 0, 1_000_000_000);
  checkOutput(o.outDir, outputRule(o, []));
}

/** The output rule for search: every input named on the command line, plus `more` (files read). */
function outputRule(o: SearchOptions, more: readonly string[]): CheckOutputOptions {
  return { command: 'search', kind: 'dir', inputs: [o.model, o.images, o.annotations, o.headSpec, ...more], ...(o.force ? { force: true } : {}) };
}

/** Base-anchor sizes per level in input pixels (for the report's anchor drawings). */
function reportLevels(det: DetectorSpec, pp: ModelPostprocess, units: BoxUnits): ParetoLevel[] {
  const [H, W] = det.imageSize;
  const sx = units === 'normalized' ? W : 1, sy = units === 'normalized' ? H : 1;
  return det.levels.map((l) => {
    const anchors = Array.from({ length: l.anchorsPerLocation }, (_, a) => {
      const n = l.anchorOffset + a;
      if (pp.spec.decoder.type !== 'none') {
        const r = pp.anchors.subarray(4 * n, 4 * n + 4);
        return pp.spec.anchorFormat === 'cxcywh' ? { w: r[2]! * sx, h: r[3]! * sy } : { w: (r[2]! - r[0]!) * sx, h: (r[3]! - r[1]!) * sy };
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

/** Everything a search scores candidates with: the analysed model, its post-processing, the photos' candidate lists. */
export interface PreparedSearch {
  det: AnalyzedModel;
  pp: ModelPostprocess;
  preprocess: PreprocessOptions;
  images: string[];
  /** COCO image id of each photo. */
  imageIds: number[];
  units: BoxUnits;
  /** Base anchors per level. */
  counts: number[];
  /** Tables, cut/NMS parameters and the metric: what a CandidateEvaluator (or a worker) is built from. */
  data: EvaluatorData & { metric: MetricSpec };
  cache: CacheStats;
  /** Cache key of each photo's head outputs. */
  cacheKeys: string[];
  annotationsSha256: string | null;
  /** The full model's detections on the photos, per level. */
  referencePerLevel: number[];
}

export type PrepareOptions = Pick<SearchOptions, 'model' | 'images' | 'outDir' | 'annotations' | 'postprocess' | 'inputShape' | 'headSpec' | 'preprocess' | 'onProgress' | 'strategy'> & {
  /** Cache folder (default OUTDIR/cache). */
  cacheDir?: string;
  /** Called once the inputs are read and checked, before the first write (the cache): search claims OUTDIR there. */
  beforeWrite?: (det: AnalyzedModel, images: string[]) => void;
};

/**
 * Load and analyse the model, run it over the photos (through the cache), build the oracle's candidate lists and the
 * metric. Checks that the candidate tables reproduce the reference post-processing on the first photo.
 */
export async function prepareSearch(o: PrepareOptions): Promise<PreparedSearch> {
  if (!o.postprocess) usage('search needs the post-processing the model is used with', `pass --postprocess with a preset (${Object.keys(PRESETS).join(', ')}) and key=value overrides`);
  // Cheap checks first: the photos and the annotations, before the model is loaded and analysed.
  const images = listImages(o.images);
  for (const img of images) checkImageFile(img); // a bad file fails here, before anything is computed or written
  let matched: ReturnType<typeof matchAnnotations> | undefined;
  let annotationsSha256: string | null = null;
  if (o.annotations) {
    const bytes = readCocoAnnotations(o.annotations);
    matched = matchAnnotations(parseCocoAnnotations(bytes, o.annotations), images, o.annotations);
    annotationsSha256 = sha256Hex(bytes);
  }
  const det = loadDetector(o.model, { ...(o.inputShape ? { inputShape: o.inputShape } : {}), ...(o.headSpec ? { headSpec: o.headSpec } : {}) });
  const spec = det.spec;
  const pp = postprocessForModel(spec, o.postprocess);
  const counts = spec.levels.map((l) => l.anchorsPerLocation);
  if (o.strategy === 'shared' && counts.some((c) => c !== counts[0])) {
    usage(`--strategy shared removes the same anchor on every level, but the levels have ${counts.join(', ')} anchors`, 'use --strategy pareto or layerwise for this model');
  }
  const prep = preprocessOptionsFor(spec, o.postprocess, o.preprocess);
  const imageIds = matched ? matched.imageIds : images.map((_, i) => i + 1);
  const foreground = foregroundCount(pp.spec, pp.numClasses);

  const units = boxUnitsOf(spec, pp);
  const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses };
  const om = oracleModel(pp.spec, ctx);
  o.beforeWrite?.(det, images);
  const lists: CandidateList[] = new Array(images.length);
  const coco: Float64Array[] = new Array(images.length);
  const cacheKeys: string[] = new Array(images.length);
  let check: Detection[] | undefined;
  const cache = await forEachHeadOutput(
    {
      modelPath: o.model, modelBytes: det.fileBytes, model: det.model, det: spec, images, preprocess: prep,
      cacheDir: o.cacheDir ?? join(resolve(o.outDir), 'cache'),
      onProgress: (p) => o.onProgress?.({ phase: 'inference', ...p }),
      onKey: (i, k) => (cacheKeys[i] = k),
    },
    (img) => {
      const list = buildCandidateList(om, img.input);
      lists[img.index] = list;
      coco[img.index] = cocoBoxes(list, units, img.geometry);
      if (img.index === 0) check = oracleDetections(pp.spec, img.input, ctx, []);
    },
  );
  const data: EvaluatorData = { tables: packTables(lists, coco), select: selectParams(pp.spec, spec.levels.length), totalBase: counts.reduce((a, b) => a + b, 0) };
  const probe = new CandidateEvaluator(data);
  const reference = probe.detections([]);
  if (JSON.stringify(reference[0]) !== JSON.stringify(check)) {
    throw new InternalError('search: the candidate tables disagree with the post-processing reference on the full model');
  }
  const metric: MetricSpec = matched
    ? cocoMetric(matched.gt, imageIds, foreground, o.annotations!)
    : fidelityMetric(probe.cocoDetections([], imageIds, Array.from({ length: foreground }, (_, k) => k + 1)), imageIds, foreground);
  return {
    det, pp, preprocess: prep, images, imageIds, units, counts, data: { ...data, metric }, cache, cacheKeys, annotationsSha256,
    referencePerLevel: detectionsPerLevel(reference, pp.levels),
  };
}

/**
 * Score one removed set (global base-anchor indices, level-major) exactly as search does: its mAP (COCO or fidelity),
 * the detection fingerprint, and per photo the detections of the original model's post-processing with those
 * anchors' scores forced to zero (boxes in the model's units; COCO boxes via toImageXywh). Used by the tests to check
 * the scores search reports.
 */
export function evaluateCandidate(p: PreparedSearch, removed: readonly number[]): CandidateScore & { detections: Detection[][] } {
  const ev = new CandidateEvaluator(p.data);
  return { ...ev.evaluate(removed), detections: ev.detections(removed) };
}

/** Run a search and write its outputs. */
export async function search(o: SearchOptions): Promise<SearchResult> {
  checkOptions(o);
  const strategy = o.strategy ?? 'pareto';
  const outDir = resolve(o.outDir);
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

async function searchIn(o: SearchOptions, outDir: string, strategy: StrategyName, beforeWrite: PrepareOptions['beforeWrite']): Promise<SearchResult> {
  const prepared = await prepareSearch({ ...o, beforeWrite });
  const { det, pp, counts, data, cache, cacheKeys } = prepared;
  const spec = det.spec;
  const metric = data.metric;
  const minMap = o.minMap ?? (metric.kind === 'coco' ? 0.2 : 0.5);
  const maxCandidates = o.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  const workers = o.workers ?? Math.max(1, availableParallelism());

  // The journal of evaluated candidates, the driver the strategies call, the strategy.
  const postprocessText = formatPostprocess(pp.spec);
  const journalKey = sha256Hex(JSON.stringify({ cacheKeys, postprocess: postprocessText, metric: metric.kind, annotations: prepared.annotationsSha256 }));
  const journalPath = join(outDir, 'search-state.json');
  const { journal, discarded } = loadJournal(journalPath, journalKey);
  const resumed = Object.keys(journal.results).length;
  const pool = await startPool(data, workers);
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
    onEvaluated: (n) => o.onProgress?.({ phase: 'search', candidates: n, max: maxCandidates }),
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
  const points = [root, ...front.points.filter((p) => p.key !== '').sort((a, b) => b.headMacs - a.headMacs || b.map - a.map)];
  const stats = { candidates: driver.total, seconds: Math.round(journal.seconds * 1000) / 1000 };
  const evidence: LevelEvidence = { referenceDetections: prepared.referencePerLevel, minDetections: o.minLevelDetections ?? MIN_LEVEL_DETECTIONS };
  const file = writeSearchOutputs({
    outDir,
    counts,
    points,
    stats,
    evidence,
    report: { model: basename(o.model), metric: metric.kind === 'coco' ? 'coco-map' : 'fidelity-map', levels: reportLevels(spec, pp, prepared.units), all: driver.all.map((e) => ({ map: e.map, headMacs: e.headMacs })) },
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
    stats: { ...stats, evaluatedThisRun: driver.evaluatedThisRun, resumed, workers: pool.workers, exhausted: driver.exhausted() },
    cache,
    ...(discarded ? { journalDiscarded: discarded } : {}),
  };
}

/** COCO boxes (photo pixels) of a list's entries. */
function cocoBoxes(list: CandidateList, units: BoxUnits, g: ResizeGeometry): Float64Array {
  const n = list.anchor.length;
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) out.set(toImageXywh(list.box.subarray(4 * i, 4 * i + 4), units, g), 4 * i);
  return out;
}

/** The reference detections per level and, when a front point removes anchors of a weak level, the warning. */
function evidenceLines(r: SearchResult): string[] {
  const e = r.evidence;
  const lines = [`reference detections per level (the full model's on these ${r.images} images): ${e.referenceDetections.map((n, l) => `${levelName(l)}: ${fmtInt(n)}`).join(', ')}`];
  const weak = e.referenceDetections.map((n, l) => ({ n, l })).filter((x) => x.n < e.minDetections);
  for (const { n, l } of weak) {
    const flagged = r.points.map((p, i) => ({ p, i })).filter(({ p }) => p.lowEvidence.includes(l)).map(({ i }) => `#${i}`);
    if (flagged.length === 0) continue;
    lines.push(`warning: ${levelName(l)} has ${n} reference detection${n === 1 ? '' : 's'} (< ${e.minDetections}): the scores of ${flagged.join(', ')}, which remove its anchors, are not evidence for that level; add images with objects at its scale (or annotations)`);
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
    `preprocessing ${r.preprocess}; post-processing ${r.postprocess}; head outputs ${r.cache.hits} cached, ${r.cache.computed} computed${r.cache.rebuilt ? ` (${r.cache.rebuilt} rebuilt)` : ''}`,
    '',
    table(['#', 'removed anchors', 'kept/level', metric, 'head MACs', 'boxes', 'fewer boxes', 'config'], rows),
    '',
    ...(full.map < r.minMap ? [`note: the full model scores ${full.map.toFixed(4)}, below --min-map ${r.minMap}, where branches stop; lower --min-map to search further`, ''] : []),
    ...evidenceLines(r),
    `wrote ${r.pareto} and ${r.report}`,
  ].join('\n');
}
