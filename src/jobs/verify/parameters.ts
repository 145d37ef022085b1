// The exact half of "slicing changes no arithmetic": every head conv prune-anchors sliced (and its depthwise feeders)
// must hold the original's parameters at the kept output channels, bit for bit: float weights and bias; for
// quantized convs the int8 weights, int32 bias and their per-channel scales and zero points at the kept channels,
// and every per-tensor scale and zero point unchanged. Convs whose parameters a later pass re-rounded
// (fold-batchnorm) or that are computed at run time are left to the tensor comparison.
import type { Node } from '../../ir/graph';
import type { Tensor } from '../../ir/tensor';
import { DataType } from '../../ir/dtype';
import type { HeadConv } from '../../detector/spec';
import { levelName } from '../../format/levels';
import { convParameters, isConvLike } from '../../quant/ops';

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
  /** Weights and biases compared (quantized: also scales and zero points). */
  values: number;
  mismatches: number;
  /** The first difference, in words. */
  first?: string;
  /** Compared convs with quantized parameters (QLinearConv or QDQ). */
  quantized?: number;
  /** Sliced convs computed in integer arithmetic (QLinearConv, or a QDQ unit the runtime fuses): compared bit for bit. */
  integer?: number;
}

/** The sliced convs of a pair: the head conv and its conv feeders, compiled with original (same position in the chain). */
export function slicedConvs(p: SlicedConvPair): [Node, Node][] {
  const feeders =
    p.comp.feeders.length === p.orig.feeders.length
      ? p.comp.feeders.map((f, i) => [f, p.orig.feeders[i]!] as [Node, Node])
      : [];
  return [...feeders.filter(([c]) => isConvLike(c)), [p.comp.node, p.orig.node]];
}

/** A tensor's values as a typed array (views where the bytes allow): millions of weights compare in milliseconds. */
function valuesOf(t: Tensor): ArrayLike<number> {
  const b = t.bytes();
  switch (t.dataType) {
    case DataType.FLOAT:
      return t.float32();
    case DataType.INT8:
      return new Int8Array(b.buffer, b.byteOffset, t.size);
    case DataType.UINT8:
      return b.subarray(0, t.size);
    case DataType.INT32:
      return b.byteOffset % 4 === 0
        ? new Int32Array(b.buffer, b.byteOffset, t.size)
        : new Int32Array(new Uint8Array(b.subarray(0, t.size * 4)).buffer);
    default:
      return t.numbers();
  }
}

/** Compare the parameters of every sliced conv of `pairs` (skipping `skip`: folded ones). */
export function checkSlicedParameters(pairs: readonly SlicedConvPair[], skip: (conv: Node) => boolean): ParameterCheck {
  const r: ParameterCheck = { convs: 0, values: 0, mismatches: 0 };
  for (const p of pairs) {
    if (p.channels.length === p.orig.channels) continue; // not sliced
    for (const [c, o] of slicedConvs(p)) {
      if (skip(c)) continue;
      const got = convParameters(c);
      const want = convParameters(o);
      if (!got || !want) continue; // computed at run time
      const where = `${levelName(p.level)} head conv ${c.label()}`;
      const roles = (ps: typeof got) => ps.map((x) => x.role).join(', ');
      if (roles(got) !== roles(want) || c.opType !== o.opType) {
        r.mismatches++;
        r.first ??= `${where}: parameters ${roles(got)}, the original's ${o.opType} has ${roles(want)}`;
        continue;
      }
      r.convs++;
      if (c.opType !== 'Conv' || got.length > 2) r.quantized = (r.quantized ?? 0) + 1;
      got.forEach((gp, j) => {
        const wp = want[j]!;
        const g = valuesOf(gp.tensor);
        const w = valuesOf(wp.tensor);
        const sliced = wp.perChannel && w.length > 1;
        const per = sliced ? w.length / wp.tensor.dims[0]! : w.length;
        const expected = sliced ? p.channels.length * per : w.length;
        if (g.length !== expected || gp.tensor.dataType !== wp.tensor.dataType) {
          r.mismatches += Math.max(1, g.length);
          r.first ??= `${where}: ${gp.role} ${gp.tensor.describe()}, the original's ${sliced ? `kept channels make ${p.channels.length}x${per}` : `are ${wp.tensor.describe()}`}`;
          return;
        }
        const rows = sliced ? p.channels : [0];
        rows.forEach((oc, cc) => {
          for (let k = 0; k < per; k++) {
            const a = g[cc * per + k]!;
            const b = w[oc * per + k]!;
            r.values++;
            if (Object.is(a, b) || a === b) continue;
            r.mismatches++;
            r.first ??= sliced
              ? `${where}: ${per === 1 ? gp.role : `${gp.role.replace(/s$/, '')} ${k}`} of compiled channel ${cc} (original channel ${oc}) is ${a}, the original's ${b}: slicing cannot explain it`
              : `${where}: ${gp.role} ${k} is ${a}, the original's ${b}: pruning never changes a per-tensor parameter`;
          }
        });
      });
    }
  }
  return r;
}
