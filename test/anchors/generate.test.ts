// Anchor generation: counts, hand-computed base anchors, head-channel order, encodings, and the Ultra-Light priors
// checked against the constants embedded in the shared model (skipped when ../shared is absent).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  allGridAnchors,
  anchorCounts,
  encodeAnchors,
  gridAnchors,
  keepAnchors,
  mmdetAnchors,
  mmdetSsdAnchors,
  preciseAnchors,
  roundHalfEven,
  ssdMinSizePriors,
  ssdSizes,
  torchvisionAnchors,
  torchvisionDefaultBoxes,
  torchvisionRetinaSizes,
  totalAnchors,
  type AnchorPair,
  type FeatureMap,
} from '../../src/anchors/generate';
import { loadModel } from '../../src/onnx/load';

const SSD_MAPS: FeatureMap[] = [
  [38, 38],
  [19, 19],
  [10, 10],
  [5, 5],
  [3, 3],
  [1, 1],
];
const RETINA_MAPS: FeatureMap[] = [
  [100, 150],
  [50, 75],
  [25, 38],
  [13, 19],
  [7, 10],
];
const P = (scale: number, ratio: number): AnchorPair => ({ scale, ratio });

/** The paper's SSD300 baseline, typed in from design.md (not read from configs/, so the two can disagree). */
function ssdPrecise() {
  const six = (s: number, big: number) => [P(s, 1), P(s, 2), P(s, 3), P(s, 0.5), P(s, 1 / 3), P(big, 1)];
  const four = (s: number, big: number) => [P(s, 1), P(s, 2), P(s, 0.5), P(big, 1)];
  return preciseAnchors({
    strides: [8, 16, 32, 64, 100, 300],
    baseSize: 300,
    centers: [
      [4, 4],
      [8, 8],
      [16, 16],
      [32, 32],
      [50, 50],
      [150, 150],
    ],
    scaleRatios: [
      four(0.07, 0.1024),
      six(0.15, 0.224),
      six(0.33, 0.4102),
      six(0.51, 0.5932),
      four(0.69, 0.7747),
      four(0.87, 0.9557),
    ],
  });
}

function box(a: { x1: number; y1: number; x2: number; y2: number }): number[] {
  return [a.x1, a.y1, a.x2, a.y2];
}

describe('PreciseAnchorGenerator', () => {
  it('SSD300 baseline: 4,6,6,6,4,4 anchors and 8732 grid anchors', () => {
    const set = ssdPrecise();
    expect(anchorCounts(set)).toEqual([4, 6, 6, 6, 4, 4]);
    expect(totalAnchors(set, SSD_MAPS)).toBe(8732);
    expect(allGridAnchors(set, SSD_MAPS).length).toBe(8732 * 4);
  });

  it('base anchors follow w = base*s/sqrt(r), h = base*s*sqrt(r) around the level centre', () => {
    const set = ssdPrecise();
    // (0.07, 2) on level 1: w = 21/sqrt(2) = 14.8492, h = 21*sqrt(2) = 29.6985, centre (4, 4).
    const a = set.levels[0]!.base[1]!;
    expect(box(a)[0]).toBeCloseTo(-3.424621, 5);
    expect(box(a)[1]).toBeCloseTo(-10.849242, 5);
    expect(box(a)[2]).toBeCloseTo(11.424621, 5);
    expect(box(a)[3]).toBeCloseTo(18.849242, 5);
    expect(a.pair).toEqual({ scale: 0.07, ratio: 2 });
    // (0.1024, 1): a 30.72 px square around (4, 4).
    box(set.levels[0]!.base[3]!).forEach((v, i) => expect(v).toBeCloseTo([-11.36, -11.36, 19.36, 19.36][i]!, 9));
    // (0.9557, 1) on level 6 around (150, 150): 286.71 px.
    box(set.levels[5]!.base[3]!).forEach((v, i) => expect(v).toBeCloseTo([6.645, 6.645, 293.355, 293.355][i]!, 9));
  });

  it('without centers the centre is centerOffset * base size', () => {
    const set = preciseAnchors({ strides: [16], baseSize: 100, centerOffset: 0.5, scaleRatios: [[P(0.2, 1)]] });
    expect(box(set.levels[0]!.base[0]!)).toEqual([40, 40, 60, 60]);
    const zero = preciseAnchors({ strides: [16], baseSize: 100, scaleRatios: [[P(0.2, 4)]] });
    expect(box(zero.levels[0]!.base[0]!)).toEqual([-5, -20, 5, 20]);
  });

  it('an empty level has no anchors and no grid anchors', () => {
    const set = preciseAnchors({ strides: [8, 16], baseSize: 300, scaleRatios: [[], [P(0.1, 1)]] });
    expect(
      totalAnchors(set, [
        [4, 4],
        [2, 2],
      ]),
    ).toBe(4);
  });

  it('rejects centers together with a non-zero center_offset, as mmdetection does', () => {
    expect(() =>
      preciseAnchors({ strides: [8], baseSize: 300, scaleRatios: [[P(0.1, 1)]], centers: [[4, 4]], centerOffset: 0.5 }),
    ).toThrow(/both centers and a non-zero center_offset/);
  });
});

describe('grid order', () => {
  it('index = (y*W + x)*A + a, shifted by (x*stride_w, y*stride_h)', () => {
    const level = {
      stride: [10, 20] as [number, number],
      base: [
        { x1: -1, y1: -2, x2: 1, y2: 2 },
        { x1: -3, y1: -3, x2: 3, y2: 3 },
      ],
    };
    const g = gridAnchors(level, 3, 4);
    expect(g.length).toBe(3 * 4 * 2 * 4);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 4; x++) {
        for (let a = 0; a < 2; a++) {
          const i = ((y * 4 + x) * 2 + a) * 4;
          const b = level.base[a]!;
          expect(Array.from(g.slice(i, i + 4))).toEqual([b.x1 + 10 * x, b.y1 + 20 * y, b.x2 + 10 * x, b.y2 + 20 * y]);
        }
      }
    }
  });

  it('levels are concatenated finest first', () => {
    const set = ssdPrecise();
    const all = allGridAnchors(set, SSD_MAPS);
    const l1 = gridAnchors(set.levels[0]!, 38, 38);
    const l2 = gridAnchors(set.levels[1]!, 19, 19);
    expect(all.slice(0, l1.length)).toEqual(l1);
    expect(all.slice(l1.length, l1.length + l2.length)).toEqual(l2);
    // level 1, y = 1, x = 2, anchor 3 = (0.1024, 1) shifted by (16, 8)
    const i = ((1 * 38 + 2) * 4 + 3) * 4;
    expect(all[i]).toBeCloseTo(-11.36 + 16, 4);
    expect(all[i + 1]).toBeCloseTo(-11.36 + 8, 4);
  });

  it('keepAnchors keeps the baseline order of the kept indices', () => {
    const set = ssdPrecise();
    const kept = keepAnchors(set, [[3, 0], [], [5], [], [], [1]]);
    expect(anchorCounts(kept)).toEqual([2, 0, 1, 0, 0, 1]);
    expect(kept.levels[0]!.base[0]!.pair).toEqual(P(0.1024, 1));
    expect(totalAnchors(kept, SSD_MAPS)).toBe(38 * 38 * 2 + 10 * 10 + 1);
  });

  it('refuses a feature-map list that does not fit the levels', () => {
    expect(() => allGridAnchors(ssdPrecise(), SSD_MAPS.slice(1))).toThrow(
      /have 6 levels but the model has 5 feature maps/,
    );
  });
});

describe('encodeAnchors', () => {
  const xyxy = new Float32Array([-10, 20, 30, 60, 300, 0, 340, 300]);
  it('cxcywh, normalized by [W, H]', () => {
    const e = encodeAnchors(xyxy, { format: 'cxcywh', normalizeBy: [320, 240] });
    expect(Array.from(e)).toEqual(
      Array.from(new Float32Array([10 / 320, 40 / 240, 40 / 320, 40 / 240, 320 / 320, 150 / 240, 40 / 320, 300 / 240])),
    );
  });
  it('clamps every number to [0, 1] when asked', () => {
    const e = encodeAnchors(xyxy, { format: 'cxcywh', normalizeBy: [320, 240], clamp: true });
    expect(e[4]).toBe(1);
    expect(e[7]).toBe(1);
    const x = encodeAnchors(xyxy, { format: 'xyxy', normalizeBy: [320, 240], clamp: true });
    expect(x[0]).toBe(0);
    expect(x[6]).toBe(1);
  });
  it('xyxy without options is the identity', () => {
    expect(encodeAnchors(xyxy, { format: 'xyxy' })).toEqual(xyxy);
  });
});

describe('mmdetection AnchorGenerator (RetinaNet)', () => {
  const set = mmdetAnchors({
    strides: [8, 16, 32, 64, 128],
    ratios: [0.5, 1, 2],
    octaveBaseScale: 4,
    scalesPerOctave: 3,
  });
  it('9 anchors per level, 180,153 on an 800x1200 input', () => {
    expect(anchorCounts(set)).toEqual([9, 9, 9, 9, 9]);
    expect(totalAnchors(set, RETINA_MAPS)).toBe(180153);
  });
  it('ratio-major order, centred on the cell origin, not rounded', () => {
    const l1 = set.levels[0]!.base;
    // ratio 0.5, scale 4: w = 8*4*sqrt(2) = 45.2548, h = 22.6274
    box(l1[0]!).forEach((v, i) => expect(v).toBeCloseTo([-22.627417, -11.313708, 22.627417, 11.313708][i]!, 5));
    expect(l1.map((a) => a.pair!.ratio)).toEqual([0.5, 0.5, 0.5, 1, 1, 1, 2, 2, 2]);
    // ratio 1, scale 4*2^(1/3) = 5.0397: 40.3175 px square
    expect(l1[4]!.x2 - l1[4]!.x1).toBeCloseTo(8 * 4 * 2 ** (1 / 3), 9);
  });
  it("pairs are relative to 512 (4 x the last stride), the paper's RetinaNet base size", () => {
    expect(set.levels[0]!.base.slice(0, 3).map((a) => a.pair!.scale)).toEqual([
      0.0625,
      0.0625 * 2 ** (1 / 3),
      0.0625 * 2 ** (2 / 3),
    ]);
    expect(set.levels[4]!.base[5]!.pair!.scale).toBeCloseTo(1.5874, 4);
  });
  it('scale_major=False lists all ratios of one scale first', () => {
    const s = mmdetAnchors({ strides: [8], ratios: [0.5, 1, 2], scales: [1, 2], scaleMajor: false });
    expect(s.levels[0]!.base.map((a) => a.pair!.ratio)).toEqual([0.5, 1, 2, 0.5, 1, 2]);
  });
});

describe('mmdetection SSDAnchorGenerator', () => {
  it('min/max sizes as mmdetection computes them', () => {
    expect(ssdSizes([0.15, 0.9], 300, 6)).toEqual([
      [21, 45, 99, 153, 207, 261],
      [45, 99, 153, 207, 261, 315],
    ]);
    expect(ssdSizes([0.1, 0.9], 512, 7)).toEqual([
      [20, 51, 133, 215, 296, 378, 460],
      [51, 133, 215, 296, 378, 460, 542],
    ]);
  });
  it('SSD300 (scale_major=False): (min,1) (big,1) then (min,1/r) (min,r) per ratio', () => {
    const set = mmdetSsdAnchors({
      strides: [8, 16, 32, 64, 100, 300],
      ratios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
      scaleMajor: false,
    });
    expect(anchorCounts(set)).toEqual([4, 6, 6, 6, 4, 4]);
    expect(totalAnchors(set, SSD_MAPS)).toBe(8732);
    const l2 = set.levels[1]!.base;
    expect(l2.map((a) => a.pair!.ratio)).toEqual([1, 1, 0.5, 2, 1 / 3, 3]);
    expect(l2[1]!.pair!.scale).toBeCloseTo(Math.sqrt(45 * 99) / 300, 12);
    // (21 px, ratio 1) around the stride centre (4, 4)
    expect(box(set.levels[0]!.base[0]!)).toEqual([-6.5, -6.5, 14.5, 14.5]);
  });
});

describe('torchvision', () => {
  it('DefaultBoxGenerator SSD300: counts, first box, clipping of normalized sizes', () => {
    const opts = {
      aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
      scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
      steps: [8, 16, 32, 64, 100, 300],
      imageSize: [300, 300] as [number, number],
    };
    const set = torchvisionDefaultBoxes(opts);
    expect(anchorCounts(set)).toEqual([4, 6, 6, 6, 4, 4]);
    expect(totalAnchors(set, SSD_MAPS)).toBe(8732);
    box(set.levels[0]!.base[0]!).forEach((v, i) => expect(v).toBeCloseTo([-6.5, -6.5, 14.5, 14.5][i]!, 9));
    // level 6, (0.87*sqrt2, 0.87/sqrt2): width 1.2304 is clipped to the image (300 px)
    const wide = set.levels[5]!.base[2]!;
    expect(wide.x2 - wide.x1).toBeCloseTo(300, 9);
    const unclipped = torchvisionDefaultBoxes({ ...opts, clip: false }).levels[5]!.base[2]!;
    expect(unclipped.x2 - unclipped.x1).toBeCloseTo(0.87 * Math.SQRT2 * 300, 9);
    expect(wide.pair!.ratio).toBeCloseTo(0.5, 12);
  });
  it('DefaultBoxGenerator default scales from min/max ratio', () => {
    const set = torchvisionDefaultBoxes({ aspectRatios: [[], [], []], steps: [8, 16, 32], imageSize: [100, 100] });
    expect(set.levels.map((l) => l.base[0]!.pair!.scale)).toEqual([0.15, 0.525, 0.9]);
    expect(set.levels[2]!.base[1]!.pair!.scale).toBeCloseTo(Math.sqrt(0.9), 12);
  });
  it('AnchorGenerator RetinaNet: integer sizes, ratio-major, rounded half to even', () => {
    expect(torchvisionRetinaSizes()).toEqual([
      [32, 40, 50],
      [64, 80, 101],
      [128, 161, 203],
      [256, 322, 406],
      [512, 645, 812],
    ]);
    const set = torchvisionAnchors({
      sizes: torchvisionRetinaSizes(),
      aspectRatios: [0.5, 1, 2],
      strides: [8, 16, 32, 64, 128],
    });
    expect(anchorCounts(set)).toEqual([9, 9, 9, 9, 9]);
    expect(box(set.levels[0]!.base[0]!)).toEqual([-23, -11, 23, 11]);
    // size 101 at ratio 1: +-50.5 rounds to even, +-50
    expect(box(set.levels[1]!.base[5]!)).toEqual([-50, -50, 50, 50]);
    expect([
      roundHalfEven(2.5),
      roundHalfEven(3.5),
      roundHalfEven(-2.5),
      roundHalfEven(-3.5),
      roundHalfEven(1.4),
    ]).toEqual([2, 4, -2, -4, 1]);
  });
});

describe('SSD min-size priors (Ultra-Light)', () => {
  const opts = {
    imageSize: [320, 240] as [number, number],
    strides: [8, 16, 32, 64],
    minBoxes: [
      [10, 16, 24],
      [32, 48],
      [64, 96],
      [128, 192, 256],
    ],
  };
  it('4420 priors on maps ceil(image/stride)', () => {
    const { priors, featureMaps, set } = ssdMinSizePriors(opts);
    expect(featureMaps).toEqual([
      [30, 40],
      [15, 20],
      [8, 10],
      [4, 5],
    ]);
    expect(priors.length).toBe(4420 * 4);
    expect(totalAnchors(set, featureMaps)).toBe(4420);
  });
  it('first prior and clamping', () => {
    const { priors } = ssdMinSizePriors(opts);
    expect(Array.from(priors.slice(0, 4))).toEqual(
      Array.from(new Float32Array([0.5 / 40, 0.5 / 30, 10 / 320, 10 / 240])),
    );
    // last prior: 256 px box, 256/240 > 1 is clamped
    expect(priors[4420 * 4 - 1]).toBe(1);
    expect(priors[4420 * 4 - 2]).toBe(Math.fround(0.8));
    const raw = ssdMinSizePriors({ ...opts, clamp: false }).priors;
    expect(raw[4420 * 4 - 1]).toBe(Math.fround(256 / 240));
  });
  it('centres divide by the map size: level 3 rows sit at (j + 0.5) / 8', () => {
    const { priors } = ssdMinSizePriors(opts);
    const lastOfL3 = 3600 + 600 + 160 - 1;
    expect(priors[lastOfL3 * 4 + 1]).toBe(Math.fround(7.5 / 8));
  });
});

const ULTRA_DIR = '/work/shared/models/ultraface';
const hasModel = existsSync(`${ULTRA_DIR}/version-RFB-320.onnx`);
if (!hasModel) console.warn(`skipping the Ultra-Light prior comparison: ${ULTRA_DIR}/version-RFB-320.onnx not found`);

describe.skipIf(!hasModel)('Ultra-Light 320 models: embedded priors', () => {
  it.each(['version-RFB-320.onnx', 'version-slim-320.onnx'].filter((f) => existsSync(`${ULTRA_DIR}/${f}`)))(
    '%s equals the generated priors exactly',
    (f) => {
      const ULTRA = `${ULTRA_DIR}/${f}`;
      const { priors } = ssdMinSizePriors({
        imageSize: [320, 240],
        strides: [8, 16, 32, 64],
        minBoxes: [
          [10, 16, 24],
          [32, 48],
          [64, 96],
          [128, 192, 256],
        ],
      });
      const centers = new Float32Array(4420 * 2);
      const sizes = new Float32Array(4420 * 2);
      for (let i = 0; i < 4420; i++) {
        centers.set(priors.subarray(i * 4, i * 4 + 2), i * 2);
        sizes.set(priors.subarray(i * 4 + 2, i * 4 + 4), i * 2);
      }
      const consts = loadModel(ULTRA)
        .graph.nodes.filter((n) => n.opType === 'Mul' || n.opType === 'Add')
        .flatMap((n) => n.inputs.map((v) => v?.constant()))
        .filter((t) => t !== undefined && t.dims.join(',') === '1,4420,2')
        .map((t) => Float32Array.from(t!.numbers()));
      expect(consts.length).toBeGreaterThanOrEqual(2);
      expect(consts.some((c) => c.every((v, i) => v === centers[i]))).toBe(true);
      expect(consts.some((c) => c.every((v, i) => v === sizes[i]))).toBe(true);
      expect(consts.every((c) => c.every((v, i) => v === centers[i]) || c.every((v, i) => v === sizes[i]))).toBe(true);
    },
  );
});
