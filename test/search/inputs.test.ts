// Preprocessing options from presets and flags (shared with verify), and box units -> COCO boxes in photo pixels.
import { describe, expect, it } from 'vitest';
import type { DetectorSpec } from '../../src/detector/spec';
import { ULTRA_LIGHT_FACE_320, resizeGeometry } from '../../src/image/preprocess';
import { parsePostprocess } from '../../src/postprocess/presets';
import { boxUnitsOf, parseSize, preprocessOptionsFor, toImageXywh } from '../../src/image/inputs';

const det = (h: number, w: number) => ({ imageSize: [h, w] }) as unknown as DetectorSpec;

describe('preprocessOptionsFor', () => {
  it('ultraface on a 320x240 model is the Ultra-Light demo preprocessing', () => {
    expect(preprocessOptionsFor(det(240, 320), 'ultraface,score_thr=0.5')).toEqual(ULTRA_LIGHT_FACE_320);
  });

  it('takes the size from the model and the normalisation from the preset; flags override each field', () => {
    expect(preprocessOptionsFor(det(300, 300), 'mmdet-ssd300')).toMatchObject({
      size: [300, 300],
      mean: [123.675, 116.28, 103.53],
      std: [1, 1, 1],
      channelOrder: 'rgb',
    });
    const o = preprocessOptionsFor(det(480, 640), 'ultraface', {
      mean: '0,0,0',
      std: '255',
      bgr: true,
      letterbox: true,
      size: '640x480',
    });
    expect(o).toEqual({
      size: [640, 480],
      mean: [0, 0, 0],
      std: [255, 255, 255],
      channelOrder: 'bgr',
      letterbox: true,
      resize: 'bilinear',
    });
    expect(preprocessOptionsFor(det(300, 300), 'torchvision-ssd')).toMatchObject({ mean: [0, 0, 0], std: [1, 1, 1] });
  });

  it('rejects bad flags with usage errors', () => {
    expect(() => preprocessOptionsFor(det(240, 320), 'ultraface', { size: '640x480' })).toThrow(
      /--size 640x480 does not match the model's input 320x240/,
    );
    expect(() => preprocessOptionsFor(det(240, 320), 'ultraface', { std: '1,0,1' })).toThrow(
      /--std "1,0,1" is not three non-zero numbers/,
    );
    expect(() => preprocessOptionsFor(det(240, 320), 'ultraface', { mean: '1,2' })).toThrow(
      /--mean "1,2" is not three numbers/,
    );
    expect(() => parseSize('320')).toThrow(/--size "320" is not a size WxH/);
  });
});

describe('boxes back to photo pixels', () => {
  it('stretched input: normalised and input-pixel boxes scale by photo / input size', () => {
    const g = resizeGeometry(640, 480, { size: [320, 240] });
    expect(toImageXywh([0.25, 0.5, 0.5, 1], 'normalized', g)).toEqual([160, 240, 160, 240]);
    expect(toImageXywh([80, 120, 160, 240], 'input-pixels', g)).toEqual([160, 240, 160, 240]);
  });

  it('letterboxed input: the pad is taken off before scaling', () => {
    // 400x200 photo into 300x300: scale 0.75 -> 300x150 centred, pad 75 at the top
    const g = resizeGeometry(400, 200, { size: [300, 300], letterbox: true });
    expect(g.padY).toBe(75);
    expect(toImageXywh([0, 75, 300, 225], 'input-pixels', g)).toEqual([0, 0, 400, 200]);
    expect(toImageXywh([0.5, 0.5, 1, 0.75], 'normalized', g)).toEqual([200, 100, 200, 100]);
  });

  it('tells normalised anchor tables from pixel ones', () => {
    const pp = (anchors: number[], text: string) => ({
      spec: parsePostprocess(text),
      anchors: Float32Array.from(anchors),
    });
    expect(boxUnitsOf(det(240, 320), pp([0.1, 0.2, 0.05, 0.9], 'ultraface'))).toBe('normalized');
    expect(boxUnitsOf(det(300, 300), pp([-10, 4, 40, 290], 'mmdet-ssd300'))).toBe('input-pixels');
    const decoded = { ...det(240, 320), anchorTable: { normalized: true } } as unknown as DetectorSpec;
    expect(boxUnitsOf(decoded, pp([0, 0, 0, 0], 'ultraface,decoder=none'))).toBe('normalized');
  });
});
