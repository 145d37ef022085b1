// What `prunedet verify` returns and prints as JSON (schema prunedet.verify/1, documented in the README), its exit codes
// and limits: shared by the two ways verify proves a model (index.ts: models with per-anchor outputs; full-export.ts:
// models that keep their NMS).
import type { PreprocessFlags } from '../../image/inputs';
import type { ToleranceOverrides, WorstElement } from './compare';

/** Most inputs verify runs (each is two model runs; more says nothing new). */
export const MAX_SAMPLES = 1000;
/** Random inputs when neither --samples nor --images is given. */
export const DEFAULT_SAMPLES = 4;

/** Exit codes of `prunedet verify` (2 is every user error, as for every command). */
export const VERIFY_EXIT = { equivalent: 0, mismatch: 1, inconclusive: 3 } as const;

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
  /** --atol/--rtol: replace the derived tensor tolerances. */
  tolerances?: ToleranceOverrides;
  /** Do not build and run the emitted C module (the verdict then says so). */
  skipC?: boolean;
  progress?: (done: number, total: number) => void;
}

export type Status = keyof typeof VERIFY_EXIT;
export type CheckStatus = 'pass' | 'fail' | 'inconclusive' | 'skipped';

export interface CheckBase {
  status: CheckStatus;
  /** fail: the first difference (input, anchor, values); inconclusive/skipped: why, and what to do. */
  reason?: string;
}

export interface ElementReport extends WorstElement {
  inputName: string;
  /** For per-anchor outputs: the anchor in the compiled and in the original numbering, its level and value index. */
  anchor?: { compiled: number; original: number; level: number; value: number };
}

export interface ComparedTensor {
  name: string;
  elements: number;
  tolerance: {
    kind: 'bitwise' | 'derived' | 'override';
    /** Largest per-element tolerance used. */
    max: number;
    /** What it follows from. */
    origin: string;
    atol?: number;
    rtol?: number;
  };
  maxAbsError: number;
  overTolerance: number;
  /** The element with the largest error relative to its tolerance (absent when every element is equal). */
  worst?: ElementReport;
}

export interface TensorCheck extends CheckBase {
  inputs: number;
  /** Kept anchors compared per input. */
  anchors: number;
  /** The sliced head convs' weights and biases compared with the original's kept channels, bit for bit. */
  parameters: {
    convs: number;
    values: number;
    mismatches: number;
    first?: string;
    quantized?: number;
    integer?: number;
  };
  outputs: ComparedTensor[];
  /** The feature maps the head reads, when a rounding change reaches them (tolerance: step 1 of tolerance.ts). */
  features: ComparedTensor[];
}

export interface LevelCount {
  level: number;
  /** Kept anchors per location (original indices). */
  keptAnchors: number[];
  /** Kept anchors on this level's grid. */
  anchors: number;
  /** Oracle detections compared on this level: from the model's outputs, from the planted head outputs. */
  detections: { inputs: number; planted: number };
}

export interface DetectionCheck extends CheckBase {
  preset?: string;
  levels: LevelCount[];
  /**
   * On the model's own outputs: the oracle's detections; the compiled model's, how many of those have an oracle
   * detection of the same label and anchor, and how many equal it bit for bit (all of them when every tensor is).
   */
  inputs: { count: number; detections: number; compiled: number; matched: number; identical: number };
  /** Head outputs with objects planted on every level that keeps anchors (fed to both post-processings). */
  planted: { count: number; detections: number };
}

export interface CCheck extends CheckBase {
  /** Inputs the C module ran on (the compiled model's outputs, then the planted head outputs). */
  runs: number;
  detections: number;
  flags?: string;
}

export interface VerifyResult {
  schema: 'prunedet.verify/1';
  status: Status;
  exitCode: number;
  /** One line: what failed, or what to do about an inconclusive check. */
  advice?: string;
  original: { file: string; sha256: string };
  outDir: string;
  inputs: { source: 'random' | 'images'; count: number; names: string[] };
  checks: { tensors: TensorCheck; detections: DetectionCheck; cModule: CCheck };
  /**
   * With images and a preset: mAP@[.5:.95] of the compiled model's detections against the original's own (what
   * search calls fidelity; 1.0 = the original's detections), computed exactly as search computes a front point's.
   */
  fidelity?: number;
}

/** The verdict over the checks: mismatch if one failed, else inconclusive if one is, else equivalent; with its line. */
export function verdict(checks: readonly CheckBase[]): { status: Status; exitCode: number; advice?: string } {
  const status: Status = checks.some((c) => c.status === 'fail')
    ? 'mismatch'
    : checks.some((c) => c.status === 'inconclusive')
      ? 'inconclusive'
      : 'equivalent';
  const advice =
    status === 'equivalent'
      ? undefined
      : checks.find((c) => c.status === (status === 'mismatch' ? 'fail' : 'inconclusive'))!.reason;
  return { status, exitCode: VERIFY_EXIT[status], ...(advice ? { advice } : {}) };
}
