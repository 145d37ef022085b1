import { describe, expect, it } from 'vitest';
import { PrunedetError } from '../../src/errors';
import { formatPostprocess, LOG_1000_OVER_16, parsePostprocess, PRESETS } from '../../src/postprocess/presets';
import { validatePostprocessSpec, type PostprocessSpec } from '../../src/postprocess/spec';

function errorOf(f: () => unknown): PrunedetError {
  try {
    f();
  } catch (e) {
    if (e instanceof PrunedetError) return e;
    throw e;
  }
  throw new Error('expected a PrunedetError');
}

describe('presets', () => {
  it("are valid and carry the projects' values", () => {
    for (const spec of Object.values(PRESETS)) validatePostprocessSpec(spec);
    expect(Object.keys(PRESETS).sort()).toEqual([
      'mmdet-retinanet',
      'mmdet-ssd300',
      'tflite-ssd',
      'torchvision-retinanet',
      'torchvision-ssd',
      'ultraface',
      'yolov3',
      'yolov5',
      'yolov7',
    ]);
    // YOLOv5's non_max_suppression defaults: conf 0.25 (objectness first, then obj x best class), IoU 0.45 per class,
    // max_nms 30000, max_det 300; v7 the same; v3 the darknet decode
    const v5 = PRESETS.yolov5!;
    expect([v5.scoreThreshold, v5.iouThreshold, v5.preNmsTopK, v5.topKScope, v5.maxDetections, v5.nms]).toEqual([
      0.25,
      0.45,
      30000,
      'global',
      300,
      'per-class',
    ]);
    expect([v5.objectness, v5.bestLabel, v5.scores, v5.background, v5.decoder.type]).toEqual([
      true,
      true,
      'sigmoid',
      'none',
      'yolov5',
    ]);
    expect(PRESETS.yolov7).toEqual(v5);
    expect({ ...PRESETS.yolov3, decoder: v5.decoder }).toEqual(v5);
    expect(PRESETS.yolov3!.decoder.type).toBe('yolov3');
    expect(() => parsePostprocess('mmdet-ssd300,labels=best')).toThrow(/labels=best without objectness/);
    expect(() => parsePostprocess('yolov5,background=first')).toThrow(/objectness with background/);
    const ssd = PRESETS['mmdet-ssd300']!;
    expect(ssd.decoder).toEqual({
      type: 'mmdet-delta-xywh',
      means: [0, 0, 0, 0],
      stds: [0.1, 0.1, 0.2, 0.2],
      clamp: LOG_1000_OVER_16,
    });
    expect([ssd.scoreThreshold, ssd.iouThreshold, ssd.preNmsTopK, ssd.maxDetections, ssd.background]).toEqual([
      0.02,
      0.45,
      1000,
      200,
      'last',
    ]);
    const tvr = PRESETS['torchvision-retinanet']!;
    expect([
      tvr.scores,
      tvr.scoreThreshold,
      tvr.preNmsTopK,
      tvr.topKScope,
      tvr.iouThreshold,
      tvr.maxDetections,
    ]).toEqual(['sigmoid', 0.05, 1000, 'per-level', 0.5, 300]);
    expect(PRESETS['torchvision-ssd']!.decoder).toEqual({
      type: 'torchvision',
      weights: [10, 10, 5, 5],
      clamp: LOG_1000_OVER_16,
    });
    expect(PRESETS['mmdet-retinanet']!.maxDetections).toBe(100);
    const uf = PRESETS.ultraface!;
    expect([uf.decoder, uf.scores, uf.background, uf.scoreThreshold, uf.preNmsTopK]).toEqual([
      { type: 'ssd', variances: [0.1, 0.2] },
      'probabilities',
      'first',
      0.7,
      200,
    ]);
    const tfl = PRESETS['tflite-ssd']!;
    expect([tfl.decoder, tfl.nms, tfl.iouThreshold, tfl.maxDetections, tfl.scoreThreshold]).toEqual([
      { type: 'tflite', scales: [10, 10, 5, 5] },
      'agnostic',
      0.6,
      10,
      1e-8,
    ]);
    expect(LOG_1000_OVER_16).toBeCloseTo(4.135166556742356, 15);
  });
});

describe('parsePostprocess', () => {
  it('overrides preset fields by snake_case keys', () => {
    const s = parsePostprocess('mmdet-ssd300,score_thr=0.05,max_det=100');
    expect(s).toEqual({ ...PRESETS['mmdet-ssd300'], scoreThreshold: 0.05, maxDetections: 100 });
    expect(PRESETS['mmdet-ssd300']!.scoreThreshold).toBe(0.02); // the preset itself is untouched
    const t = parsePostprocess(
      'ultraface, iou_thr=0.3 ,top_k=50,top_k_scope=per-level,nms=agnostic,clip=320/240,variances=0.1/0.25',
    );
    expect(t).toMatchObject({
      iouThreshold: 0.3,
      preNmsTopK: 50,
      topKScope: 'per-level',
      nms: 'agnostic',
      clip: [320, 240],
      decoder: { type: 'ssd', variances: [0.1, 0.25] },
    });
    expect(parsePostprocess('mmdet-ssd300,clip=none').clip).toBeUndefined();
    expect(parsePostprocess('ultraface,decoder=tflite').decoder).toEqual({ type: 'tflite', scales: [10, 10, 5, 5] });
  });

  it('round-trips through formatPostprocess for every preset', () => {
    for (const [name, spec] of Object.entries(PRESETS)) {
      const text = formatPostprocess(spec);
      expect(parsePostprocess(text), name).toEqual(spec);
    }
    expect(formatPostprocess(PRESETS.ultraface!)).toBe(
      'decoder=ssd,variances=0.1/0.2,anchor_format=cxcywh,scores=probabilities,background=first,score_thr=0.7,top_k=200,top_k_scope=global,nms=per-class,iou_thr=0.5,max_det=200,clip=none',
    );
  });

  it('builds a full spec from key=value options alone', () => {
    const text =
      'decoder=none,anchor_format=xyxy,scores=sigmoid,background=none,score_thr=0.3,top_k=0,top_k_scope=global,nms=agnostic,iou_thr=0.5,max_det=5';
    expect(parsePostprocess(text)).toEqual({
      decoder: { type: 'none' },
      anchorFormat: 'xyxy',
      scores: 'sigmoid',
      background: 'none',
      scoreThreshold: 0.3,
      preNmsTopK: 0,
      topKScope: 'global',
      nms: 'agnostic',
      iouThreshold: 0.5,
      maxDetections: 5,
    });
  });

  it('names what is wrong, with a hint', () => {
    const cases: [string, RegExp][] = [
      ['mmdet-ssd301', /unknown post-processing preset "mmdet-ssd301".*use one of mmdet-ssd300/],
      ['mmdet-ssd300,score=0.5', /unknown post-processing option "score".*known options: decoder, variances/],
      ['mmdet-ssd300,nms=soft', /nms=soft is unknown; use one of per-class, agnostic/],
      ['mmdet-ssd300,score_thr=abc', /score_thr=abc is not a number/],
      ['mmdet-ssd300,max_det=1.5', /max_det=1.5 is not a whole number/],
      ['mmdet-ssd300,max_det=0', /max_det is 0, not an integer >= 1/],
      ['mmdet-ssd300,score_thr=-0.1', /score_thr is -0.1; a negative threshold/],
      ['mmdet-ssd300,iou_thr=1.5', /iou_thr is 1.5; use an IoU threshold in \[0, 1\]/],
      ['mmdet-ssd300,variances=0.1/0.2', /variances applies to decoder=ssd, but the decoder is mmdet-delta-xywh/],
      ['mmdet-ssd300,stds=1/2/3', /stds=1\/2\/3 is not 4 numbers separated by \//],
      ['ultraface,variances=0/0.2', /variances\[0\] is 0/],
      ['ultraface,clamp=3', /clamp applies to decoder=mmdet-delta-xywh or torchvision/],
      ['ultraface,clip=0/240', /clip is 0\/240; clip needs a positive width and height/],
      ['ultraface,top_k', /"top_k" is not key=value/],
      [
        'score_thr=0.5,nms=agnostic',
        /leaves decoder, anchor_format, scores, background, top_k, top_k_scope, iou_thr, max_det unset/,
      ],
    ];
    for (const [text, re] of cases) {
      const e = errorOf(() => parsePostprocess(text));
      expect(e.code, text).toBe('E_POSTPROCESS');
      expect(e.oneLine(), text).toMatch(re);
    }
  });
});

describe('validatePostprocessSpec', () => {
  it('checks the number of score columns against the background position', () => {
    const spec: PostprocessSpec = { ...PRESETS['mmdet-ssd300']! };
    expect(() => validatePostprocessSpec(spec, 1)).toThrow(
      /1 score column\(s\) with background "last" leaves no foreground class/,
    );
    expect(() => validatePostprocessSpec({ ...spec, background: 'none' }, 1)).not.toThrow();
    expect(() => validatePostprocessSpec(spec, 0)).toThrow(/number of score columns is 0/);
  });
});
