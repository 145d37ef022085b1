import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFixture, FIXTURE_KINDS } from '../../fixtures/index';
import { buildVariant, VARIANTS, VARIANT_LEVELS } from '../../fixtures/variants';
import { analyzeModel, loadDetector } from '../../src/detector/index';
import { ssd300BaselineAnchors } from '../../fixtures/anchor-tables';
import { ssdMinSizePriors } from '../../src/anchors/generate';
import { GraphBuilder } from '../../src/ir/builder';
import { buildClassifier } from '../../fixtures/classifier';
import { Tensor } from '../../src/ir/tensor';
import { hasShared, ultraface } from '../_support/shared';

const EXPECT = {
  ssd300: {
    maps: [
      [38, 38],
      [19, 19],
      [10, 10],
      [5, 5],
      [3, 3],
      [1, 1],
    ],
    anchors: [4, 6, 6, 6, 4, 4],
    classes: 81,
    boxes: 8732,
    headMacs: 4_231_319_040,
  },
  retinanet: {
    maps: [
      [100, 150],
      [50, 75],
      [25, 38],
      [13, 19],
      [7, 10],
    ],
    anchors: [9, 9, 9, 9, 9],
    classes: 80,
    boxes: 180_153,
    headMacs: 129_318_147_072,
  },
  ssdlite: {
    maps: [
      [20, 20],
      [10, 10],
      [5, 5],
      [3, 3],
      [2, 2],
      [1, 1],
    ],
    anchors: [6, 6, 6, 6, 6, 6],
    classes: 91,
    boxes: 3234,
    headMacs: undefined,
  },
};

describe('analysis of the synthetic detectors, unaided, every output style', () => {
  // yolov5 (raw outputs only, one fused output per level) has its own test: yolo.test.ts
  for (const kind of FIXTURE_KINDS.filter((k) => k !== 'yolov5')) {
    for (const outputs of ['raw', 'concat', 'decoded'] as const) {
      for (const reshape of outputs === 'raw' ? (['const'] as const) : (['const', 'shape'] as const)) {
        it(`${kind} ${outputs} (${reshape} reshape targets)`, () => {
          const { spec } = analyzeModel(buildFixture(kind, { outputs, reshape }));
          const e = EXPECT[kind];
          expect(spec.levels.map((l) => l.featureMap)).toEqual(e.maps);
          expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual(e.anchors);
          expect(spec.classes).toBe(e.classes);
          expect(spec.boxes).toBe(e.boxes);
          if (e.headMacs) expect(spec.headMacs).toBe(e.headMacs);
          expect(
            spec.levels.every(
              (l) =>
                l.convs
                  .map((c) => c.groups[0]!.role)
                  .sort()
                  .join() === 'boxes,scores',
            ),
          ).toBe(true);
          const activation = kind === 'retinanet' ? 'sigmoid' : 'softmax';
          expect(spec.postprocessInGraph).toEqual(outputs === 'decoded' ? [activation, 'decode'] : []);
          expect(spec.anchorTable !== undefined).toBe(outputs === 'decoded');
        });
      }
    }
  }

  it('recovers the embedded SSD300 anchor table exactly (split into centre and size constants)', () => {
    const { spec } = analyzeModel(buildFixture('ssd300', { outputs: 'decoded' }));
    expect(spec.anchorTable!.constants.sort()).toEqual(['anchor_centers', 'anchor_sizes']);
    const want = ssd300BaselineAnchors();
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]! - spec.anchorTable!.xyxy[i]!));
    expect(max).toBeLessThan(1e-4);
    expect(spec.anchorTable!.normalized).toBe(false);
  });

  it('counts depthwise heads through both convs (SSDLite: dw->pw class head, pw->dw box head)', () => {
    const { spec } = analyzeModel(buildFixture('ssdlite'));
    for (const l of spec.levels) {
      const box = l.convs.find((c) => c.groups[0]!.role === 'boxes')!;
      const cls = l.convs.find((c) => c.groups[0]!.role === 'scores')!;
      expect(box.node.getInt('group', 1)).toBe(box.channels); // the depthwise conv carries the anchors
      expect(box.feeders.map((n) => n.opType)).toEqual(['Conv']);
      expect(cls.feeders).toEqual([]);
      expect(l.headNodes.filter((n) => n.opType === 'Conv')).toHaveLength(4);
    }
  });
});

describe('analysis of other export shapes', () => {
  for (const v of VARIANTS) {
    it(v, () => {
      const { spec } = analyzeModel(buildVariant(v));
      expect(spec.levels.map((l) => l.featureMap[0])).toEqual(VARIANT_LEVELS.maps);
      expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual(VARIANT_LEVELS.anchors);
      expect(spec.boxes).toBe(736);
      expect(spec.classes).toBe(VARIANT_LEVELS.classes);
      const roles = spec.levels[0]!.convs.flatMap((c) => c.groups.map((g) => `${g.role}:${g.offset}+${g.size}`)).sort();
      if (v === 'fused-landmarks') {
        expect(roles).toEqual(['boxes:0+4', 'landmarks:4+10', 'scores:14+3']);
        expect(spec.levels[0]!.convs[0]!.valuesPerAnchor).toBe(17);
      } else if (v === 'landmark-heads') {
        expect(roles).toEqual(['boxes:0+4', 'landmarks:0+10', 'scores:0+3']);
      } else {
        expect(roles).toEqual(['boxes:0+4', 'scores:0+3']);
      }
      expect(spec.levels[0]!.convs[0]!.layout).toBe(v === 'value-major' ? 'value-major' : 'anchor-major');
    });
  }
});

describe.skipIf(!hasShared)('analysis of the real ultraface models', () => {
  const files = [
    'version-RFB-320.onnx',
    'version-RFB-320_without_postprocessing.onnx',
    'version-slim-320.onnx',
    'version-slim-320_simplified.onnx',
  ];
  for (const f of files) {
    it(f, () => {
      const { spec } = loadDetector(ultraface(f));
      expect(spec.levels.map((l) => l.featureMap)).toEqual([
        [30, 40],
        [15, 20],
        [8, 10],
        [4, 5],
      ]);
      expect(spec.levels.map((l) => l.anchorsPerLocation)).toEqual([3, 2, 2, 3]);
      expect(spec.boxes).toBe(4420);
      expect(spec.classes).toBe(2);
      expect(spec.scoreActivation).toBe('softmax');
      const postprocessed = !f.includes('simplified') && !f.includes('without');
      expect(spec.postprocessInGraph).toEqual(postprocessed ? ['softmax', 'decode'] : ['softmax']);
      expect(spec.anchorTable !== undefined).toBe(postprocessed);
      if (!postprocessed) return;
      // the embedded priors are the SSD min-size priors, clamped to [0,1] in center-size form
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
      const t = spec.anchorTable!.xyxy;
      let max = 0;
      for (let i = 0; i < 4420; i++) {
        const [x1, y1, x2, y2] = [t[4 * i]!, t[4 * i + 1]!, t[4 * i + 2]!, t[4 * i + 3]!];
        const got = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1];
        for (let k = 0; k < 4; k++) max = Math.max(max, Math.abs(got[k]! - priors[4 * i + k]!));
      }
      expect(max).toBeLessThan(1e-6);
    });
  }
});

describe('failures say what was found and what is missing', () => {
  it('a classifier: no detection head found, listing the outputs considered', () => {
    expect(() => analyzeModel(buildClassifier())).toThrow(
      /no detection head found in the model: outputs prob \(from prob \(Softmax\)\) do not come from convolutions .*stopped at fc \(Gemm\)/,
    );
  });

  it('an op prunedet cannot follow after the head is named with the fix', () => {
    const m = buildFixture('ssdlite', { outputs: 'decoded' });
    const g = m.graph;
    const gb = new GraphBuilder(g);
    const w = gb.init('mix', Tensor.fromFloat32([91, 91], new Float32Array(91 * 91)));
    g.outputs = [gb.op('MatMul', [g.outputs[0]!, w], [], 'mixer'), g.outputs[1]!];
    expect(() => analyzeModel(m)).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /pass through mixer \(MatMul\) after the head convs, which prunedet cannot follow/,
        ),
        hint: expect.stringMatching(/onnx-simplifier/),
      }),
    );
  });

  it('a --head-spec naming a missing conv', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-hs-'));
    const spec = join(dir, 'head.json');
    writeFileSync(
      spec,
      JSON.stringify({ levels: [{ anchors: 2, convs: { scores: 'no_such_conv', boxes: 'boxes_head.0' } }] }),
    );
    expect(() => analyzeModel(buildVariant('landmark-heads'), { headSpec: spec })).toThrow(
      /head spec .*head\.json level 0 names conv "no_such_conv", which is not one of the head convs found \(/,
    );
  });

  it('a --head-spec fixes anchors where raw maps leave them ambiguous', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-hs2-'));
    const spec = join(dir, 'head.json');
    const levels = VARIANT_LEVELS.anchors.map((a, i) => ({
      anchors: a,
      convs: { scores: `scores_head.${i}`, boxes: `boxes_head.${i}`, landmarks: `landmarks_head.${i}` },
    }));
    writeFileSync(spec, JSON.stringify({ levels }));
    const { spec: s } = analyzeModel(buildVariant('landmark-heads'), { headSpec: spec });
    expect(s.source).toBe('head-spec');
    expect(s.levels.map((l) => l.anchorsPerLocation)).toEqual(VARIANT_LEVELS.anchors);
  });
});
