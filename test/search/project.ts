// A small search project on disk for the end-to-end and CLI tests: the synthetic SSD300 (tiny backbone, seeded
// weights) as ONNX, a folder of generated JPEG photos of different sizes, and a classifier that is not a detector.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { buildFixture } from '../../fixtures/index';
import { buildClassifier } from '../../fixtures/classifier';
import { saveModel } from '../../src/onnx/save';

/** Preset text the synthetic SSD300 fires under (its random weights give near-uniform softmax scores ~1/81). */
export const SYNTH_POSTPROCESS = 'mmdet-ssd300,score_thr=0.013';

export interface Project {
  model: string;
  images: string;
  classifier: string;
  /** Photo file names and sizes. */
  photos: { name: string; width: number; height: number }[];
}

/** A JPEG with a seeded pattern. */
export function photo(width: number, height: number, seed: number): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 4 * (y * width + x);
      data[o] = (x * (seed + 1)) % 256;
      data[o + 1] = (y * 3 + seed * 40) % 256;
      data[o + 2] = ((x ^ y) * 7) % 256;
      data[o + 3] = 255;
    }
  }
  return jpeg.encode({ data, width, height }, 90).data;
}

export function makeProject(dir: string, count = 6): Project {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const model = join(dir, 'ssd300.onnx');
  saveModel(buildFixture('ssd300', { backbone: 'tiny', outputs: 'concat', seed: 1 }), model, {
    externalData: 'inline',
  });
  const photos = Array.from({ length: count }, (_, i) => ({
    name: `p${String(i).padStart(2, '0')}.jpg`,
    width: 200 + 40 * (i % 6),
    height: 180 + 20 * (i % 5),
  }));
  photos.forEach((p, i) => writeFileSync(join(dir, 'images', p.name), photo(p.width, p.height, i)));
  const classifier = join(dir, 'classifier.onnx');
  saveModel(buildClassifier(), classifier, { externalData: 'inline' });
  return { model, images: join(dir, 'images'), classifier, photos };
}
