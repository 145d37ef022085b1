// How levels, sizes and strides are written wherever a user reads them (inspect, errors, report.json, the C header,
// the search report): one notation, stated once.
//  - Levels are counted from 0, finest first: the order of `--remove`'s global anchor indices, of a JSON config's
//    "levels" list, of `inspect --json`'s levels and of the C module's per-level pointers (cls[0] is level 0).
//  - Two-dimensional sizes are height first, "HxW" with an ASCII x: feature maps (30x40), strides (30x32: 240 px
//    over 8 rows, 320 px over 10 columns), in the same order as the [H, W] arrays of the JSON outputs.

/** "level 3". */
export function levelName(index: number): string {
  return `level ${index}`;
}

/** A number as users read it: integers as is, fractions with at most `digits` decimals. */
export function fmtNum(v: number, digits = 2): string {
  return Number.isInteger(v) ? String(v) : String(+v.toFixed(digits));
}

/** "30x40": height first. */
export function fmtHW(h: number, w: number, digits = 2): string {
  return `${fmtNum(h, digits)}x${fmtNum(w, digits)}`;
}

/** A stride [h, w] in input pixels, "8x8" or "30x32" (height first, like the feature map it divides). */
export function fmtStride(stride: readonly [number, number], digits = 2): string {
  return fmtHW(stride[0], stride[1], digits);
}
