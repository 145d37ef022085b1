// The named workloads of `prunedet bench --load`: seeded head outputs with a stated share of (anchor, label) pairs above
// the preset's score threshold, from a confident detector on an easy image (light) to a cluttered scene (heavy). The
// cost of post-processing is set by that share, so every load is defined by it, on any model and preset. `photos` (the
// model's own outputs on real images) is run by bench itself; this module only makes synthetic outputs.
import { PrunedetError } from '../errors';
import { gaussian, mulberry32 } from '../prng';
import { f32 } from './float32';
import { scoreAnchor } from './reference';
import { foregroundCount, labelColumn, type PostprocessSpec } from './spec';
import {
  headScores,
  plantedRow,
  plantScene,
  probabilityRow,
  syntheticBoxes,
  syntheticHeadOutputs,
  type Scene,
  type SyntheticHeads,
} from './synthetic-heads';

export const SYNTHETIC_LOADS = ['light', 'real', 'medium', 'heavy'] as const;
export const LOADS = [...SYNTHETIC_LOADS, 'photos'] as const;
export type SyntheticLoad = (typeof SYNTHETIC_LOADS)[number];
export type LoadName = (typeof LOADS)[number];

export interface LoadDef {
  /**
   * Objects planted: anchors with IoU > 0.5 score high for the object's label (and, but for light, CONFUSABLE others).
   * A number, or a share of all (anchor, label) pairs: objects are added until their anchors' labels reach it.
   */
  objects: number | { share: number };
  /** Share of all (anchor, label) pairs above the threshold the load is calibrated to (0 = the light generator). */
  share: number;
  describe: string;
}

/** Seed of every synthetic load (the planted objects are the same in each). */
export const LOAD_SEED = 2024;

/** Labels besides its own that an object's anchors also score above the threshold (a trained detector's near misses). */
export const CONFUSABLE = 4;

export const LOAD_DEFS: Readonly<Record<SyntheticLoad, LoadDef>> = {
  light: {
    objects: 5,
    share: 0,
    describe: '5 objects, every other anchor confidently background (a confident detector on an easy image)',
  },
  real: {
    objects: { share: 0.0025 },
    share: 0.003,
    describe: `objects whose anchors score their class and ${CONFUSABLE} confusable ones (0.25% of the pairs), background elsewhere: 0.3% of the pairs above the threshold (trained detectors on photos: 0.2-0.4%)`,
  },
  medium: {
    objects: { share: 0.0025 },
    share: 0.02,
    describe:
      'the objects of real, background clutter calibrated to 2% of the pairs above the threshold (a busy scene; SSD300 B: ~8k pairs)',
  },
  heavy: {
    objects: { share: 0.0025 },
    share: 0.065,
    describe:
      'the objects of real, background clutter calibrated to 6.5% of the pairs (a cluttered scene or a low threshold; SSD300 B: ~25k)',
  },
};

export function checkLoads(names: readonly string[]): LoadName[] {
  for (const n of names) {
    if (!(LOADS as readonly string[]).includes(n))
      throw new PrunedetError('E_USAGE', `unknown load "${n}"`, `use one of ${LOADS.join(', ')}`);
  }
  return names as LoadName[];
}

/**
 * How the clutter's one parameter shapes a row of logits from standard normal draws z: softmax with a background
 * column: foreground logits z, background `p + 0.5·z` (a lower background passes more pairs); sigmoid-like scores:
 * `p + z` (a higher mean passes more); softmax without a background: `p·z` (a wider spread passes more).
 */
type Shape = 'background' | 'mean' | 'spread';

function shapeOf(scene: Scene): Shape {
  if (scene.sigmoidLike) return 'mean';
  return scene.bg >= 0 ? 'background' : 'spread';
}

const RANGE: Record<Shape, [number, number]> = { background: [-20, 40], mean: [-30, 30], spread: [0, 30] };

function clutterRow(shape: Shape, p: number, scene: Scene, z: Float32Array, i: number, out: Float32Array): void {
  const c = scene.c;
  for (let j = 0; j < c; j++) {
    const v = z[i * c + j]!;
    out[i * c + j] = shape === 'mean' ? p + v : shape === 'spread' ? p * v : j === scene.bg ? p + 0.5 * v : v;
  }
}

/**
 * Seeded head outputs of load `name` for `numClasses` score columns and `anchors` ([N, 4] in spec.anchorFormat): the
 * planted objects, and clutter on every other anchor whose parameter is found by bisection so that the expected
 * share of pairs above the threshold (the objects' pairs included) is the load's.
 */
export function loadHeadOutputs(
  name: SyntheticLoad,
  spec: PostprocessSpec,
  numClasses: number,
  anchors: Float32Array,
): SyntheticHeads {
  const def = LOAD_DEFS[name];
  if (typeof def.objects === 'number') return syntheticHeadOutputs(spec, numClasses, anchors, LOAD_SEED, def.objects);
  const rand = mulberry32(LOAD_SEED);
  const gauss = gaussian(rand);
  const k0 = foregroundCount(spec, numClasses);
  const perRow = 1 + Math.min(CONFUSABLE, k0 - 1);
  const scene = plantScene(spec, numClasses, anchors, rand, {
    rows: Math.ceil((def.objects.share * (anchors.length / 4) * k0) / perRow),
  });
  const { n, c } = scene;
  const z = new Float32Array(n * c);
  for (let i = 0; i < z.length; i++) z[i] = gauss();
  const logits = new Float32Array(n * c);
  const planted: number[] = [];
  const free: number[] = [];
  for (let i = 0; i < n; i++) (scene.matchLabel[i]! >= 0 ? planted : free).push(i);
  // the planted rows' own draws come after the clutter's, so the clutter parameter does not move them
  const confusable = Math.min(CONFUSABLE, foregroundCount(spec, c) - 1);
  const draws = new Map(planted.map((i) => [i, Array.from({ length: 2 + confusable }, () => gauss())] as const));
  const shape = shapeOf(scene);
  const k = foregroundCount(spec, c);
  const thr = f32(spec.scoreThreshold);
  const rowScores = new Float64Array(k);
  const probs = new Float32Array(n * c);
  const fill = (p: number, rows: readonly number[]) => {
    for (const i of rows) {
      clutterRow(shape, p, scene, z, i, logits);
      const d = draws.get(i);
      let q = 0;
      if (d) {
        plantedRow(spec, scene, i, logits, () => d[q++]!);
        // the confusable labels (the next ones after the object's, cyclically) score a little below the object's own
        const own = scene.matchLabel[i]!;
        const top = logits[i * c + labelColumn(spec, own)]!;
        for (let m = 1; m <= confusable; m++)
          logits[i * c + labelColumn(spec, (own + m) % k)] = top - 1.5 - Math.abs(d[q++]!);
      }
    }
  };
  const above = (rows: readonly number[]): number => {
    let count = 0;
    const src = spec.scores === 'probabilities' ? probs : logits;
    for (const i of rows) {
      if (spec.scores === 'probabilities') probabilityRow(scene.sigmoidLike, logits, i * c, c, probs);
      scoreAnchor(spec, c, (j) => src[i * c + j]!, rowScores);
      for (let j = 0; j < k; j++) if (rowScores[j]! > thr) count++;
    }
    return count;
  };
  // expected pairs above the threshold for parameter p: every planted row, and an even sample of the others scaled up
  const step = Math.max(1, Math.floor(free.length / 1000));
  const sample = free.filter((_, i) => i % step === 0);
  const estimate = (p: number) => {
    fill(p, planted);
    fill(p, sample);
    return above(planted) + (sample.length ? (above(sample) * free.length) / sample.length : 0);
  };
  const target = def.share * n * k;
  let [lo, hi] = RANGE[shape];
  const rising = shape !== 'background';
  for (let it = 0; it < 24; it++) {
    const mid = (lo + hi) / 2;
    if (estimate(mid) < target === rising) lo = mid;
    else hi = mid;
  }
  fill((lo + hi) / 2, planted);
  fill((lo + hi) / 2, free);
  return { scores: headScores(spec, scene, logits), boxes: syntheticBoxes(spec, scene, gauss), objects: scene.objects };
}
