// Reading a traced output: for each row of K values, which head conv, location (y, x) and channels it came from.
// From that follow anchors per location (rows per location), values per anchor and the channel layout — detected
// from the data movement the graph performs, not assumed.
import type { Value } from '../ir/graph';
import { PrunedetError } from '../errors';
import { decodeProvenance, provenanceCode } from './region';
import type { Arr } from './layout-eval';

export interface ConvRows {
  conv: number;
  /** Rows of this conv per (n, y, x) location. */
  rowsPerLocation: number;
  /** Channel step inside a row (1 = the row's values are consecutive channels); 0 = values mixed (decoded boxes). */
  step: number;
  /** Lowest and highest channel of each row (all rows of one anchor must lie in one anchor's channel block). */
  rowMin: number[];
  rowMax: number[];
  /** First channel of each row, for the rows of location (0, 0, 0), in row order. */
  firstChannels: number[];
  /** Rows ordered location-major, then by first channel (the exporters' (y, x, a) order). */
  locationMajor: boolean;
  /** Rows ordered by first channel, then location (YOLO exports' (a, y, x) order within a level). */
  channelMajor: boolean;
}

export interface OutputRows {
  kind: 'rows';
  value: Value;
  valuesPerRow: number;
  /** Convs in the order their row blocks appear on the anchor axis. */
  convOrder: number[];
  convs: Map<number, ConvRows>;
}

export interface OutputMap {
  kind: 'map';
  value: Value;
  conv: number;
}

/** Decide how output `v` (traced as `arr`) reads the head convs (of shapes `convShapes`, NCHW). */
export function readOutput(v: Value, arr: Arr, convShapes: number[][]): OutputRows | OutputMap {
  const d = arr.data;
  const first = d[0]!;
  if (first >= 0) {
    const { conv, flat } = decodeProvenance(first);
    const cs = convShapes[conv]!;
    const n = cs.reduce((a, b) => a * b, 1);
    if (flat === 0 && d.length === n) {
      let identity = true;
      for (let i = 0; i < d.length && identity; i++) identity = d[i] === first + i;
      if (identity) return { kind: 'map', value: v, conv };
    }
  }
  const k = arr.shape[arr.shape.length - 1] ?? 1;
  if (arr.shape.length < 2 || k === 0) {
    throw new PrunedetError(
      'E_HEAD_AMBIGUOUS',
      `output ${v.name} of shape [${arr.shape.join(',')}] has no per-anchor rows`,
      'pass --head-spec',
    );
  }
  const rows = d.length / k;
  const convOrder: number[] = [];
  const convs = new Map<
    number,
    ConvRows & { loc0: number; counts: Map<number, number>; lastKey: number; lastKeyC: number }
  >();
  for (let r = 0; r < rows; r++) {
    const base = d[r * k]!;
    if (base < 0) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `output ${v.name} row ${r} holds values that do not come from a head conv`,
        'pass --head-spec, or export the raw head outputs',
      );
    }
    const { conv, flat } = decodeProvenance(base);
    const [, C, H, W] = convShapes[conv]!;
    const hw = H! * W!;
    const ch = Math.floor(flat / hw) % C!;
    const loc = Math.floor(flat / (hw * C!)) * hw + (flat % hw);
    // Values computed from several channels of one anchor (decoded boxes) keep one channel's provenance each:
    // the row is then 'mixed' (step 0) and only checked to stay inside one anchor's block once K is known.
    // (Hot loop over every output element: plain arithmetic, no allocation.)
    const convBase = provenanceCode(conv, 0);
    const n0 = Math.floor(flat / (hw * C!));
    let step = k > 1 ? (Math.floor((d[r * k + 1]! - convBase) / hw) % C!) - ch : 1;
    let lo = ch;
    let hi = ch;
    for (let j = 1; j < k; j++) {
      const f = d[r * k + j]! - convBase;
      if (f < 0 || f >= hw * C! * (n0 + 1) || f < hw * C! * n0 || f % hw !== flat % hw) {
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `output ${v.name} row ${r} mixes values of different locations or convs`,
          'pass --head-spec',
        );
      }
      const pc = Math.floor(f / hw) % C!;
      if (pc !== ch + j * step) step = 0;
      if (pc < lo) lo = pc;
      if (pc > hi) hi = pc;
    }
    let info = convs.get(conv);
    if (!info) {
      info = {
        conv,
        rowsPerLocation: 0,
        step,
        firstChannels: [],
        rowMin: [],
        rowMax: [],
        locationMajor: true,
        channelMajor: true,
        loc0: loc,
        counts: new Map(),
        lastKey: -1,
        lastKeyC: -1,
      };
      convs.set(conv, info);
      convOrder.push(conv);
    } else if (convOrder[convOrder.length - 1] !== conv) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `output ${v.name} interleaves rows of several head convs`,
        'pass --head-spec',
      );
    }
    if (info.step !== step) info.step = 0;
    info.rowMin.push(lo);
    info.rowMax.push(hi);
    info.counts.set(loc, (info.counts.get(loc) ?? 0) + 1);
    if (loc === info.loc0) info.firstChannels.push(lo);
    const key = loc * C! + lo;
    if (key < info.lastKey) info.locationMajor = false;
    info.lastKey = key;
    const keyC = (n0 * 65536 + lo) * 2 ** 31 + (flat % hw);
    if (keyC < info.lastKeyC) info.channelMajor = false;
    info.lastKeyC = keyC;
  }
  for (const info of convs.values()) {
    const counts = [...info.counts.values()];
    info.rowsPerLocation = counts[0]!;
    if (counts.some((c) => c !== info.rowsPerLocation)) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `output ${v.name} reads a varying number of anchors per location`,
        'pass --head-spec',
      );
    }
  }
  const clean = new Map<number, ConvRows>();
  for (const [c, { conv, rowsPerLocation, step, firstChannels, rowMin, rowMax, locationMajor, channelMajor }] of convs)
    clean.set(c, { conv, rowsPerLocation, step, firstChannels, rowMin, rowMax, locationMajor, channelMajor });
  return { kind: 'rows', value: v, valuesPerRow: k, convOrder, convs: clean };
}
