// The exact half of "slicing changes no arithmetic": every head conv prune-anchors sliced (and its depthwise feeders)
// must hold the original's weights and bias at the kept output channels, bit for bit. Convs whose parameters a later
// pass re-rounded (fold-batchnorm) or that are not constants (quantized exports) are left to the tensor comparison.
import type { Node } from '../../ir/graph';
import type { HeadConv } from '../../detector/spec';
import { levelName } from '../../format/levels';

export interface SlicedConvPair {
  comp: HeadConv;
  orig: HeadConv;
  /** Original level. */
  level: number;
  /** Original output channel of each compiled output channel. */
  channels: number[];
}

export interface ParameterCheck {
  /** Convs whose parameters were compared. */
  convs: number;
  /** Weights and biases compared. */
  values: number;
  mismatches: number;
  /** The first difference, in words. */
  first?: string;
}

/** The sliced convs of a pair: the head conv and its conv feeders, compiled with original (same position in the chain). */
export function slicedConvs(p: SlicedConvPair): [Node, Node][] {
  const feeders =
    p.comp.feeders.length === p.orig.feeders.length
      ? p.comp.feeders.map((f, i) => [f, p.orig.feeders[i]!] as [Node, Node])
      : [];
  return [...feeders.filter(([c]) => c.opType === 'Conv'), [p.comp.node, p.orig.node]];
}

/** Compare the parameters of every sliced conv of `pairs` (skipping `skip`: folded or non-constant). */
export function checkSlicedParameters(pairs: readonly SlicedConvPair[], skip: (conv: Node) => boolean): ParameterCheck {
  const r: ParameterCheck = { convs: 0, values: 0, mismatches: 0 };
  for (const p of pairs) {
    if (p.channels.length === p.orig.channels) continue; // not sliced
    for (const [c, o] of slicedConvs(p)) {
      if (skip(c)) continue;
      for (const slot of [1, 2] as const) {
        const got = c.inputs[slot]?.constant();
        const want = o.inputs[slot]?.constant();
        if (!got && !want) continue;
        if (!got || !want) {
          r.mismatches++;
          r.first ??= `${levelName(p.level)} head conv ${c.label()}: ${slot === 1 ? 'weights' : 'bias'} ${got ? 'added' : 'missing'}`;
          continue;
        }
        if (slot === 1) r.convs++;
        const g = got.float32();
        const w = want.float32();
        const per = w.length / want.dims[0]!;
        if (g.length !== p.channels.length * per) {
          r.mismatches += g.length;
          r.first ??= `${levelName(p.level)} head conv ${c.label()}: ${got.dims.join('x')} ${slot === 1 ? 'weights' : 'bias'}, the kept channels of the original's make ${p.channels.length}x${per}`;
          continue;
        }
        p.channels.forEach((oc, cc) => {
          for (let k = 0; k < per; k++) {
            const a = g[cc * per + k]!;
            const b = w[oc * per + k]!;
            r.values++;
            if (Object.is(a, b) || a === b) continue;
            r.mismatches++;
            r.first ??= `${levelName(p.level)} head conv ${c.label()}: ${slot === 1 ? `weight ${k} of` : 'bias of'} compiled channel ${cc} (original channel ${oc}) is ${a}, the original's ${b}: slicing cannot explain it`;
          }
        });
      }
    }
  }
  return r;
}
