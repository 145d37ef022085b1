// Fitting a post-processing preset to a concrete (possibly pruned) model: what the graph already does (activation,
// decoding) switches the matching stages off, the anchor table comes from the graph, a baseline generator or the
// preset's own generator, and the model's outputs are mapped to the reference's input forms.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PrunedetError } from '../errors';
import { requireRoles, type DetectorSpec, type OutputBinding } from '../detector/spec';
import { allGridAnchors, encodeAnchors, keepAnchors, ssdMinSizePriors } from '../anchors/generate';
import type { AnchorSet, FeatureMap } from '../anchors/types';
import { firstBitDifference, runtimeAnchorsOf, type RuntimeAnchors } from '../anchors/runtime';
import { baselineFromMmdetConfig } from '../anchors/config/index';
import { parsePostprocess, YOLO_PRESETS } from './presets';
import {
  splitYoloRows,
  yoloAnchorRows,
  yoloAnchorSizesFor,
  yoloDecodedInGraph,
  yoloInput,
  yoloRowOutputs,
} from './yolo';
import type { PostprocessSpec } from './spec';
import { levelOffsets, type LevelShape, type PostprocessInput } from './reference';
import { levelName } from '../format/levels';

export interface ModelPostprocess {
  /** The preset adapted to the model: decoder 'none' when boxes are decoded in the graph, 'probabilities' when activated. */
  spec: PostprocessSpec;
  /** [anchors, 4] in spec.anchorFormat (zeros when the decoder is 'none'). */
  anchors: Float32Array;
  /** Every level of the baseline, with the anchors per location the model keeps (0 for an emptied level). */
  levels: LevelShape[];
  numClasses: number;
  /** Where the anchors came from, for reports. */
  anchorSource: string;
  /** YOLO rows decoded with a preset's standard anchor sizes, because the graph has no anchor_grid to read them from. */
  standardYoloAnchors?: true;
  /** [h, w] stride of every level as the anchor generator states it (8, not 300 / 38); absent without a generator. */
  strides?: [number, number][];
  /**
   * The generator's per-level parameters (kept base anchors, strides, maps, encoding) for --anchors runtime: when a
   * generator gave the table, or when one reproduces the graph's embedded table bit for bit; else undefined.
   */
  runtime?: () => RuntimeAnchors | undefined;
}

/** Baseline anchor generators shipped with prunedet, by preset (used when the graph embeds no table). */
const PRESET_BASELINES: Record<string, string> = {
  'mmdet-ssd300': 'configs/ssd300/baseline.py',
  'mmdet-retinanet': 'configs/retinanet/baseline.py',
};

export function shippedConfig(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}

/** Ultra-Light's min-size priors for a model of this input size and these levels. */
function ultrafacePriors(det: DetectorSpec, featureMaps: FeatureMap[]): AnchorSet {
  const minBoxes = [
    [10, 16, 24],
    [32, 48],
    [64, 96],
    [128, 192, 256],
  ];
  if (featureMaps.length !== 4) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `the ultraface priors have 4 levels, the model has ${featureMaps.length}`,
      'give the anchors with --baseline-config',
    );
  }
  const [H, W] = det.imageSize;
  return ssdMinSizePriors({ imageSize: [W, H], strides: [8, 16, 32, 64], minBoxes, featureMaps }).set;
}

export interface AnchorOptions {
  /** The baseline's anchor set (e.g. from --baseline-config), unpruned. */
  baseline?: AnchorSet;
  /** Kept baseline anchors per level (for a pruned model whose own graph embeds no table). */
  kept?: number[][];
  /** Feature maps of every baseline level ([H, W]), when the model lost some levels to pruning. */
  featureMaps?: FeatureMap[];
  /** The input is the raw head (compile --cut-head): the graph's activation and decoding are not applied. */
  rawHead?: boolean;
}

/**
 * The post-processing of `det` under preset text `text` (e.g. `mmdet-ssd300,score_thr=0.05`). The graph's own table
 * wins; otherwise the given baseline, the preset's shipped baseline, or the preset's generator, pruned to `kept`.
 */
export function postprocessForModel(det: DetectorSpec, text: string, o: AnchorOptions = {}): ModelPostprocess {
  requireRoles(det, 'post-processing');
  const preset = parsePostprocess(text);
  const presetName = text.split(',')[0]!.trim();
  const spec: PostprocessSpec = { ...preset };
  const yoloRows = yoloRowOutputs(det);
  if (yoloRows || spec.objectness) return yoloForModel(det, spec, presetName, yoloRows, o);
  const activated = det.scoreActivation !== 'none' && !o.rawHead;
  if (activated) spec.scores = 'probabilities';
  else if (spec.scores === 'probabilities')
    spec.scores = det.scoreActivation === 'sigmoid' || det.classes === 1 ? 'sigmoid' : 'softmax';
  const { featureMaps, kept, levels, boxes } = keptLevels(det, o);
  // boxes decoded in the head tensors the reference reads (a full export decodes after its top-k: not these)
  const decoded = det.outputs.some((out) => out.columns.some((c) => c.role === 'boxes') && out.ops.includes('Exp'));
  if (decoded && !o.rawHead) {
    spec.decoder = { type: 'none' };
    return {
      spec,
      anchors: new Float32Array(boxes * 4),
      levels,
      numClasses: det.classes,
      anchorSource: 'decoded in the graph',
    };
  }
  if (det.anchorTable) {
    // the graph's own table (already pruned with the model), in its own units
    const anchors = encodeAnchors(det.anchorTable.xyxy, { format: spec.anchorFormat });
    // runtime anchors only from a generator that gives this very table, bit for bit
    const runtime = (): RuntimeAnchors | undefined => {
      let gen: GeneratedAnchors;
      try {
        gen = generatedAnchors(det, presetName, featureMaps, kept, o.baseline);
      } catch {
        return undefined;
      }
      if (gen.normalize || gen.clamp) return undefined;
      const same = encodeAnchors(gen.xyxy, { format: spec.anchorFormat });
      if (firstBitDifference(same, anchors) >= 0) return undefined;
      return runtimeAnchorsOf(gen.kept, featureMaps, { format: spec.anchorFormat });
    };
    return {
      spec,
      anchors,
      levels,
      numClasses: det.classes,
      anchorSource: `the graph's constants ${det.anchorTable.constants.join(', ')}`,
      runtime,
    };
  }
  const gen = generatedAnchors(det, presetName, featureMaps, kept, o.baseline);
  const encoding = {
    format: spec.anchorFormat,
    ...(gen.normalize ? { normalizeBy: gen.normalize } : {}),
    clamp: gen.clamp,
  };
  const anchors = encodeAnchors(gen.xyxy, encoding);
  const runtime = () => runtimeAnchorsOf(gen.kept, featureMaps, encoding);
  return { spec, anchors, levels, numClasses: det.classes, anchorSource: gen.source, strides: gen.strides, runtime };
}

/** Every baseline level (feature map, anchors per location the model keeps) and the boxes they give: the model's. */
function keptLevels(
  det: DetectorSpec,
  o: AnchorOptions,
): { featureMaps: FeatureMap[]; kept: number[][]; levels: LevelShape[]; boxes: number } {
  const featureMaps = o.featureMaps ?? det.levels.map((l) => l.featureMap);
  const kept = o.kept ?? det.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i));
  const levels: LevelShape[] = featureMaps.map(([h, w], i) => ({ h, w, anchorsPerLocation: kept[i]!.length }));
  const boxes = levelOffsets(levels).at(-1)!;
  if (boxes !== det.boxes) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `the kept anchors give ${boxes} boxes but the model has ${det.boxes}`,
      'pass the config the model was compiled with',
    );
  }
  return { featureMaps, kept, levels, boxes };
}

/** The post-processing of a YOLO head (rows box 4 + objectness 1 + classes, anchors (a, y, x)) under a YOLO preset. */
function yoloForModel(
  det: DetectorSpec,
  spec: PostprocessSpec,
  presetName: string,
  rows: OutputBinding[] | undefined,
  o: AnchorOptions,
): ModelPostprocess {
  if (!rows || !spec.objectness) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      rows
        ? `the model's outputs are YOLO rows (box 4 + objectness 1 + classes, anchors (a, y, x)), and preset ${presetName} does not read them`
        : `preset ${presetName} reads YOLO rows (box 4 + objectness 1 + classes), and the model's outputs are not`,
      rows ? `use --postprocess ${YOLO_PRESETS.join(', ')}` : 'use a preset for this head (inspect shows its outputs)',
    );
  }
  const [H, W] = det.imageSize;
  const k = keptLevels(det, o);
  const { kept, boxes } = k;
  const levels = k.levels.map((l): LevelShape => ({ ...l, pixelStride: [H / l.h, W / l.w] }));
  const strides = levels.map((l) => l.pixelStride!);
  const numClasses = det.classes + 1;
  if (det.scoreActivation !== 'none' && !o.rawHead) spec.scores = 'probabilities';
  if (yoloDecodedInGraph(rows)) {
    spec.decoder = { type: 'xywh' };
    return {
      spec,
      anchors: new Float32Array(boxes * 4),
      levels,
      numClasses,
      anchorSource: 'decoded in the graph',
      strides,
    };
  }
  const { sizes, source, standard } = yoloAnchorSizesFor(det, presetName, kept);
  return {
    spec,
    anchors: yoloAnchorRows(levels, sizes),
    levels,
    numClasses,
    anchorSource: source,
    strides,
    ...(standard ? { standardYoloAnchors: true as const } : {}),
  };
}

export interface GeneratedAnchors {
  /** xyxy pixels, kept anchors of every level in head order. */
  xyxy: Float32Array;
  /** Divide by this [W, H] to get the model's (normalized) units; undefined = pixels. */
  normalize?: [number, number];
  /** Clamp the centre-size numbers to [0, 1] (SSD priors). */
  clamp: boolean;
  source: string;
  /** [h, w] stride of every level, as the generator uses it. */
  strides: [number, number][];
  /** The generator's set restricted to the kept anchors (what the table tiles). */
  kept: AnchorSet;
}

/**
 * The anchors a generator gives this model: `baseline` (e.g. --baseline-config), else the preset's shipped baseline
 * config, else the preset's own generator (ultraface's min-size priors).
 */
export function generatedAnchors(
  det: DetectorSpec,
  presetName: string,
  featureMaps: FeatureMap[],
  kept: number[][],
  baseline?: AnchorSet,
): GeneratedAnchors {
  const [H, W] = det.imageSize;
  let set: AnchorSet | undefined = baseline;
  let source = set?.source ?? '';
  let normalize: [number, number] | undefined;
  let clamp = false;
  if (!set && PRESET_BASELINES[presetName] && existsSync(shippedConfig(PRESET_BASELINES[presetName]!))) {
    set = baselineFromMmdetConfig(shippedConfig(PRESET_BASELINES[presetName]!)).set;
    source = PRESET_BASELINES[presetName]!;
  }
  if (!set && presetName === 'ultraface') {
    set = ultrafacePriors(det, featureMaps);
    source = 'Ultra-Light min-size priors';
    normalize = [W, H];
    clamp = true;
  }
  if (!set) {
    throw new PrunedetError(
      'E_POSTPROCESS',
      `the model outputs raw box deltas and embeds no anchor table, and preset ${presetName} has no anchor generator`,
      "pass --baseline-config with the model's anchor generator",
    );
  }
  if (set.levels.length !== featureMaps.length || set.levels.some((l, i) => l.base.length < kept[i]!.length)) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `the anchors of ${source} (${set.levels.map((l) => l.base.length).join(',')} per level) do not fit the model (${kept.map((k) => k.length).join(',')})`,
      'give the anchor generator the model was trained with',
    );
  }
  const strides = set.levels.map((l): [number, number] => [l.stride[1], l.stride[0]]);
  const keptSet = keepAnchors(set, kept);
  return {
    xyxy: allGridAnchors(keptSet, featureMaps),
    kept: keptSet,
    ...(normalize ? { normalize } : {}),
    clamp,
    source,
    strides,
  };
}

/**
 * Largest difference between the graph's embedded anchor table and a generator's anchors, in the table's units
 * (the generator's anchors go through the same centre-size encoding and clamping the exporter applied).
 */
export function anchorTableDifference(det: DetectorSpec, gen: GeneratedAnchors): number {
  const table = det.anchorTable;
  if (!table)
    throw new PrunedetError(
      'E_POSTPROCESS',
      'the model embeds no anchor table to compare',
      'compare a model with in-graph decoding',
    );
  const cs = encodeAnchors(gen.xyxy, {
    format: 'cxcywh',
    ...(gen.normalize ? { normalizeBy: gen.normalize } : {}),
    clamp: gen.clamp,
  });
  if (cs.length !== table.xyxy.length) return Infinity;
  let max = 0;
  for (let i = 0; i < cs.length; i += 4) {
    const [cx, cy, w, h] = [cs[i]!, cs[i + 1]!, cs[i + 2]!, cs[i + 3]!];
    const g = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
    for (let k = 0; k < 4; k++) max = Math.max(max, Math.abs(g[k]! - table.xyxy[i + k]!));
  }
  return max;
}

/** Graph outputs of one run, by name ([batch, ...] float32, batch 0 is used). */
export type RunOutputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

/** The scores and boxes rows outputs in anchor order (one per level for per-level exports), when the model has both. */
function rowOutputs(det: DetectorSpec): { scores: OutputBinding[]; boxes: OutputBinding[] } | undefined {
  const rows = det.outputs.filter((o) => o.kind === 'rows');
  const byLevel = (a: OutputBinding, b: OutputBinding) => (a.levels[0] ?? 0) - (b.levels[0] ?? 0);
  const scores = rows.filter((o) => o.role === 'scores').sort(byLevel);
  const boxes = rows.filter((o) => o.columns.some((c) => c.role === 'boxes')).sort(byLevel);
  const covered = (os: OutputBinding[]) => os.flatMap((o) => o.levels).join() === det.levels.map((l) => l.index).join();
  return scores.length && boxes.length && covered(scores) && covered(boxes) ? { scores, boxes } : undefined;
}

/** The form referenceInput produces for this detector. */
export function referenceInputForm(det: DetectorSpec): PostprocessInput['form'] {
  return yoloRowOutputs(det) ? 'yolo' : rowOutputs(det) ? 'concat' : 'per-level';
}

/** Rows of image 0 of `outs` in anchor order, columns [offset, offset + size) of each (no copy for one whole output). */
function gatherRows(
  det: DetectorSpec,
  outs: OutputBinding[],
  outputs: RunOutputs,
  column: { offset: number; size: number } | undefined,
): Float32Array {
  const parts = outs.map((o) => {
    const got = outputs[o.name];
    if (!got) {
      throw new PrunedetError(
        'E_POSTPROCESS',
        `the head tensor ${o.name} is ${o.graphOutput ? 'missing from the run' : 'inside the graph (its in-graph post-processing reads it), not an output'}`,
        'compile with --cut-head to end the model at the head, then post-process with --emit c',
      );
    }
    const rows = o.levels.reduce((s, l) => s + det.levels[l]!.boxes, 0);
    return { data: got.data.subarray(0, rows * o.valuesPerRow), rows, k: o.valuesPerRow };
  });
  const c = column ?? { offset: 0, size: parts[0]!.k };
  if (parts.length === 1 && c.offset === 0 && c.size === parts[0]!.k) return parts[0]!.data;
  const out = new Float32Array(parts.reduce((s, p) => s + p.rows, 0) * c.size);
  let o = 0;
  for (const p of parts) {
    for (let r = 0; r < p.rows; r++, o += c.size)
      out.set(p.data.subarray(r * p.k + c.offset, r * p.k + c.offset + c.size), o);
  }
  return out;
}

/**
 * The reference's input for image 0 of a run: the scores/boxes rows (concatenated over per-level outputs, boxes taken
 * from the columns that hold them), or the per-level maps. `levels` (the post-processing's levels, which keep emptied
 * levels with 0 anchors) aligns maps with the model's remaining levels.
 */
export function referenceInput(
  det: DetectorSpec,
  outputs: RunOutputs,
  levels?: readonly LevelShape[],
): PostprocessInput {
  requireRoles(det, 'post-processing');
  const yolo = yoloRowOutputs(det);
  if (yolo) {
    const all =
      levels ??
      det.levels.map((l) => ({ h: l.featureMap[0], w: l.featureMap[1], anchorsPerLocation: l.anchorsPerLocation }));
    return yoloInput(det, yolo, outputs, all, det.classes + 5);
  }
  const rows = rowOutputs(det);
  if (rows) {
    const box = rows.boxes[0]!.columns.find((c) => c.role === 'boxes')!;
    return {
      form: 'concat',
      scores: gatherRows(det, rows.scores, outputs, undefined),
      boxes: gatherRows(det, rows.boxes, outputs, box),
    };
  }
  const maps = det.outputs.filter((o) => o.kind === 'map');
  let next = 0;
  const all =
    levels ??
    det.levels.map((l) => ({ h: l.featureMap[0], w: l.featureMap[1], anchorsPerLocation: l.anchorsPerLocation }));
  return {
    form: 'per-level',
    levels: all.map((l) => {
      if (l.anchorsPerLocation === 0) return { cls: new Float32Array(0), reg: new Float32Array(0) };
      const i = next++;
      const cls = maps.find((o) => o.level === i && o.role === 'scores');
      const reg = maps.find((o) => o.level === i && o.role === 'boxes' && o.valuesPerRow === 4);
      if (!cls || !reg)
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `${levelName(i)} has no separate score and box maps among the outputs`,
          'export the head outputs as scores and boxes',
        );
      return { cls: outputs[cls.name]!.data, reg: outputs[reg.name]!.data };
    }),
  };
}

/**
 * The floats `x` as a module taking `input` reads them. Only for a model whose outputs are in the other form than the
 * module's (concatenated rows next to per-level maps): the C and the reference then see the same floats.
 */
export function asModuleReads(
  x: Float32Array,
  input: 'concat' | 'per-level' | 'yolo',
  pp: ModelPostprocess,
): PostprocessInput {
  if (input === 'yolo') return splitYoloRows(x, pp.levels, pp.numClasses + 4);
  const n = levelOffsets(pp.levels).at(-1)!;
  if (input === 'concat')
    return { form: 'concat', scores: x.subarray(0, n * pp.numClasses), boxes: x.subarray(n * pp.numClasses) };
  let off = 0;
  const take = (len: number) => x.subarray(off, (off += len));
  const cls = pp.levels.map((l) => take(l.h * l.w * l.anchorsPerLocation * pp.numClasses));
  const reg = pp.levels.map((l) => take(l.h * l.w * l.anchorsPerLocation * 4));
  return { form: 'per-level', levels: cls.map((c, i) => ({ cls: c, reg: reg[i]! })) };
}
