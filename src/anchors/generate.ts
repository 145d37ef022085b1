// The public face of anchor generation: tiling and encoding (grid.ts) and every generator prunedet reproduces
// (mmdetection, torchvision, Ultra-Light min-size priors). Import from here; the files behind it may move.
export {
  allGridAnchors,
  allGridAnchorsF64,
  anchorCounts,
  centeredAnchor,
  encodeAnchors,
  gridAnchors,
  keepAnchors,
  totalAnchors,
} from './grid';
export type { AnchorEncoding } from './grid';
export { mmdetAnchors, mmdetSsdAnchors, preciseAnchors, ssdSizes } from './mmdet';
export type { MmdetAnchorOptions, MmdetSsdOptions, PreciseOptions } from './mmdet';
export { roundHalfEven } from './common';
export { torchvisionAnchors, torchvisionDefaultBoxes, torchvisionRetinaSizes } from './torchvision';
export type { DefaultBoxOptions, TorchvisionAnchorOptions } from './torchvision';
export { ssdMinSizePriors } from './min-size-priors';
export type { MinSizePriorOptions, MinSizePriors } from './min-size-priors';
export type { AnchorLevel, AnchorPair, AnchorSet, BaseAnchor, FeatureMap, Stride } from './types';
