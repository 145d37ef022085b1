// Drawing detections onto an RGB image: box outlines in a colour per label, clipped to the image. No text (no font);
// detect's JSON carries labels and scores.
import type { RgbImage } from './decode';

/** Distinct, saturated colours, cycled by label. */
export const LABEL_COLOURS: readonly [number, number, number][] = [
  [255, 56, 56],
  [56, 200, 255],
  [72, 249, 10],
  [255, 178, 29],
  [207, 56, 255],
  [0, 212, 187],
  [255, 112, 31],
  [146, 204, 23],
];

/** Fill the pixels of [x0, x1) x [y0, y1) (clipped) with `c`. */
function fill(img: RgbImage, x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
  const xa = Math.max(0, x0),
    xb = Math.min(img.width, x1);
  const ya = Math.max(0, y0),
    yb = Math.min(img.height, y1);
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const o = (y * img.width + x) * 3;
      img.data[o] = c[0]!;
      img.data[o + 1] = c[1]!;
      img.data[o + 2] = c[2]!;
    }
  }
}

/** Outline box [x1, y1, x2, y2] (image pixels, any order, possibly outside the image) `thickness` pixels wide, in place. */
export function drawBox(img: RgbImage, box: readonly number[], colour: readonly number[], thickness = 2): void {
  if (!box.slice(0, 4).every(Number.isFinite)) return;
  const x1 = Math.round(Math.min(box[0]!, box[2]!)),
    x2 = Math.round(Math.max(box[0]!, box[2]!));
  const y1 = Math.round(Math.min(box[1]!, box[3]!)),
    y2 = Math.round(Math.max(box[1]!, box[3]!));
  const t = Math.max(1, Math.round(thickness));
  fill(img, x1, y1, x2 + 1, y1 + t, colour);
  fill(img, x1, y2 + 1 - t, x2 + 1, y2 + 1, colour);
  fill(img, x1, y1, x1 + t, y2 + 1, colour);
  fill(img, x2 + 1 - t, y1, x2 + 1, y2 + 1, colour);
}
