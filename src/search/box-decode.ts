// The post-processing reference's decodeBox (postprocess/reference.ts: deltaTransform, center-size decode, clip)
// without allocations, for the streamed evaluator's hot loop: the same float32 operations in the same order, constants
// rounded once. Proven equal to decodeBox bit for bit on every decoder, with and without clip, NaN and infinite deltas
// included (test/search/box-decode.test.ts).
import { expF, f32 } from '../postprocess/float32';
import { PrunedetError } from '../errors';
import type { PostprocessSpec } from '../postprocess/spec';

/** Decode deltas d0..d3 with the center-size anchor row a[ai..ai+3] into out[oi..oi+3] (xyxy). */
export type BoxDecoder = (
  d0: number,
  d1: number,
  d2: number,
  d3: number,
  a: Float32Array,
  ai: number,
  out: Float32Array,
  oi: number,
) => void;

export function boxDecoder(spec: PostprocessSpec): BoxDecoder {
  const clip = spec.clip ? ([f32(spec.clip[0]), f32(spec.clip[1])] as const) : undefined;
  const cw = clip?.[0] ?? 0,
    ch = clip?.[1] ?? 0;
  const put = clip
    ? (out: Float32Array, oi: number, x1: number, y1: number, x2: number, y2: number) => {
        out[oi] = x1 < 0 ? 0 : x1 > cw ? cw : x1;
        out[oi + 1] = y1 < 0 ? 0 : y1 > ch ? ch : y1;
        out[oi + 2] = x2 < 0 ? 0 : x2 > cw ? cw : x2;
        out[oi + 3] = y2 < 0 ? 0 : y2 > ch ? ch : y2;
      }
    : (out: Float32Array, oi: number, x1: number, y1: number, x2: number, y2: number) => {
        out[oi] = x1;
        out[oi + 1] = y1;
        out[oi + 2] = x2;
        out[oi + 3] = y2;
      };
  /** cx = acx + aw*tx, w = aw*exp(tw) ... as decodeBox. */
  const centered = (
    tx: number,
    ty: number,
    tw: number,
    th: number,
    a: Float32Array,
    ai: number,
    out: Float32Array,
    oi: number,
  ) => {
    const aw = a[ai + 2]!,
      ah = a[ai + 3]!;
    const cx = f32(a[ai]! + f32(aw * tx));
    const cy = f32(a[ai + 1]! + f32(ah * ty));
    const hw = f32(0.5 * f32(aw * expF(tw)));
    const hh = f32(0.5 * f32(ah * expF(th)));
    put(out, oi, f32(cx - hw), f32(cy - hh), f32(cx + hw), f32(cy + hh));
  };
  const dec = spec.decoder;
  switch (dec.type) {
    case 'xywh':
    case 'yolov5':
    case 'yolov3':
      throw new PrunedetError(
        'E_POSTPROCESS',
        `search does not decode ${dec.type} boxes yet`,
        'verify and compile YOLO heads',
      );
    case 'none':
      return (d0, d1, d2, d3, _a, _ai, out, oi) => put(out, oi, f32(d0), f32(d1), f32(d2), f32(d3));
    case 'ssd': {
      const v0 = f32(dec.variances[0]),
        v1 = f32(dec.variances[1]);
      return (d0, d1, d2, d3, a, ai, out, oi) =>
        centered(f32(d0 * v0), f32(d1 * v0), f32(d2 * v1), f32(d3 * v1), a, ai, out, oi);
    }
    case 'mmdet-delta-xywh': {
      const c = f32(dec.clamp);
      const [s0, s1, s2, s3] = dec.stds.map(f32) as [number, number, number, number];
      const [m0, m1, m2, m3] = dec.means.map(f32) as [number, number, number, number];
      // clamp on both sides; NaN stays NaN
      const cl = (x: number) => (x > c ? c : x < -c ? -c : x);
      return (d0, d1, d2, d3, a, ai, out, oi) =>
        centered(
          f32(f32(d0 * s0) + m0),
          f32(f32(d1 * s1) + m1),
          cl(f32(f32(d2 * s2) + m2)),
          cl(f32(f32(d3 * s3) + m3)),
          a,
          ai,
          out,
          oi,
        );
    }
    case 'torchvision': {
      const c = f32(dec.clamp);
      const [w0, w1, w2, w3] = dec.weights.map(f32) as [number, number, number, number];
      return (d0, d1, d2, d3, a, ai, out, oi) => {
        const tw = f32(d2 / w2),
          th = f32(d3 / w3);
        // clamp from above only; NaN stays NaN
        centered(f32(d0 / w0), f32(d1 / w1), tw > c ? c : tw, th > c ? c : th, a, ai, out, oi);
      };
    }
    case 'tflite': {
      const [sy, sx, sh, sw] = dec.scales.map(f32) as [number, number, number, number];
      // deltas are (ty, tx, th, tw)
      return (d0, d1, d2, d3, a, ai, out, oi) =>
        centered(f32(d1 / sx), f32(d0 / sy), f32(d3 / sw), f32(d2 / sh), a, ai, out, oi);
    }
  }
}
