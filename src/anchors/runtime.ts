// Anchors generated at run time (compile --emit c --anchors runtime): the per-level parameters a C module needs to
// rebuild every anchor of a grid generator (strides, map sizes, the kept base anchors, the encoding), and the exact
// float steps that rebuild them. Every generator prunedet reproduces (mmdetection, torchvision, min-size priors) ends
// in an AnchorSet whose base anchors are doubles; the table is float32(base + x * stride) in double, encoded in double
// and rounded once, then converted to centre-size in float32. The C module repeats those IEEE operations one for one,
// so its anchors are the table's bit for bit; runtimeCenters() is the same arithmetic in TypeScript, used to prove it
// before a module is written.
import type { AnchorSet, FeatureMap } from './types';
import type { AnchorEncoding } from './grid';

export interface RuntimeAnchorLevel {
  /** [w, h] pixels between cells, as the generator adds them (double). */
  stride: [number, number];
  /** Feature map rows and columns. */
  h: number;
  w: number;
  /** The kept base anchors of the level, in head order: x1, y1, x2, y2 pixels (double). */
  base: [number, number, number, number][];
}

export interface RuntimeAnchors {
  levels: RuntimeAnchorLevel[];
  /** The encoding the table went through (normalizeBy [W, H] and clamp, then xyxy or cxcywh). */
  encoding: AnchorEncoding;
}

/** The runtime description of `set` (already restricted to the kept anchors) tiled over `featureMaps` ([H, W]). */
export function runtimeAnchorsOf(set: AnchorSet, featureMaps: FeatureMap[], encoding: AnchorEncoding): RuntimeAnchors {
  return {
    levels: set.levels.map((l, i) => ({
      stride: [l.stride[0], l.stride[1]],
      h: featureMaps[i]![0],
      w: featureMaps[i]![1],
      base: l.base.map((b) => [b.x1, b.y1, b.x2, b.y2]),
    })),
    encoding: { ...encoding, ...(encoding.normalizeBy ? { normalizeBy: [...encoding.normalizeBy] } : {}) },
  };
}

/** Math.min(1, Math.max(0, v)) as C writes it: -0 becomes +0, NaN stays NaN. */
function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/**
 * Centre-size rows (cx, cy, w, h) of every anchor, computed with exactly the operations the emitted anchor_at() does:
 * double x1 = base + x * stride, rounded to float; encoded in double from those floats and rounded once; for an xyxy
 * encoding, w = x2 - x1 and cx = x1 + 0.5f * w in float.
 */
export function runtimeCenters(r: RuntimeAnchors): Float32Array {
  const total = r.levels.reduce((n, l) => n + l.h * l.w * l.base.length, 0);
  const out = new Float32Array(total * 4);
  const f = Math.fround;
  const [nw, nh] = r.encoding.normalizeBy ?? [1, 1];
  const clamp = r.encoding.clamp ? clamp01 : (v: number) => v;
  const cxcywh = r.encoding.format === 'cxcywh';
  let o = 0;
  for (const l of r.levels) {
    for (let y = 0; y < l.h; y++) {
      const dy = y * l.stride[1];
      for (let x = 0; x < l.w; x++) {
        const dx = x * l.stride[0];
        for (const b of l.base) {
          const x1 = f(b[0] + dx),
            y1 = f(b[1] + dy),
            x2 = f(b[2] + dx),
            y2 = f(b[3] + dy);
          if (cxcywh) {
            out[o++] = f(clamp((x1 + x2) / 2 / nw));
            out[o++] = f(clamp((y1 + y2) / 2 / nh));
            out[o++] = f(clamp((x2 - x1) / nw));
            out[o++] = f(clamp((y2 - y1) / nh));
          } else {
            const e0 = f(clamp(x1 / nw)),
              e1 = f(clamp(y1 / nh)),
              e2 = f(clamp(x2 / nw)),
              e3 = f(clamp(y2 / nh));
            const w = f(e2 - e0),
              h = f(e3 - e1);
            out[o++] = f(e0 + f(0.5 * w));
            out[o++] = f(e1 + f(0.5 * h));
            out[o++] = w;
            out[o++] = h;
          }
        }
      }
    }
  }
  return out;
}

/** Index of the first float that differs between a and b bit for bit (NaNs compare by bits too), or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}
