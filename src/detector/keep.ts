// Which positions of each head-region value survive a pruning: from the kept channels of every head conv and the
// traced provenance, the kept index set along every axis of every value. Pruning is only expressible as slicing when
// the kept elements form a product of per-axis sets; that is checked here, once, for every value.
import type { Node, Value } from '../ir/graph';
import { PrunedetError } from '../errors';
import type { Arr } from './layout-eval';
import { provenanceConv, provenanceFlat } from './region';
import type { DetectorSpec, HeadConv } from './spec';

/** Per axis: its size before pruning and the kept indices (ascending), or null when every index stays. */
export interface AxisKeep {
  size: number;
  kept: Int32Array | null;
}

export type ValueKeep = AxisKeep[];

/** Channels of `conv` that carry the kept anchors, in the order the pruned conv will have them. */
export function keptChannels(conv: HeadConv, anchorsPerLocation: number, keptAnchors: readonly number[]): number[] {
  const K = conv.valuesPerAnchor;
  const out: number[] = [];
  if (conv.layout === 'anchor-major') {
    for (const a of keptAnchors) for (let k = 0; k < K; k++) out.push(a * K + k);
  } else {
    for (let k = 0; k < K; k++) for (const a of keptAnchors) out.push(k * anchorsPerLocation + a);
  }
  return out;
}

/** Per head conv (by node), a 0/1 mask over its output channels. */
export function channelMasks(spec: DetectorSpec, kept: number[][]): Map<Node, Uint8Array> {
  const masks = new Map<Node, Uint8Array>();
  spec.levels.forEach((l, i) => {
    for (const c of l.convs) {
      const m = new Uint8Array(c.channels);
      for (const ch of keptChannels(c, l.anchorsPerLocation, kept[i]!)) m[ch] = 1;
      masks.set(c.node, m);
    }
  });
  return masks;
}

/**
 * Kept sets of every traced value. `convs` lists the region's head convs in trace order (provenance conv index),
 * `convShapes` their NCHW output shapes, `masks` their kept channels.
 */
export function keptSets(
  traced: ReadonlyMap<Value, Arr>,
  convs: Node[],
  convShapes: number[][],
  masks: Map<Node, Uint8Array>,
): Map<Value, ValueKeep> {
  const hw = convShapes.map((s) => s[2]! * s[3]!);
  const cs = convShapes.map((s) => s[1]!);
  const mk = convs.map((c, i) => masks.get(c) ?? new Uint8Array(cs[i]!).fill(1));
  const out = new Map<Value, ValueKeep>();
  for (const [v, arr] of traced) {
    const shape = arr.shape;
    const r = shape.length;
    const seen = shape.map((d) => new Uint8Array(d));
    const n = arr.data.length;
    const state = (code: number): number => {
      if (code < 0) return 2;
      const ci = provenanceConv(code);
      return mk[ci]![Math.floor(provenanceFlat(code) / hw[ci]!) % cs[ci]!]!;
    };
    const idx = new Int32Array(r);
    for (let e = 0; e < n; e++) {
      if (state(arr.data[e]!) === 1) for (let d = 0; d < r; d++) seen[d]![idx[d]!] = 1;
      for (let d = r - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    // product check: an element is kept exactly when every one of its indices is kept
    idx.fill(0);
    for (let e = 0; e < n; e++) {
      const s = state(arr.data[e]!);
      if (s !== 2) {
        let all = 1;
        for (let d = 0; d < r; d++) all &= seen[d]![idx[d]!]!;
        if (all !== s) {
          throw new PrunedetError(
            'E_HEAD_AMBIGUOUS',
            `pruning ${v.name} would keep a non-rectangular subset of its elements (anchors interleaved with other data along one axis)`,
            'pass --head-spec, or export the head outputs without mixing anchors and other values along one axis',
          );
        }
      }
      for (let d = r - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    out.set(
      v,
      shape.map((size, d) => {
        const s = seen[d]!;
        let count = 0;
        for (let i = 0; i < size; i++) count += s[i]!;
        if (count === size) return { size, kept: null };
        const kept = new Int32Array(count);
        for (let i = 0, k = 0; i < size; i++) if (s[i]) kept[k++] = i;
        return { size, kept };
      }),
    );
  }
  return out;
}

export function keptCount(a: AxisKeep): number {
  return a.kept ? a.kept.length : a.size;
}
