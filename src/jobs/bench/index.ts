// `prunedet bench OUTDIR`: what pruning buys in post-processing and in the model, measured against what users run
// instead. For each load (loads.ts: light to heavy, or real photos) and each anchor set (original, pruned), every peer
// runs on the same head outputs, round by round in one loop: the emitted C (gcc -O2 for this CPU, and with the
// Makefile's portable flags), next to the floor (a memcpy of the score tensor); onnxruntime's NonMaxSuppression op
// alone; the mmdeploy-style ONNX post-processing; prunedet's own onnx-nms graph; the TypeScript reference. Then model
// latency in onnxruntime: original, original after the graph passes alone (no anchor removed), and compiled.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadDetector } from '../../detector/index';
import { PrunedetError } from '../../errors';
import { makeTempDir } from '../../cleanup';
import { LIMITS } from '../../limits';
import { compiledPostprocess, emitPlanFor, candidateCapFor } from '../../artefacts/compiled-postprocess';
import { postprocessForModel, referenceInput, type ModelPostprocess } from '../../postprocess/for-model';
import { postprocess, scoreAnchor, type PostprocessContext, type PostprocessInput } from '../../postprocess/reference';
import { f32 } from '../../postprocess/float32';
import type { InputQuant, QuantParams } from '../../postprocess/quant';
import type { CModuleShape } from '../../native/c-runner';
import { flattenForC, packInputForC } from '../../native/c-inputs';
import { foregroundCount } from '../../postprocess/spec';
import { emitPostprocessC } from '../../emit/c/index';
import { estimateBenchSeconds, formatEstimate } from './estimate';
import { BASE_CFLAGS, hasGcc } from '../../native/c-runner';
import { checkOriginal, readCompileReport, reportBaselineSet } from '../../artefacts/report';
import { RUN_SESSION_OPTIONS, runOnce } from '../../native/ort-session';
import { startCTimer, type CTimer, type TimedModule } from '../../native/c-timing';
import { keptAnchorIndices } from '../../detector/kept-anchors';
import { listImages, decodeImage } from '../../image/decode';
import { preprocess } from '../../image/preprocess';
import { preprocessOptionsFor } from '../../image/inputs';
import { buildPostprocessGraph } from '../../emit/onnx/nms-graph';
import { modelToBytes, saveModel } from '../../onnx/save';
import { keepEveryAnchor, optimizeModel } from '../../optimize';
import { analyzeModel } from '../../detector/index';
import { loadModel } from '../../onnx/load';
import { LOAD_DEFS, SYNTHETIC_LOADS, checkLoads, loadHeadOutputs, type LoadName } from '../../postprocess/loads';
import { mmdeployStyleGraph, nmsOpGraph, nmsOpInputs, type PeerParams } from './peers';
import { summarize, type Summary } from './stats';

export type AnchorSetName = 'original' | 'pruned';

/** The implementations bench times, in the order of its tables. */
export const PEERS = ['c', 'c-portable', 'ort-nms-op', 'ort-mmdeploy', 'onnx-nms', 'onnx-nms-exact', 'ts'] as const;
/** Peers timed only when asked for (bench --only c,c-runtime-anchors,c-int8): variants of prunedet's own module. */
export const EXTRA_PEERS = ['c-runtime-anchors', 'c-int8'] as const;
export const ALL_PEERS = [...PEERS, ...EXTRA_PEERS] as const;
export type Peer = (typeof ALL_PEERS)[number];
/** The peers that are builds of the emitted C module (timed in one native process). */
const C_PEERS = ['c', 'c-portable', 'c-runtime-anchors', 'c-int8'] as const;
type CPeer = (typeof C_PEERS)[number];
const isCPeer = (p: Peer): p is CPeer => (C_PEERS as readonly Peer[]).includes(p);

export const PEER_DOC: Readonly<Record<Peer, string>> = {
  c: "prunedet fused C, built with its Makefile's flags (gcc -O2; x86-64 Linux: hot loops dispatched to the CPU's widest SIMD)",
  'c-portable': 'the same module with -DPD_PORTABLE: plain C99 at the baseline ISA (SSE2 on x86-64; no -march)',
  'ort-nms-op': 'onnxruntime NonMaxSuppression op alone (boxes decoded, scores activated beforehand)',
  'ort-mmdeploy': 'onnxruntime, mmdeploy-style graph (activation, decode, pre-top-k, NMS, gather, top-k)',
  'onnx-nms': "onnxruntime, prunedet compile --emit onnx-nms graph (the runtime's Softmax/Sigmoid/Exp)",
  'onnx-nms-exact': 'onnxruntime, prunedet compile --emit onnx-nms-exact graph (bit-exact with the reference)',
  ts: 'prunedet TypeScript reference (src/postprocess/reference.ts)',
  'c-runtime-anchors': "the module compiled with --anchors runtime (anchors generated on demand), the c peer's flags",
  'c-int8':
    "the module compiled for int8 inputs (--input-type, per-tensor scale and zero point calibrated on the load's min/max), on the same outputs quantized; the c peer's flags",
};

/** Peers too slow for `runs` rounds: they get `slowRuns` (and a time budget). */
const SLOW: readonly Peer[] = ['ts', 'onnx-nms-exact'];

export interface BenchOptions {
  outDir: string;
  original?: string;
  /** Images for the `photos` load: the original model's own head outputs on (up to 8 of) them. */
  images?: string;
  postprocess?: string;
  /** Loads to measure (default: light, real, medium, heavy, and photos when images are given). */
  loads?: LoadName[];
  /** Timed rounds for the C, the floor and the onnxruntime peers (the CLI insists on at least 200). */
  runs?: number;
  /** Timed runs of the slow peers (TypeScript reference, bit-exact onnx-nms graph): at most this many... */
  slowRuns?: number;
  /** ...and no more once at least 5 are in and they have taken this long (ms per peer, load and anchor set). */
  slowBudgetMs?: number;
  warmup?: number;
  /** Which anchor sets to measure (default both). */
  sets?: AnchorSetName[];
  /** Which peers to run (default all). */
  peers?: Peer[];
  /** Skip the model latency. */
  noModel?: boolean;
  /** Model latency runs (>= 20). */
  modelRuns?: number;
  progress?: (msg: string) => void;
}

export interface PeerTiming extends Summary {
  peer: Peer;
  /** Detections of the last run (each peer by its own semantics). */
  detections: number;
}

export interface LoadResult {
  load: LoadName;
  anchors: AnchorSetName;
  /** (anchor, label) pairs above the score threshold (median over the inputs of the load), and all pairs. */
  candidates: number;
  pairs: number;
  /** Inputs the load cycles through (1, or the photos). */
  inputs: number;
  /** memcpy of the score tensor (the floor: reading the scores once costs at least this). */
  floor: Summary;
  timings: PeerTiming[];
  /** Median ratios: C / floor, and each peer's time over the C's (how many times faster the C is). */
  ratios: Record<string, number>;
}

export interface ModelLatency {
  runs: number;
  original: Summary;
  /** The original after the graph passes alone (every anchor kept): what clean-up buys; null when it fails. */
  cleaned: Summary | null;
  compiled: Summary;
  headMacs: { original: number; compiled: number };
  /** original / compiled = cleanUp x head. */
  speedup: { total: number; cleanUp: number | null; head: number | null };
  cleanedError?: string;
}

export interface BenchResult {
  preset: string;
  cFlags: { c: string; 'c-portable': string };
  boxes: { original: number; pruned: number };
  results: LoadResult[];
  model: ModelLatency | null;
  runs: number;
  slowRuns: number;
  ortThreads: number;
}

/**
 * The C module is timed as its Makefile builds it (-O2: on x86-64 Linux its hot loops run in the widest target_clones
 * variant the CPU has) and as plain C99 at the baseline ISA (-DPD_PORTABLE); results are identical either way.
 */
export const SHIPPED_FLAGS: string[] = [];
export const PORTABLE_FLAGS = ['-DPD_PORTABLE'];

/** onnxruntime peers run on one intra-op thread, like the C: a per-core comparison. */
export const ORT_THREADS = 1;

/** (anchor, class) pairs whose score passes the threshold: the work NMS sees. */
export function countCandidates(pp: ModelPostprocess, input: PostprocessInput): number {
  if (input.form !== 'concat') return -1;
  const k = foregroundCount(pp.spec, pp.numClasses);
  const out = new Float64Array(k);
  const n = input.scores.length / pp.numClasses;
  const thr = f32(pp.spec.scoreThreshold);
  let count = 0;
  for (let i = 0; i < n; i++) {
    scoreAnchor(pp.spec, pp.numClasses, (j) => input.scores[i * pp.numClasses + j]!, out);
    for (let j = 0; j < k; j++) if (out[j]! > thr) count++;
  }
  return count;
}

interface HeadPair {
  scores: Float32Array;
  boxes: Float32Array;
}

/** Gather the rows of kept anchors out of concat-form outputs. */
function gatherRows(x: HeadPair, idx: Int32Array, c: number): HeadPair {
  const scores = new Float32Array(idx.length * c);
  const boxes = new Float32Array(idx.length * 4);
  idx.forEach((n, r) => {
    scores.set(x.scores.subarray(n * c, (n + 1) * c), r * c);
    boxes.set(x.boxes.subarray(n * 4, (n + 1) * 4), r * 4);
  });
  return { scores, boxes };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
}

const SESSION = {
  logSeverityLevel: 3 as const,
  intraOpNumThreads: ORT_THREADS,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all' as const,
};

/** One node-side peer: `once(i)` runs it on input i and returns its detections. */
interface NodePeer {
  peer: Peer;
  set: AnchorSetName;
  quota: number;
  budgetMs: number;
  once(i: number): Promise<number>;
  release(): Promise<void>;
}

async function ortPeer(
  peer: Peer,
  set: AnchorSetName,
  quota: number,
  budgetMs: number,
  model: Uint8Array,
  feeds: Record<string, ort.Tensor>[],
): Promise<NodePeer> {
  const s = await ort.InferenceSession.create(model, SESSION);
  return {
    peer,
    set,
    quota,
    budgetMs,
    async once(i) {
      const out = await s.run(feeds[i % feeds.length]!);
      return (out[s.outputNames[0]!] as ort.Tensor).dims[0] ?? 0;
    },
    release: () => s.release(),
  };
}

interface SetData {
  name: AnchorSetName;
  pp: ModelPostprocess;
  ctx: PostprocessContext;
  params: PeerParams;
  graphs: Partial<Record<Peer, Uint8Array>>;
  /** The C modules' folders (native, portable, and the extra C peers asked for). */
  cDirs: Partial<Record<CPeer, string>> | undefined;
}

/** The head outputs of each load for the original anchor set (the pruned set gathers its rows). */
async function loadInputs(
  load: LoadName,
  o: BenchOptions,
  originalPath: string,
  ppOrig: ModelPostprocess,
  preset: string,
): Promise<HeadPair[]> {
  if (load !== 'photos') return [loadHeadOutputs(load, ppOrig.spec, ppOrig.numClasses, ppOrig.anchors)];
  if (!o.images) throw new PrunedetError('E_USAGE', 'the photos load needs images', 'pass --images DIR');
  const orig = loadDetector(originalPath);
  const files = listImages(o.images).slice(0, 8);
  if (files.length === 0)
    throw new PrunedetError('E_USAGE', `no images in ${o.images}`, 'pass a folder of .jpg or .png files');
  const s = await ort.InferenceSession.create(originalPath, RUN_SESSION_OPTIONS);
  try {
    const out: HeadPair[] = [];
    for (const f of files) {
      const x = preprocess(decodeImage(f), preprocessOptionsFor(orig.spec, preset));
      const ri = referenceInput(orig.spec, await runOnce(s, orig.spec.input.name, orig.spec.input.shape, x));
      if (ri.form !== 'concat')
        throw new PrunedetError(
          'E_USAGE',
          'the photos load needs a model with concatenated outputs',
          'bench a synthetic load instead',
        );
      out.push({ scores: ri.scores, boxes: ri.boxes });
    }
    return out;
  } finally {
    await s.release();
  }
}

/** --runs (returned), --slow-runs and --model-runs within bounds. */
function checkRunCounts(o: BenchOptions): number {
  const runs = o.runs ?? 200;
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= LIMITS.benchRuns)) {
    throw new PrunedetError(
      'E_USAGE',
      `--runs ${runs} is not a whole number from 1 to ${LIMITS.benchRuns.toLocaleString('en-US')}`,
      'medians and p99 settle within a few thousand runs; pass e.g. --runs 1000',
    );
  }
  for (const [flag, v] of [
    ['--slow-runs', o.slowRuns],
    ['--model-runs', o.modelRuns],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= LIMITS.benchRuns)) {
      throw new PrunedetError(
        'E_USAGE',
        `${flag} ${v} is not a whole number from 1 to ${LIMITS.benchRuns.toLocaleString('en-US')}`,
        'medians settle within a few hundred runs; pass e.g. 50',
      );
    }
  }
  return runs;
}

/**
 * Per anchor set (original, pruned): its post-processing, the peers' ONNX graphs, and (with gcc) its C modules emitted
 * into `work` (bench's private scratch folder: plain writes are enough).
 */
function benchSets(
  o: BenchOptions,
  peers: ReadonlySet<Peer>,
  work: string,
  withC: boolean,
  pps: { original: ModelPostprocess; pruned: ModelPostprocess },
  imageSize: readonly [number, number],
): SetData[] {
  const sets: SetData[] = [];
  for (const name of ['original', 'pruned'] as const) {
    if (o.sets && !o.sets.includes(name)) continue;
    const pp = pps[name];
    const params: PeerParams = { spec: pp.spec, anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses };
    const ctx = {
      anchors: pp.anchors,
      levels: pp.levels,
      numClasses: pp.numClasses,
      candidateCap: candidateCapFor(pp),
    };
    const graphs: SetData['graphs'] = {};
    if (peers.has('ort-mmdeploy')) graphs['ort-mmdeploy'] = modelToBytes(mmdeployStyleGraph(params));
    if (peers.has('ort-nms-op')) graphs['ort-nms-op'] = modelToBytes(nmsOpGraph(params));
    if (peers.has('onnx-nms')) graphs['onnx-nms'] = modelToBytes(buildPostprocessGraph(params));
    if (peers.has('onnx-nms-exact'))
      graphs['onnx-nms-exact'] = modelToBytes(buildPostprocessGraph({ ...params, exact: true }));
    let cDirs: SetData['cDirs'];
    if (withC) {
      cDirs = {};
      for (const peer of C_PEERS.filter((p) => peers.has(p) || p === 'c' || p === 'c-portable')) {
        const dir = join(work, `${name}-${peer}`);
        cDirs[peer] = dir;
        // c-int8 is written once its inputs are known (its scale and zero point are calibrated on them)
        if (peer === 'c-int8') continue;
        const plan = emitPlanFor(
          pp,
          cPeerName(name, peer),
          BENCH_BANNER(name),
          'concat',
          imageSize,
          peer === 'c-runtime-anchors' ? 'runtime' : 'table',
        );
        mkdirSync(dir, { recursive: true });
        for (const f of emitPostprocessC(plan).files) writeFileSync(join(dir, f.name), f.text);
      }
    }
    sets.push({ name, pp, ctx, params, graphs, cDirs });
  }
  return sets;
}

const BENCH_BANNER = (config: string) => ({ version: 'bench', modelFile: 'bench', modelSha256: 'bench', config });
const cPeerName = (set: string, peer: CPeer) => `${set}_${peer.replace(/-/g, '_')}`;

/**
 * c-int8: per-tensor int8 parameters covering every value of the set's inputs (min/max over all loads, as a calibration
 * pass would), the module emitted for them, and the inputs quantized and packed as it reads them.
 */
function int8Peer(
  dir: string,
  set: SetData,
  inputs: { scores: Float32Array; boxes: Float32Array }[],
  imageSize: readonly [number, number],
): { quant: InputQuant; packed: Float32Array[] } {
  const calibrate = (arrays: Float32Array[]): QuantParams => {
    let lo = 0;
    let hi = 0;
    for (const a of arrays) for (const x of a) if (Number.isFinite(x)) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
    const scale = f32((hi - lo) / 255 || 1);
    return { type: 'int8', scale, zeroPoint: Math.min(127, Math.max(-128, Math.round(-128 - lo / scale))) };
  };
  const quant: InputQuant = {
    scores: calibrate(inputs.map((x) => x.scores)),
    boxes: calibrate(inputs.map((x) => x.boxes)),
  };
  const plan = emitPlanFor(set.pp, cPeerName(set.name, 'c-int8'), BENCH_BANNER(set.name), 'concat', imageSize);
  plan.quant = quant;
  mkdirSync(dir, { recursive: true });
  for (const f of emitPostprocessC(plan).files) writeFileSync(join(dir, f.name), f.text);
  const shape: CModuleShape = {
    prefix: '',
    input: 'concat',
    numClasses: set.pp.numClasses,
    levels: set.pp.levels,
    quant,
  };
  return { quant, packed: inputs.map((x) => packInputForC(shape, { form: 'concat', ...x })) };
}

export async function bench(o: BenchOptions): Promise<BenchResult> {
  const runs = checkRunCounts(o);
  const warmup = o.warmup ?? 20;
  const slowRuns = Math.min(o.slowRuns ?? 20, runs);
  const slowBudgetMs = o.slowBudgetMs ?? 5000;
  const say = o.progress ?? (() => undefined);
  const peers = new Set<Peer>(o.peers ?? PEERS);
  const loads = checkLoads(o.loads ?? [...SYNTHETIC_LOADS, ...(o.images ? ['photos' as const] : [])]);
  const report = readCompileReport(o.outDir);
  const originalPath = o.original ?? report.model.file;
  if (!existsSync(originalPath))
    throw new PrunedetError(
      'E_FILE_NOT_FOUND',
      `the original model ${originalPath} is not there`,
      'pass it with --original',
    );
  checkOriginal(report, originalPath, o.outDir);
  const preset = o.postprocess ?? (report.postprocess?.requested as string | undefined);
  if (!preset)
    throw new PrunedetError(
      'E_USAGE',
      'bench needs the post-processing semantics',
      'compile with --emit c --postprocess PRESET, or pass --postprocess',
    );
  const orig = loadDetector(originalPath);
  const comp = loadDetector(join(o.outDir, 'model.onnx'));
  const kept = report.config.kept;
  const featureMaps = report.featureMaps;
  const counts = orig.spec.levels.map((l) => l.anchorsPerLocation);
  const baseline = reportBaselineSet(report);
  // both anchor sets read the same kind of input: the raw head (concat), as a fused post-processing would
  const ppOrig = postprocessForModel(orig.spec, preset, { rawHead: true, ...(baseline ? { baseline } : {}) });
  if (ppOrig.spec.objectness) {
    throw new PrunedetError(
      'E_USAGE',
      `bench does not time YOLO post-processing (${preset.split(',')[0]}) yet: its loads and peers read score and box tensors`,
      'verify checks the YOLO C module; time it on the device with the test vectors of prunedet detect',
    );
  }
  const ppPruned = compiledPostprocess({ spec: comp.spec, baselineSet: baseline, featureMaps }, preset, kept, true);
  const idx = keptAnchorIndices(featureMaps, counts, kept);
  const withC = hasGcc() && [...peers].some(isCPeer);
  if (!hasGcc()) {
    if (![...peers].some((p) => !isCPeer(p)))
      throw new PrunedetError(
        'E_TOOLCHAIN',
        'gcc is not installed, so the C module cannot be timed and nothing else was asked for',
        'install gcc (Debian: apt-get install gcc), or drop --only c',
      );
    say('gcc is not installed: the C rows are skipped');
  }
  const setPairs = [ppOrig, ppPruned]
    .filter((_, i) => !o.sets || o.sets.includes(i === 0 ? 'original' : 'pruned'))
    .map((pp) => (pp.anchors.length / 4) * foregroundCount(pp.spec, pp.numClasses));
  const estimate = estimateBenchSeconds({
    pairs: setPairs,
    loads: loads.length,
    peers: [...peers].filter((p) => withC || !isCPeer(p)),
    runs,
    warmup,
    slowRuns,
    slowBudgetMs,
    slowPeers: SLOW,
    modelRuns: o.noModel ? 0 : Math.max(20, o.modelRuns ?? 20),
    macs: { original: report.before.totalMacs, compiled: report.after.totalMacs },
    photos: loads.includes('photos') ? 8 : 0,
  });
  say(
    `this bench will take ${formatEstimate(estimate)} (an estimate from the head size, ${loads.length} load${loads.length > 1 ? 's' : ''}, ${runs} rounds, ${o.noModel ? 'no model latency' : 'model latency'})`,
  );

  const { dir: work, release } = makeTempDir('bench');
  const results: LoadResult[] = [];
  let timer: CTimer | undefined;
  try {
    const sets = benchSets(o, peers, work, withC, { original: ppOrig, pruned: ppPruned }, orig.spec.imageSize);

    // every load's inputs first, so that one C process holds them all
    const inputs: { load: LoadName; sets: HeadPair[][] }[] = [];
    for (const load of loads) {
      say(
        load === 'photos'
          ? `photos: running the original model on up to 8 images of ${o.images}`
          : `load ${load}: ${LOAD_DEFS[load].describe}`,
      );
      const origIn = await loadInputs(load, o, originalPath, ppOrig, preset);
      inputs.push({
        load,
        sets: sets.map((s) =>
          s.name === 'original' ? origIn : origIn.map((x) => gatherRows(x, idx, ppOrig.numClasses)),
        ),
      });
    }
    const cPeers = C_PEERS.filter((p) => peers.has(p));
    const mods: { set: number; peer: Peer; base: number[] }[] = [];
    if (withC) {
      const timed: TimedModule[] = [];
      sets.forEach((s, si) => {
        // one copy of the set's inputs, shared by its modules (the harness keeps one buffer per distinct array)
        const all = inputs.flatMap((l) => l.sets[si]!.map((x) => flattenForC({ form: 'concat', ...x })));
        for (const peer of cPeers) {
          let b = 0;
          const base = inputs.map((l) => ((b += l.sets[si]!.length), b - l.sets[si]!.length));
          mods.push({ set: si, peer, base });
          const int8 =
            peer === 'c-int8'
              ? int8Peer(
                  s.cDirs![peer]!,
                  s,
                  inputs.flatMap((l) => l.sets[si]!),
                  orig.spec.imageSize,
                )
              : undefined;
          timed.push({
            dir: s.cDirs![peer]!,
            shape: {
              prefix: `pd_${cPeerName(s.name, peer)}_`,
              input: 'concat',
              numClasses: s.pp.numClasses,
              levels: s.pp.levels,
              ...(int8 ? { quant: int8.quant } : {}),
            },
            inputs: int8 ? int8.packed : all,
            flags: peer === 'c-portable' ? PORTABLE_FLAGS : SHIPPED_FLAGS,
          });
        }
      });
      say(`building the C modules (${cPeers.join(', ')}) for ${sets.map((s) => s.name).join(' and ')} anchors`);
      timer = await startCTimer(timed);
    }

    for (const [li, { load, sets: setInputs }] of inputs.entries()) {
      const nodePeers: NodePeer[] = [];
      for (const [si, s] of sets.entries()) {
        const ins = setInputs[si]!;
        const feeds = ins.map((x) => {
          const n = x.scores.length / s.pp.numClasses;
          return {
            scores: new ort.Tensor('float32', x.scores, [1, n, s.pp.numClasses]),
            boxes: new ort.Tensor('float32', x.boxes, [1, n, 4]),
          };
        });
        for (const peer of ['ort-mmdeploy', 'onnx-nms', 'onnx-nms-exact'] as const) {
          const g = s.graphs[peer];
          if (g)
            nodePeers.push(
              await ortPeer(
                peer,
                s.name,
                SLOW.includes(peer) ? slowRuns : runs,
                SLOW.includes(peer) ? slowBudgetMs : Infinity,
                g,
                feeds,
              ),
            );
        }
        if (s.graphs['ort-nms-op']) {
          const k = foregroundCount(s.pp.spec, s.pp.numClasses);
          const opFeeds = ins.map((x) => {
            const n = x.scores.length / s.pp.numClasses;
            const pre = nmsOpInputs(s.params, x.scores, x.boxes);
            return {
              boxes: new ort.Tensor('float32', pre.boxes, [1, n, 4]),
              scores: new ort.Tensor('float32', pre.scores, [1, k, n]),
            };
          });
          nodePeers.push(await ortPeer('ort-nms-op', s.name, runs, Infinity, s.graphs['ort-nms-op'], opFeeds));
        }
        if (peers.has('ts')) {
          nodePeers.push({
            peer: 'ts',
            set: s.name,
            quota: slowRuns,
            budgetMs: slowBudgetMs,
            once: async (i) => postprocess(s.pp.spec, { form: 'concat', ...ins[i % ins.length]! }, s.ctx).length,
            release: async () => undefined,
          });
        }
      }
      // round r: the C modules (and their floors), then every node peer still under its quota, in a fixed order
      const times = new Map<string, number[]>();
      const dets = new Map<string, number>();
      const key = (peer: Peer | 'floor', set: AnchorSetName) => `${peer}/${set}`;
      const push = (k: string, v: number) => (times.get(k) ?? times.set(k, []).get(k)!).push(v);
      const state = nodePeers.map(() => ({ done: 0, spentMs: 0 }));
      say(
        `load ${load}: ${sets.map((s) => s.name).join(' and ')} anchors, ${[...cPeers, ...new Set(nodePeers.map((p) => p.peer))].join(', ')} (${runs} rounds after ${warmup} warm-up)`,
      );
      for (let r = 0; r < warmup + runs; r++) {
        if (timer) {
          const round = await timer.round(mods.map((m) => m.base[li]! + (r % setInputs[m.set]!.length)));
          mods.forEach((m, i) => {
            const k = key(m.peer, sets[m.set]!.name);
            dets.set(k, round.detections[i]!);
            if (r < warmup) return;
            push(k, round.runs[i]! / 1000);
            if (m.peer === cPeers[0]) push(key('floor', sets[m.set]!.name), round.floors[i]! / 1000);
          });
        }
        for (const [pi, p] of nodePeers.entries()) {
          const st = state[pi]!;
          // slow peers warm up with one run and stop at their quota or budget; the others share the warm-up rounds
          const warm = p.quota < runs ? 1 : warmup;
          const recorded = Math.max(0, st.done - warm);
          if (recorded >= p.quota || (recorded >= 5 && st.spentMs > p.budgetMs)) continue;
          const k = key(p.peer, p.set);
          const t0 = performance.now();
          dets.set(k, await p.once(r));
          const dt = performance.now() - t0;
          if (++st.done > warm) {
            push(k, dt * 1000);
            st.spentMs += dt;
          }
        }
      }
      for (const p of nodePeers) await p.release();
      for (const s of sets) {
        const ins = setInputs[sets.indexOf(s)]!;
        const cands = ins.map((x) => countCandidates(s.pp, { form: 'concat', ...x }));
        const timings: PeerTiming[] = [];
        for (const peer of ALL_PEERS) {
          const t = times.get(key(peer, s.name));
          if (t?.length) timings.push({ peer, detections: dets.get(key(peer, s.name)) ?? 0, ...summarize(t) });
        }
        const floor = summarize(times.get(key('floor', s.name)) ?? []);
        results.push({
          load,
          anchors: s.name,
          candidates: median(cands),
          pairs: (s.pp.anchors.length / 4) * foregroundCount(s.pp.spec, s.pp.numClasses),
          inputs: ins.length,
          floor,
          timings,
          ratios: ratiosOf(timings, floor),
        });
      }
    }
  } finally {
    timer?.close();
    release();
  }
  const model = o.noModel
    ? null
    : await modelLatency(o, originalPath, report, orig.spec.input.shape, comp.spec.input.shape, say);
  return {
    preset,
    cFlags: {
      c: ['gcc', ...BASE_CFLAGS, ...SHIPPED_FLAGS].join(' '),
      'c-portable': ['gcc', ...BASE_CFLAGS, ...PORTABLE_FLAGS].join(' '),
    },
    boxes: { original: orig.spec.boxes, pruned: idx.length },
    results,
    model,
    runs,
    slowRuns,
    ortThreads: ORT_THREADS,
  };
}

/** C / floor, and for every other peer its median over the C's (> 1: the C is that many times faster). */
export function ratiosOf(timings: PeerTiming[], floor: Summary): Record<string, number> {
  const c = timings.find((t) => t.peer === 'c');
  const out: Record<string, number> = {};
  if (c && floor.runs > 0 && floor.medianUs > 0) out['c/floor'] = c.medianUs / floor.medianUs;
  if (c) for (const t of timings) if (t.peer !== 'c') out[`${t.peer}/c`] = t.medianUs / c.medianUs;
  const mm = timings.find((t) => t.peer === 'ort-mmdeploy');
  for (const g of ['onnx-nms', 'onnx-nms-exact'] as const) {
    const t = timings.find((v) => v.peer === g);
    if (mm && t) out[`${g}/ort-mmdeploy`] = t.medianUs / mm.medianUs;
  }
  return out;
}

/** Latency of the original, the cleaned-up original and the compiled model, interleaved run by run (>= 20 runs). */
async function modelLatency(
  o: BenchOptions,
  originalPath: string,
  report: ReturnType<typeof readCompileReport>,
  origDims: number[],
  compDims: number[],
  say: (m: string) => void,
): Promise<ModelLatency> {
  const runs = Math.max(20, o.modelRuns ?? 20);
  const { dir, release } = makeTempDir('bench-model');
  try {
    let cleanedPath: string | undefined;
    let cleanedError: string | undefined;
    say('compiling the original with every anchor kept (the graph passes alone) to split clean-up from anchor removal');
    try {
      const model = loadModel(originalPath);
      const initial = analyzeModel(model, {}, originalPath);
      await optimizeModel(model, { kept: keepEveryAnchor(initial.spec), initial, label: originalPath });
      cleanedPath = join(dir, 'cleaned.onnx');
      saveModel(model, cleanedPath);
    } catch (e) {
      cleanedError = (e as Error).message;
    }
    say(
      `model latency in onnxruntime: original, ${cleanedPath ? 'cleaned-up, ' : ''}compiled, interleaved (${runs} runs after 2 warm-up)`,
    );
    const models = [originalPath, cleanedPath, join(o.outDir, 'model.onnx')];
    const dims = [origDims, origDims, compDims];
    const opts = { logSeverityLevel: 3 as const, graphOptimizationLevel: 'all' as const };
    const sessions = await Promise.all(models.map((m) => (m ? ort.InferenceSession.create(m, opts) : undefined)));
    const t: number[][] = models.map(() => []);
    for (let r = 0; r < runs + 2; r++) {
      for (const [i, s] of sessions.entries()) {
        if (!s) continue;
        const x = new ort.Tensor('float32', new Float32Array(dims[i]!.reduce((a, b) => a * b, 1)).fill(0.1), dims[i]!);
        const t0 = performance.now();
        await s.run({ [s.inputNames[0]!]: x });
        if (r >= 2) t[i]!.push((performance.now() - t0) * 1000);
      }
    }
    for (const s of sessions) await s?.release();
    const [original, cleaned, compiled] = t.map((v) => (v.length ? summarize(v) : null)) as [
      Summary,
      Summary | null,
      Summary,
    ];
    return {
      runs,
      original,
      cleaned,
      compiled,
      headMacs: { original: report.before.headMacs, compiled: report.after.headMacs },
      speedup: {
        total: original.medianUs / compiled.medianUs,
        cleanUp: cleaned ? original.medianUs / cleaned.medianUs : null,
        head: cleaned ? cleaned.medianUs / compiled.medianUs : null,
      },
      ...(cleanedError ? { cleanedError } : {}),
    };
  } finally {
    release();
  }
}

/** Median latency (ms) of a model in onnxruntime-node over `runs` runs after 2 warm-up runs. */
export async function timeModel(path: string, dims: number[], runs: number): Promise<number> {
  const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3, graphOptimizationLevel: 'all' });
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
