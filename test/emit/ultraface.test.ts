// The real Ultra-Light face detector (../shared): its head outputs from onnxruntime-node go through the reference and
// the emitted C, which must agree; the shipped model with in-graph decoding checks our priors and ssd decoder.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmitPlan } from '../../src/emit/c';
import { PRESETS } from '../../src/postprocess/presets';
import { anchorsCenterSize, decodeBox, postprocess } from '../../src/postprocess/reference';
import { hasGcc } from '../_support/gcc';
import { mulberry32 } from '../_support/prng';
import { FACES, hasShared, ultraface } from '../_support/shared';
import { contextOf, type HeadOutputs } from './fixtures';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';

const W = 320;
const H = 240;
/** fd_config.py for 320x240: feature maps (w, h) and min boxes per level; anchors y, x, then min box. */
const MAPS: [number, number][] = [
  [40, 30],
  [20, 15],
  [10, 8],
  [5, 4],
];
const MIN_BOXES = [
  [10, 16, 24],
  [32, 48],
  [64, 96],
  [128, 192, 256],
];
const STRIDES = [8, 16, 32, 64];

/** Center-size priors normalised to the image, clamped to [0, 1] (generate_priors with clamp=True). */
function priors(): Float32Array {
  const out: number[] = [];
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  MAPS.forEach(([fw, fh], l) => {
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        for (const m of MIN_BOXES[l]!)
          out.push(clamp((x + 0.5) / fw), clamp((y + 0.5) / fh), clamp(m / W), clamp(m / H));
      }
    }
  });
  return Float32Array.from(out);
}

function plan(): EmitPlan {
  return {
    name: 'ultraface_rfb_320',
    banner: {
      version: '0.1.0',
      modelFile: 'version-RFB-320_without_postprocessing.onnx',
      modelSha256: 'd7c687949526065ab6a192fdf993360045ce27b0fabf7c9fca5c2437b786b495',
      config: 'ultraface',
    },
    spec: structuredClone(PRESETS.ultraface!),
    input: 'concat',
    levels: MAPS.map(([w, h], l) => ({
      h,
      w,
      anchorsPerLocation: MIN_BOXES[l]!.length,
      stride: [STRIDES[l]!, STRIDES[l]!],
    })),
    numClasses: 2,
    anchors: priors(),
    candidateCap: 200,
  };
}

/** RGB, nearest-neighbour resize to 320x240, (x - 127) / 128, NCHW. */
function imageInput(file: string): Float32Array {
  const img = jpeg.decode(readFileSync(file), { useTArray: true });
  const out = new Float32Array(3 * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / W));
      const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / H));
      for (let c = 0; c < 3; c++) out[c * H * W + y * W + x] = (img.data[(sy * img.width + sx) * 4 + c]! - 127) / 128;
    }
  }
  return out;
}

function randomInput(seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: 3 * H * W }, () => (Math.floor(r() * 256) - 127) / 128);
}

async function runModel(s: ort.InferenceSession, input: Float32Array): Promise<HeadOutputs> {
  const res = await s.run({ input: new ort.Tensor('float32', input, [1, 3, H, W]) });
  return { scores: res.scores!.data as Float32Array, boxes: res.boxes!.data as Float32Array };
}

describe.skipIf(!hasShared)('ultraface RFB-320 (onnxruntime-node)', () => {
  let raw: ort.InferenceSession;
  let decoded: ort.InferenceSession;
  let inputs: { name: string; data: Float32Array }[];
  let module: BuiltModule | undefined;

  beforeAll(async () => {
    const opts = { logSeverityLevel: 3 as const, intraOpNumThreads: 2 };
    raw = await ort.InferenceSession.create(ultraface('version-RFB-320_without_postprocessing.onnx'), opts);
    decoded = await ort.InferenceSession.create(ultraface('version-RFB-320.onnx'), opts);
    const photos = readdirSync(FACES)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 3);
    inputs = [
      ...photos.map((f) => ({ name: f, data: imageInput(join(FACES, f)) })),
      { name: 'random', data: randomInput(1) },
    ];
  });
  afterAll(() => module?.dispose());

  it('our priors + ssd decoder reproduce the boxes of the model with in-graph decoding', async () => {
    const p = plan();
    const centers = anchorsCenterSize(p.anchors, 'cxcywh');
    for (const input of inputs.slice(0, 2)) {
      const head = await runModel(raw, input.data);
      const ref = await runModel(decoded, input.data);
      // the shipped model's scores are the same softmax as the raw model's (it is already applied in the graph)
      expect(Math.max(...head.scores.map((v, i) => Math.abs(v - ref.scores[i]!)))).toBeLessThan(1e-6);
      let worst = 0;
      for (let n = 0; n < 4420; n++) {
        const d = Array.from(head.boxes.subarray(4 * n, 4 * n + 4)) as [number, number, number, number];
        const box = decodeBox(p.spec, d, centers.subarray(4 * n, 4 * n + 4));
        for (let j = 0; j < 4; j++) worst = Math.max(worst, Math.abs(box[j]! - ref.boxes[4 * n + j]!));
      }
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it.skipIf(!hasGcc)("emitted C and the reference give identical detections on the model's outputs", async () => {
    const p = plan();
    module = buildModule(p);
    let faces = 0;
    for (const input of inputs) {
      const head = await runModel(raw, input.data);
      const want = postprocess(p.spec, { form: 'concat', ...head }, contextOf(p));
      const got = module.run(head);
      expect(got.status).toBe(0);
      expectSameDetections(got.detections, want);
      if (input.name !== 'random') faces += want.length;
    }
    expect(faces).toBeGreaterThan(0);
  });
});
