import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes } from '../../src/onnx/save';
import { buildFixture, FIXTURE_KINDS } from '../../fixtures/index';
import { hasShared, sharedModels } from '../_support/shared';
import { protoDiff } from '../_support/proto-equal';
import { randomInput, run } from '../_support/ort';

async function expectSameOutputs(a: Uint8Array, b: Uint8Array, dims: number[]): Promise<void> {
  const feeds = { [loadModel(a).graph.inputs[0]!.name]: { dims, data: randomInput(dims, 7) } };
  const [oa, ob] = [await run(a, feeds), await run(b, feeds)];
  expect(Object.keys(ob)).toEqual(Object.keys(oa));
  for (const k of Object.keys(oa)) {
    expect(Buffer.from(ob[k]!.data.buffer).equals(Buffer.from(oa[k]!.data.buffer)), `output ${k} bit-identical`).toBe(
      true,
    );
  }
}

describe('load/save round trip of the fixtures', () => {
  for (const kind of FIXTURE_KINDS) {
    for (const outputs of kind === 'yolov5' ? (['raw'] as const) : (['raw', 'concat', 'decoded'] as const)) {
      it(`${kind} ${outputs}: fields equal, outputs bit-identical`, async () => {
        const opts = kind === 'retinanet' ? { outputs, inputSize: [96, 128] as [number, number] } : { outputs };
        const original = modelToBytes(buildFixture(kind, opts));
        const again = modelToBytes(loadModel(original));
        expect(protoDiff(original, again)).toEqual([]);
        const dims = {
          retinanet: [1, 3, 96, 128],
          ssdlite: [1, 3, 320, 320],
          ssd300: [1, 3, 300, 300],
          yolov5: [1, 3, 640, 640],
        }[kind];
        await expectSameOutputs(original, again, dims);
      });
    }
  }
});

describe.skipIf(!hasShared)('load/save round trip of the shared real models', () => {
  for (const file of sharedModels()) {
    it(`${file.split('/').pop()}: fields equal, bytes equal, outputs bit-identical`, async () => {
      const original = readFileSync(file);
      const again = modelToBytes(loadModel(file));
      expect(protoDiff(original, again)).toEqual([]);
      // These exports follow protobuf's canonical field order, so even the bytes come back unchanged.
      expect(Buffer.from(again).equals(original)).toBe(true);
      await expectSameOutputs(original, again, [1, 3, 240, 320]);
    });
  }
});
