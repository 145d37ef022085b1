// The one representation of a detector's anchors that every other module reads: per level a stride and the base
// anchors of cell (0,0) in pixels. Generators (generate.ts) produce it; grid.ts tiles it; nothing here computes.

/** One anchor as the paper's PreciseAnchorGenerator states it: scale relative to a base size, ratio = h / w. */
export interface AnchorPair {
  scale: number;
  ratio: number;
}

/** A base anchor in pixels, relative to feature cell (0,0); `pair` says which (scale, ratio) it came from, if known. */
export interface BaseAnchor {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  pair?: AnchorPair;
}

export interface AnchorLevel {
  /** Pixel distance between neighbouring cells, [w, h] (may be fractional: 240 px over 8 cells = 30). */
  stride: [number, number];
  /** Anchors of one cell in head-channel order (anchor a of a cell is channel block a). */
  base: BaseAnchor[];
}

export interface AnchorSet {
  /** Finest level first, as the head's Concat lists them. */
  levels: AnchorLevel[];
  /** Which generator and settings produced the set, e.g. 'mmdet PreciseAnchorGenerator'. */
  source: string;
}

/** A stride in pixels: one number for both axes, or [w, h]. */
export type Stride = number | [number, number];

/** Feature-map size of one level as [H, W]. */
export type FeatureMap = [number, number];
