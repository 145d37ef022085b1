// Bilinear resize of 8-bit interleaved images with OpenCV's cv2.resize(..., interpolation=INTER_LINEAR) arithmetic, so
// a detector sees the same input tensor as a Python/OpenCV reference pipeline. Not a general image-processing library.
//
// OpenCV's 8-bit INTER_LINEAR path (resizeGeneric_ with HResizeLinear + VResizeLinear<uchar, int, short>):
// - source coordinate fx = float((dx + 0.5) * scale_x - 0.5) with scale_x = 1 / (dst_w / src_w) (half-pixel centres);
//   sx = floor(fx), fx -= sx. Horizontally the border is clamped: sx < 0 -> (sx, fx) = (0, 0); sx >= src_w - 1 ->
//   (src_w - 1, 0). Vertically it is NOT: fy keeps its fraction and the two rows sy, sy + 1 are clipped into the image.
// - weights in 11-bit fixed point: a0 = round((1 - fx) * 2048), a1 = round(fx * 2048) (float32 maths, half to even).
// - horizontal pass into int rows: D = S[sx] * a0 + S[sx + 1] * a1 (scale 2048).
// - vertical pass, the same formula in OpenCV's SIMD kernel and in its scalar tail (VResizeLinear<uchar> specialised):
//     dst = (((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2
//   (two truncations, so it can be 1 below the exactly rounded value: that is what OpenCV outputs).
// Checked against OpenCV 4.6's cv2.resize on random images (downscales, upscales, odd sizes): identical bytes.
// Recent OpenCV versions special-case exact 2x upscaling; results there may differ by 1.
import { roundHalfEven } from '../anchors/common';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

interface Taps {
  ofs: Int32Array;
  w0: Int32Array;
  w1: Int32Array;
}

function taps(src: number, dst: number, clampFraction: boolean): Taps {
  const scale = 1 / (dst / src);
  const ofs = new Int32Array(dst);
  const w0 = new Int32Array(dst);
  const w1 = new Int32Array(dst);
  for (let d = 0; d < dst; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampFraction) {
      if (s < 0) ((f = 0), (s = 0));
      if (s >= src - 1) ((f = 0), (s = src - 1));
    }
    ofs[d] = s;
    w0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { ofs, w0, w1 };
}

/** Where to write the resized pixels: a region of a larger interleaved image (letterboxing). */
export interface ResizeTarget {
  data: Uint8Array;
  /** Row length of `data` in pixels. */
  width: number;
  /** Top-left corner of the region in `data`. */
  x: number;
  y: number;
}

/**
 * Resize an interleaved 8-bit image (`channels` per pixel) from sw x sh to dw x dh with cv2 INTER_LINEAR semantics.
 * Writes into `target` when given (the region dw x dh at target.x, target.y), else into a fresh buffer.
 */
export function resizeBilinear(
  src: Uint8Array,
  sw: number,
  sh: number,
  channels: number,
  dw: number,
  dh: number,
  target?: ResizeTarget,
): Uint8Array {
  if (!(sw > 0 && sh > 0 && dw > 0 && dh > 0) || src.length < sw * sh * channels) {
    throw new RangeError(`resizeBilinear: bad sizes ${sw}x${sh}x${channels} -> ${dw}x${dh} (buffer ${src.length})`);
  }
  const out = target?.data ?? new Uint8Array(dw * dh * channels);
  const outRow = (target?.width ?? dw) * channels;
  const outBase = target ? (target.y * target.width + target.x) * channels : 0;
  const xt = taps(sw, dw, true);
  const yt = taps(sh, dh, false);
  const rowLen = dw * channels;
  // Horizontal pass per source row, cached for the two rows the current output row reads.
  const rows = [new Int32Array(rowLen), new Int32Array(rowLen)];
  const rowOf = [-1, -1];
  const hresize = (sy: number, buf: Int32Array): void => {
    const base = sy * sw * channels;
    for (let dx = 0; dx < dw; dx++) {
      const s0 = base + xt.ofs[dx]! * channels;
      const a0 = xt.w0[dx]!,
        a1 = xt.w1[dx]!;
      // At the right border (sx = sw - 1) a1 is 0 and s1 would be out of range: OpenCV uses S[sx] * 2048 there.
      const s1 = a1 === 0 ? s0 : s0 + channels;
      for (let c = 0; c < channels; c++) buf[dx * channels + c] = src[s0 + c]! * a0 + src[s1 + c]! * a1;
    }
  };
  const rowFor = (sy: number): Int32Array => {
    const clipped = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
    for (let k = 0; k < 2; k++) if (rowOf[k] === clipped) return rows[k]!;
    // Evict the row the caller is not about to use (rows are visited in increasing order).
    const k = rowOf[0]! < rowOf[1]! ? 0 : 1;
    hresize(clipped, rows[k]!);
    rowOf[k] = clipped;
    return rows[k]!;
  };
  for (let dy = 0; dy < dh; dy++) {
    const sy = yt.ofs[dy]!;
    const d0 = rowFor(sy);
    const d1 = rowFor(sy + 1);
    const b0 = yt.w0[dy]!,
      b1 = yt.w1[dy]!;
    const o = outBase + dy * outRow;
    for (let x = 0; x < rowLen; x++) {
      const v = (((b0 * (d0[x]! >> 4)) >> 16) + ((b1 * (d1[x]! >> 4)) >> 16) + 2) >> 2;
      out[o + x] = v > 255 ? 255 : v; // never negative: weights and samples are >= 0
    }
  }
  return out;
}
