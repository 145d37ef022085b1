// DetectorSpec: what prunedet knows about a detector's head after analysis. Every later stage (compile passes,
// post-processing emitter, verify, bench, search) reads this one typed object instead of re-discovering the head.
import type { HeadQuantization } from '../quant/head';
import type { Node, Value } from '../ir/graph';
import { PrunedetError } from '../errors';
import { levelName } from '../format/levels';
import type { RoleColumn } from './roles';
import type { AnchorIndexed, FixedTopK } from './post-region';
import type { Region } from './region';
import type { Arr } from './layout-eval';

export type GroupRole = 'scores' | 'boxes' | 'landmarks' | 'objectness' | 'extra';

/** One kind of per-anchor value a head conv carries: channels [offset, offset+size) of each anchor's block. */
export interface HeadGroup {
  role: GroupRole;
  offset: number;
  size: number;
  /** Graph outputs these values reach. */
  outputs: string[];
}

export interface HeadConv {
  /** The conv whose output channels are per-anchor values (the last conv of the head branch). */
  node: Node;
  channels: number;
  /** Values per anchor (K): channels = anchorsPerLocation * K. */
  valuesPerAnchor: number;
  /** anchor-major: channel c = a*K + k (every exporter seen so far); value-major: c = k*A + a. */
  layout: 'anchor-major' | 'value-major';
  groups: HeadGroup[];
  /**
   * Nodes before `node` that carry the same anchor channels and must be sliced with it: for a depthwise output conv,
   * the conv feeding it and any per-channel ops (BatchNormalization, activations) between them. Last = nearest.
   */
  feeders: Node[];
}

export interface LevelSpec {
  index: number;
  /** [H, W] of the head's feature map (as the model computes it: floor or ceil rounding is already in the shapes). */
  featureMap: [number, number];
  /** Image size / feature map size, [h, w] like featureMap (may be fractional: 240 px over 8 rows = 30). */
  stride: [number, number];
  anchorsPerLocation: number;
  /** Offset of this level's first anchor on the concatenated anchor axis. */
  anchorOffset: number;
  boxes: number;
  convs: HeadConv[];
  /** Convs of this level's head branches (towers + feeders + output convs), for the MAC count. */
  headNodes: Node[];
  headMacs: number;
  /** The feature map the head reads. */
  feature: Value;
}

export interface OutputBinding {
  /** A graph output, or (in a full export whose outputs are detections) the head tensor the in-graph NMS reads. */
  name: string;
  /** rows: [..., anchors, K] (anchor axis somewhere before the last); map: a raw per-level conv output. */
  kind: 'rows' | 'map';
  /** The first column's role (boxes for an output of box + landmark values). */
  role: GroupRole;
  /** What the K values of a row hold, e.g. boxes 0..3 and landmarks 4..13. */
  columns: RoleColumn[];
  /** How the role was decided (activation, decoding, K, name, the other outputs), for inspect. */
  evidence: string[];
  /** Values per row (K of this output). */
  valuesPerRow: number;
  /**
   * For rows: the order of a level's anchors on the row axis, traced through the layout ops: location-major (y, x, a),
   * as SSD/RetinaNet exports write them, or anchor-major (a, y, x), as YOLO exports do (Reshape [B, A, K, H, W] ->
   * Transpose [B, A, H, W, K]). The anchor index everywhere else in prunedet stays (level, y, x, a).
   */
  rowOrder?: 'location-major' | 'anchor-major';
  /** For maps: the level. */
  level?: number;
  /** Levels whose anchors this output carries. */
  levels: number[];
  /** False for the head tensors of a full export (read inside the graph, not a graph output). */
  graphOutput: boolean;
  /** Post-processing ops on the path from the head to this output. */
  ops: string[];
}

export interface AnchorTable {
  /** [boxes, 4] x1,y1,x2,y2 in the output's units, in anchor order. */
  xyxy: Float32Array;
  /** true when coordinates are relative to the image size (<= ~1). */
  normalized: boolean;
  /** Graph constants holding the table (possibly split into several, some read twice). */
  constants: string[];
  /** Graph output the table was recovered from (decoding zero deltas). */
  output: string;
}

/** In-graph post-processing after the head tensors (full exports): what it does and what in it indexes anchors. */
export interface PostprocessInGraph {
  /** Op types of the post-processing (NonZero, TopK, NonMaxSuppression, ...). */
  ops: string[];
  /** Static tensors (anchor tables) the post-processing reads at anchor positions: sliced with the head. */
  anchorIndexed: AnchorIndexed[];
  /** Top-k over head tensors with a fixed k. */
  topK: FixedTopK[];
}

export interface DetectorSpec {
  /** The image input: N,C,H,W, or C,H,W for full exports that batch and preprocess in the graph. */
  input: { name: string; shape: number[] };
  /** [H, W] of the network input (after any in-graph resize and padding): what strides divide. */
  imageSize: [number, number];
  levels: LevelSpec[];
  /** Score columns per anchor (with background column when softmax). */
  classes: number;
  scoreActivation: 'softmax' | 'sigmoid' | 'none';
  postprocessInGraph: string[];
  anchorTable?: AnchorTable;
  /**
   * YOLO heads decoded in the graph: the anchor sizes [w, h] in pixels per level, per anchor, read from the graph's
   * anchor_grid constants (`source` names them). Absent for raw exports (the preset's standard anchors apply).
   */
  yoloAnchors?: { sizes: [number, number][][]; source: string };
  outputs: OutputBinding[];
  boxes: number;
  headMacs: number;
  /** How the head was found: 'analysis' or 'head-spec'. */
  source: 'analysis' | 'head-spec';
  /** Whether scores and boxes were told apart; when not, why (naming the outputs), for post-processing to report. */
  roles: { complete: boolean; missing?: string };
  /** Present when the graph's outputs come out of in-graph top-k / NMS rather than per-anchor tensors. */
  postprocess?: PostprocessInGraph;
  /**
   * The head region analysis found (head convs to outputs) and its provenance trace (every value's elements as
   * head-conv elements), kept so that no later step of the same model state finds or traces them again. Not in JSON.
   */
  head: { region: Region; trace: ReadonlyMap<Value, Arr> };
  /** Quantized head convs (QDQ / QLinearConv) and head outputs dequantized from int8/uint8 tensors; absent: float. */
  quantization?: HeadQuantization;
}

/**
 * Post-processing, the oracle and C emission need to know which outputs hold scores and boxes; pruning does not.
 * Throws, naming the outputs in question and the --head-spec that settles them, when analysis could not tell.
 */
export function requireRoles(spec: DetectorSpec, purpose: string): void {
  if (spec.roles.complete) return;
  const names = spec.outputs.map((o) => o.name);
  throw new PrunedetError(
    'E_HEAD_AMBIGUOUS',
    `${purpose} needs to know which outputs hold scores and boxes: ${spec.roles.missing}`,
    `pass --head-spec with the roles of the outputs, e.g. {"outputs": {${names
      .slice(0, 3)
      .map((n, i) => `"${n}": "${['scores', 'boxes', 'landmarks'][i]}"`)
      .join(', ')}}}`,
  );
}

/** The JSON view `inspect --json` prints and scripts rely on. */
export function detectorJson(spec: DetectorSpec): Record<string, unknown> {
  return {
    levels: spec.levels.map((l) => ({
      level: l.index,
      name: levelName(l.index),
      featureMap: l.featureMap,
      stride: l.stride.map((s) => Math.round(s * 1000) / 1000),
      anchorsPerLocation: l.anchorsPerLocation,
      boxes: l.boxes,
      headMacs: l.headMacs,
      convs: l.convs.map((c) => ({
        node: c.node.name || c.node.output().name,
        channels: c.channels,
        valuesPerAnchor: c.valuesPerAnchor,
        layout: c.layout,
        groups: c.groups.map((g) => ({ role: g.role, offset: g.offset, size: g.size })),
        feeders: c.feeders.map((n) => n.name || n.output().name),
      })),
    })),
    boxes: spec.boxes,
    headMacs: spec.headMacs,
    classes: spec.classes,
    scoreActivation: spec.scoreActivation,
    postprocessInGraph: spec.postprocessInGraph,
    anchorTable: spec.anchorTable
      ? {
          constants: spec.anchorTable.constants,
          normalized: spec.anchorTable.normalized,
          output: spec.anchorTable.output,
          boxes: spec.anchorTable.xyxy.length / 4,
        }
      : null,
    ...(spec.yoloAnchors ? { yoloAnchors: spec.yoloAnchors } : {}),
    outputs: spec.outputs.map((o) => ({
      name: o.name,
      kind: o.kind,
      role: o.role,
      columns: o.columns,
      evidence: o.evidence,
      valuesPerRow: o.valuesPerRow,
      ...(o.level !== undefined ? { level: o.level } : {}),
      levels: o.levels,
      graphOutput: o.graphOutput,
      ops: o.ops,
    })),
    roles: spec.roles,
    postprocess: spec.postprocess
      ? {
          ops: spec.postprocess.ops,
          anchorIndexed: spec.postprocess.anchorIndexed.map((a) => ({
            value: a.value.name,
            axis: a.axis,
            readBy: a.node.name || a.node.opType,
          })),
        }
      : null,
    input: spec.input,
    imageSize: spec.imageSize,
    source: spec.source,
    quantization: spec.quantization ?? null,
  };
}
