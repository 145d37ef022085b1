// The pieces of verify's detection check (b): the compiled side's view of the original's head outputs (the kept
// anchors gathered), the oracle's mask, head outputs with objects planted on every level, and per-level counts.
import { gatherKeptYolo, syntheticYoloRows } from '../../postprocess/yolo';
import type { DetectorSpec } from '../../detector/spec';
import type { ModelPostprocess } from '../../postprocess/for-model';
import { levelMaps, levelOffsets, type PostprocessInput } from '../../postprocess/reference';
import { encodeAnchors } from '../../anchors/generate';
import { perLevelMaps, syntheticHeadOutputs } from '../../postprocess/synthetic-heads';

/** The oracle's mask over the original's anchors: 1 = every score forced to 0 (the anchors the compiled model removed). */
export function removedMask(total: number, keptIdx: Int32Array): Uint8Array {
  const mask = new Uint8Array(total).fill(1);
  for (const n of keptIdx) mask[n] = 0;
  return mask;
}

/**
 * The kept anchors' part of an input of the original's post-processing, in the form the compiled one reads: rows
 * `keptIdx` of concatenated outputs, or per level the kept anchors' channels (anchor-major, as PostprocessInput's
 * per-level form is) of each map.
 */
export function gatherKept(
  x: PostprocessInput,
  keptIdx: Int32Array,
  orig: ModelPostprocess,
  kept: readonly (readonly number[])[],
): PostprocessInput {
  const c = orig.numClasses;
  if (x.form === 'yolo') return gatherKeptYolo(x, orig.levels, kept, c + 4);
  if (x.form === 'concat') {
    const scores = new Float32Array(keptIdx.length * c);
    const boxes = new Float32Array(keptIdx.length * 4);
    keptIdx.forEach((n, r) => {
      scores.set(x.scores.subarray(n * c, (n + 1) * c), r * c);
      boxes.set(x.boxes.subarray(n * 4, (n + 1) * 4), r * 4);
    });
    return { form: 'concat', scores, boxes };
  }
  return {
    form: 'per-level',
    levels: levelMaps(x, 'the kept-anchor gather').map((m, l) => {
      const hw = orig.levels[l]!.h * orig.levels[l]!.w;
      const pick = (src: Float32Array, K: number) => {
        const out = new Float32Array(kept[l]!.length * K * hw);
        kept[l]!.forEach((a, j) => out.set(src.subarray(a * K * hw, (a + 1) * K * hw), j * K * hw));
        return out;
      };
      return { cls: pick(m.cls, c), reg: pick(m.reg, 4) };
    }),
  };
}

/** Objects planted per level with kept anchors, per planted input. */
export const PLANTED_PER_LEVEL = 3;
/** Planted inputs (seeds). */
export const PLANTED_SEEDS = [101, 202] as const;

/**
 * Head outputs shaped like a trained detector's with PLANTED_PER_LEVEL objects planted at kept anchors of every level
 * that keeps any (spread over the grid, cycling through the kept anchors), in the form of the original's
 * post-processing `orig`; undefined when the anchors' boxes are unknown (decoded in the graph without a recoverable table).
 */
export function plantedInput(
  orig: ModelPostprocess,
  det: DetectorSpec,
  kept: readonly (readonly number[])[],
  seed: number,
  form: PostprocessInput['form'],
): PostprocessInput | undefined {
  let anchors = orig.anchors;
  if (form === 'yolo') return plantedYolo(orig, kept, seed);
  if (orig.spec.decoder.type === 'none') {
    if (!det.anchorTable) return undefined;
    anchors = encodeAnchors(det.anchorTable.xyxy, { format: orig.spec.anchorFormat });
  }
  const at = plantedAnchors(orig, kept, seed);
  const syn = syntheticHeadOutputs(orig.spec, orig.numClasses, anchors, seed, at);
  if (form === 'concat') return { form, scores: syn.scores, boxes: syn.boxes };
  return { form: 'per-level', levels: perLevelMaps(orig.levels, orig.numClasses, syn.scores, syn.boxes) };
}

/** The anchors objects are planted at: PLANTED_PER_LEVEL per level that keeps any, spread over the grid. */
function plantedAnchors(orig: ModelPostprocess, kept: readonly (readonly number[])[], seed: number): number[] {
  const offsets = levelOffsets(orig.levels);
  const at: number[] = [];
  orig.levels.forEach((l, i) => {
    const k = kept[i]!;
    if (k.length === 0) return;
    const hw = l.h * l.w;
    for (let o = 0; o < PLANTED_PER_LEVEL; o++) {
      const p = Math.min(hw - 1, Math.floor(((o + 0.5) / PLANTED_PER_LEVEL) * hw + (seed % 7) * l.w * 0.07));
      at.push(offsets[i]! + p * l.anchorsPerLocation + k[(o + seed) % k.length]!);
    }
  });
  return at;
}

/** Planted YOLO rows: PLANTED_PER_LEVEL objects at kept anchors of every level that keeps any, in the original's form. */
function plantedYolo(orig: ModelPostprocess, kept: readonly (readonly number[])[], seed: number): PostprocessInput {
  const at = plantedAnchors(orig, kept, seed);
  const decoded = orig.spec.decoder.type === 'xywh';
  const rows = syntheticYoloRows(orig.levels, orig.numClasses - 1, { seed, objects: 0, at, decoded });
  return { form: 'yolo', levels: rows };
}
