// How long a bench will take, said before it starts: a rough model of each peer's cost per (anchor, label) pair,
// fitted to the timings in the README (SSD300 B, pruned RetinaNet, ultraface on the project's 2-core machine), plus
// the fixed costs (gcc builds, the C harness's 200 us spin per module and round, the model latency runs). It is an
// estimate for planning (within about 2x on a machine like that one), never a measurement.
import type { Peer } from './index';

/** Per-run cost of each peer: a fixed part (us) and a part per (anchor, label) pair (ns). */
const COST: Readonly<Record<Peer | 'floor', { fixedUs: number; nsPerPair: number }>> = {
  floor: { fixedUs: 0, nsPerPair: 0.25 },
  // each C module spins 200 us before its timed run so that it runs on an active core
  c: { fixedUs: 200, nsPerPair: 1.5 },
  'c-portable': { fixedUs: 200, nsPerPair: 3 },
  'c-runtime-anchors': { fixedUs: 200, nsPerPair: 1.5 },
  'c-int8': { fixedUs: 200, nsPerPair: 1.5 },
  'ort-nms-op': { fixedUs: 60, nsPerPair: 8 },
  'ort-mmdeploy': { fixedUs: 120, nsPerPair: 15 },
  'onnx-nms': { fixedUs: 120, nsPerPair: 15 },
  'onnx-nms-exact': { fixedUs: 200, nsPerPair: 60 },
  ts: { fixedUs: 50, nsPerPair: 40 },
};

export interface BenchPlan {
  /** (anchor, label) pairs of each measured anchor set. */
  pairs: number[];
  loads: number;
  peers: readonly Peer[];
  runs: number;
  warmup: number;
  slowRuns: number;
  slowBudgetMs: number;
  slowPeers: readonly Peer[];
  /** Model latency: runs and the MACs of the original and compiled models (0 runs: skipped). */
  modelRuns: number;
  macs: { original: number; compiled: number };
  /** Images the photos load runs the original model on (0: no photos load). */
  photos: number;
}

/** Seconds gcc takes for one C module build (the native harness builds every module once). */
const GCC_SECONDS = 3;
/** Multiply-accumulates per second onnxruntime manages on one of these cores, for the model latency runs. */
const MACS_PER_SECOND = 4e9;

/** The estimated wall time of a bench, in seconds. */
export function estimateBenchSeconds(p: BenchPlan): number {
  const cPeers = p.peers.filter((x) => x === 'c' || x === 'c-portable');
  let s = cPeers.length * p.pairs.length * GCC_SECONDS;
  const runUs = (peer: Peer | 'floor', pairs: number) => COST[peer].fixedUs + (COST[peer].nsPerPair * pairs) / 1000;
  for (const pairs of p.pairs) {
    let perLoadUs = 0;
    for (const peer of p.peers) {
      const slow = p.slowPeers.includes(peer);
      const once = runUs(peer, pairs);
      perLoadUs += slow ? Math.min((p.slowRuns + 1) * once, p.slowBudgetMs * 1000 + once) : (p.runs + p.warmup) * once;
    }
    if (cPeers.length > 0) perLoadUs += (p.runs + p.warmup) * runUs('floor', pairs);
    s += (p.loads * perLoadUs) / 1e6;
  }
  const modelSeconds = (macs: number) => macs / MACS_PER_SECOND + 0.001;
  if (p.modelRuns > 0) s += (p.modelRuns + 2) * (2 * modelSeconds(p.macs.original) + modelSeconds(p.macs.compiled)) + 5;
  s += p.photos * modelSeconds(p.macs.original);
  return s;
}

/** `about 40 s`, `about 3 min`. */
export function formatEstimate(seconds: number): string {
  if (seconds < 90) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}
