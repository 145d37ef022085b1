import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/load';
import { modelToBytes, saveModel } from '../../src/onnx/save';
import { decodeMessage, encodeMessage, type ProtoMessage } from '../../src/onnx/codec';
import { buildFixture } from '../../fixtures/index';
import { randomInput, run } from '../_support/ort';

describe('external data', () => {
  it('writes tensors to a side file, reads them back, and the model runs with identical outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-ext-'));
    const model = buildFixture('ssdlite', { outputs: 'concat' });
    const inline = modelToBytes(model);
    saveModel(model, join(dir, 'm.onnx'), { externalData: 'external', threshold: 256 });
    expect(existsSync(join(dir, 'm.onnx.data'))).toBe(true);
    expect(readFileSync(join(dir, 'm.onnx')).length).toBeLessThan(inline.length / 10);
    const loaded = loadModel(join(dir, 'm.onnx'));
    expect(loaded.graph.initializers.some((v) => v.initializer!.source.kind === 'external')).toBe(true);
    // 'keep' (the default) writes them external again, under the new file's name
    saveModel(loaded, join(dir, 'copy.onnx'));
    expect(existsSync(join(dir, 'copy.onnx.data'))).toBe(true);
    const dims = [1, 3, 320, 320];
    const feeds = { input: { dims, data: randomInput(dims) } };
    const [a, b] = [await run(inline, feeds), await run(join(dir, 'copy.onnx'), feeds)];
    expect(Buffer.from(b.scores!.data.buffer).equals(Buffer.from(a.scores!.data.buffer))).toBe(true);
  });

  function withLocation(location: string): Uint8Array {
    const model = decodeMessage('onnx.ModelProto', modelToBytes(buildFixture('ssdlite', { outputs: 'raw' })));
    const t = ((model.graph as ProtoMessage).initializer as ProtoMessage[])[0]!;
    delete t.raw_data;
    t.data_location = 1;
    t.external_data = [
      { key: 'location', value: location },
      { key: 'offset', value: '0' },
    ];
    return encodeMessage('onnx.ModelProto', model);
  }

  it.each(['../secret.bin', '/etc/passwd', 'a/../../b.bin'])(
    'refuses a location escaping the model folder: %s',
    (loc) => {
      const dir = mkdtempSync(join(tmpdir(), 'pd-esc-'));
      writeFileSync(join(dir, 'm.onnx'), withLocation(loc));
      expect(() => loadModel(join(dir, 'm.onnx'))).toThrow(/escapes the model's folder|not a relative path inside/);
    },
  );

  it('reports a missing data file by name, at load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-miss-'));
    writeFileSync(join(dir, 'm.onnx'), withLocation('weights.bin'));
    expect(() => loadModel(join(dir, 'm.onnx'))).toThrow(/"weights.bin" .* is missing/);
  });
});
