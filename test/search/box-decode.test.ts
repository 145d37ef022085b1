// The streamed evaluator's allocation-free box decoder against the post-processing reference's decodeBox: bit for bit
// on every decoder, with and without clip, on random deltas and anchors plus NaN, infinite and huge values.
import { describe, expect, it } from 'vitest';
import { decodeBox } from '../../src/postprocess/reference';
import type { Decoder, PostprocessSpec } from '../../src/postprocess/spec';
import { PRESETS } from '../../src/postprocess/presets';
import { boxDecoder } from '../../src/search/box-decode';
import { mulberry32 } from '../_support/prng';

const DECODERS: Decoder[] = [
  { type: 'none' },
  { type: 'ssd', variances: [0.1, 0.2] },
  {
    type: 'mmdet-delta-xywh',
    means: [0.01, -0.02, 0, 0.03],
    stds: [0.1, 0.1, 0.2, 0.2],
    clamp: Math.abs(Math.log(16 / 1000)),
  },
  { type: 'torchvision', weights: [10, 10, 5, 5], clamp: Math.log(1000 / 16) },
  { type: 'tflite', scales: [10, 10, 5, 5] },
];

describe('boxDecoder', () => {
  for (const decoder of DECODERS) {
    for (const clip of [undefined, [300, 240] as [number, number]]) {
      it(`equals decodeBox bit for bit: ${decoder.type}${clip ? ', clipped' : ''}`, () => {
        const spec: PostprocessSpec = {
          ...PRESETS['mmdet-ssd300']!,
          decoder,
          ...(clip ? { clip } : { clip: undefined }),
        };
        const fast = boxDecoder(spec);
        const r = mulberry32(7);
        const special = [NaN, Infinity, -Infinity, 1e30, -1e30, 0, -0, 88.7, -90];
        const a = new Float32Array(4),
          out = new Float32Array(8);
        for (let n = 0; n < 20000; n++) {
          const d = [0, 1, 2, 3].map(() =>
            Math.fround(
              n % 50 === 0 ? special[Math.floor(r() * special.length)]! : (r() - 0.5) * (n % 3 === 0 ? 40 : 4),
            ),
          ) as [number, number, number, number];
          a.set([r() * 300, r() * 240, 1 + r() * 200, 1 + r() * 200]);
          const want = decodeBox(spec, d, a);
          fast(d[0], d[1], d[2], d[3], a, 0, out, 4);
          // toEqual tells -0 from +0 and NaN equals NaN: bit-for-bit up to NaN payloads
          expect(Array.from(out.subarray(4, 8))).toEqual(want);
        }
      });
    }
  }
});
