// Detector input preprocessing: RGB image -> resized (plain or letterboxed) -> normalised float32 NCHW [1, 3, H, W],
// plus the geometry that maps boxes back to the original image. Decoding lives in decode.ts, resampling in resize.ts.
import { PrunedetError } from '../errors';
import type { RgbImage } from './decode';
import { resizeBilinear } from './resize';

export interface PreprocessOptions {
  /** Network input size [width, height]. */
  size: [number, number];
  /** Per-channel mean and std in pixel units, always listed in R, G, B order (whatever channelOrder says). */
  mean: [number, number, number];
  std: [number, number, number];
  /** Plane order of the output tensor. */
  channelOrder: 'rgb' | 'bgr';
  /** Keep the aspect ratio, centre the image and pad the rest (default false: stretch to `size`). */
  letterbox?: boolean;
  /** Pad colour in pixel units, R, G, B (default: the mean, i.e. 0 after normalisation). */
  padColor?: [number, number, number];
  resize: 'bilinear';
}

/** How the image sits in the network input: net = image * scale + pad (per axis). */
export interface ResizeGeometry {
  imageWidth: number;
  imageHeight: number;
  inputWidth: number;
  inputHeight: number;
  /** Size of the resized image inside the input (= input size without letterbox). */
  resizedWidth: number;
  resizedHeight: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

/**
 * Ultra-Light-Fast-Generic-Face-Detector reference preprocessing (its Python demo: cv2.imread -> BGR2RGB ->
 * cv2.resize to 320x240 -> (x - 127) / 128 -> NCHW).
 */
export const ULTRA_LIGHT_FACE_320: PreprocessOptions = {
  size: [320, 240],
  mean: [127, 127, 127],
  std: [128, 128, 128],
  channelOrder: 'rgb',
  resize: 'bilinear',
};

/** Geometry of `preprocess` for an image of the given size (no pixels touched). */
export function resizeGeometry(
  imageWidth: number,
  imageHeight: number,
  opts: Pick<PreprocessOptions, 'size' | 'letterbox'>,
): ResizeGeometry {
  const [inputWidth, inputHeight] = opts.size;
  if (!opts.letterbox) {
    return {
      imageWidth,
      imageHeight,
      inputWidth,
      inputHeight,
      resizedWidth: inputWidth,
      resizedHeight: inputHeight,
      scaleX: inputWidth / imageWidth,
      scaleY: inputHeight / imageHeight,
      padX: 0,
      padY: 0,
    };
  }
  const scale = Math.min(inputWidth / imageWidth, inputHeight / imageHeight);
  const resizedWidth = Math.min(inputWidth, Math.max(1, Math.round(imageWidth * scale)));
  const resizedHeight = Math.min(inputHeight, Math.max(1, Math.round(imageHeight * scale)));
  return {
    imageWidth,
    imageHeight,
    inputWidth,
    inputHeight,
    resizedWidth,
    resizedHeight,
    scaleX: resizedWidth / imageWidth,
    scaleY: resizedHeight / imageHeight,
    padX: Math.floor((inputWidth - resizedWidth) / 2),
    padY: Math.floor((inputHeight - resizedHeight) / 2),
  };
}

/** Map a box [x1, y1, x2, y2] in network-input pixels back to original-image pixels (not clipped). */
export function boxToImage(
  box: readonly [number, number, number, number] | readonly number[],
  g: ResizeGeometry,
): [number, number, number, number] {
  return [
    (box[0]! - g.padX) / g.scaleX,
    (box[1]! - g.padY) / g.scaleY,
    (box[2]! - g.padX) / g.scaleX,
    (box[3]! - g.padY) / g.scaleY,
  ];
}

/**
 * Resize (cv2 INTER_LINEAR semantics, on 8-bit pixels as OpenCV does) and normalise `img` into a float32 NCHW tensor
 * [1, 3, H, W]: value = (pixel - mean) / std, computed in float64 and stored as float32 (what numpy's
 * `((img - mean) / std).astype(np.float32)` gives). Letterbox padding is the pad colour normalised the same way.
 */
export function preprocess(img: RgbImage, opts: PreprocessOptions): Float32Array {
  checkOptions(opts);
  const g = resizeGeometry(img.width, img.height, opts);
  const W = g.inputWidth,
    H = g.inputHeight;
  const canvas = new Uint8Array(W * H * 3);
  resizeBilinear(img.data, img.width, img.height, 3, g.resizedWidth, g.resizedHeight, {
    data: canvas,
    width: W,
    x: g.padX,
    y: g.padY,
  });
  const out = new Float32Array(3 * H * W);
  const plane = H * W;
  const pad = opts.padColor ?? opts.mean;
  for (let c = 0; c < 3; c++) {
    const mean = opts.mean[c]!,
      std = opts.std[c]!;
    // Lookup table: 256 possible inputs, so the division is done once per value (same float64 result).
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v - mean) / std;
    const padValue = Math.fround((pad[c]! - mean) / std);
    const p = opts.channelOrder === 'rgb' ? c : 2 - c;
    const o = p * plane;
    for (let y = 0; y < H; y++) {
      const inside = y >= g.padY && y < g.padY + g.resizedHeight;
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        out[o + i] = inside && x >= g.padX && x < g.padX + g.resizedWidth ? lut[canvas[i * 3 + c]!]! : padValue;
      }
    }
  }
  return out;
}

function checkOptions(opts: PreprocessOptions): void {
  const [w, h] = opts.size;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new PrunedetError(
      'E_USAGE',
      `preprocess size ${w}x${h} is not a positive integer size`,
      'pass the network input size as [width, height]',
    );
  }
  if (opts.std.some((s) => !Number.isFinite(s) || s === 0) || opts.mean.some((m) => !Number.isFinite(m))) {
    throw new PrunedetError(
      'E_USAGE',
      `preprocess mean ${opts.mean.join(',')} / std ${opts.std.join(',')} must be finite with std != 0`,
      'fix the normalisation constants',
    );
  }
  if (opts.resize !== 'bilinear') {
    throw new PrunedetError(
      'E_USAGE',
      `preprocess resize "${String(opts.resize)}" is not supported`,
      'use resize: "bilinear"',
    );
  }
}
