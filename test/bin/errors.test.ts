import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prunedet, sha256, expectUserError } from '../_support/cli';
import { modelToBytes } from '../../src/onnx/save';
import { decodeMessage, encodeMessage, type ProtoMessage } from '../../src/onnx/codec';
import { buildFixture } from '../../fixtures/index';

const dir = mkdtempSync(join(tmpdir(), 'pd-cli-'));
const good = modelToBytes(buildFixture('ssdlite', { outputs: 'concat' }));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('bad input gets one line, exit 2, no stack, and the input stays untouched', () => {
  const cases: [string, () => string, RegExp][] = [
    ['empty file', () => file('empty.onnx', ''), /empty\.onnx is empty \(0 bytes\); re-export or re-download/],
    [
      'random bytes',
      () =>
        file(
          'random.onnx',
          Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251),
        ),
      /random\.onnx is not (a valid ONNX protobuf|an ONNX model)/,
    ],
    [
      'truncated model',
      () => file('cut.onnx', good.subarray(0, Math.floor(good.length / 2))),
      /cut\.onnx is truncated .*; re-export or re-download/,
    ],
    ['missing file', () => join(dir, 'nope.onnx'), /nope\.onnx does not exist/],
    [
      'external data escaping the folder',
      () => {
        const m = decodeMessage('onnx.ModelProto', good);
        const t = ((m.graph as ProtoMessage).initializer as ProtoMessage[])[0]!;
        delete t.raw_data;
        t.data_location = 1;
        t.external_data = [{ key: 'location', value: '../../etc/passwd' }];
        return file('escape.onnx', encodeMessage('onnx.ModelProto', m));
      },
      /location "\.\.\/\.\.\/etc\/passwd" escapes the model's folder/,
    ],
  ];
  for (const [what, make, pattern] of cases) {
    it(what, () => {
      const path = make();
      let before: string | undefined;
      try {
        before = sha256(path);
      } catch {
        before = undefined;
      }
      const r = prunedet(['inspect', path]);
      expectUserError(r, pattern, expect as never);
      if (before) expect(sha256(path)).toBe(before);
    });
  }

  it('an unknown command or flag is a usage error, exit 2', () => {
    const r = prunedet(['inspect', file('ok.onnx', good), '--no-such-flag']);
    expectUserError(r, /Unknown argument|no-such-flag/, expect as never);
    expectUserError(prunedet(['frobnicate']), /Unknown argument|frobnicate/, expect as never);
  });

  it('a bad --input-shape names the flag and the fix', () => {
    expectUserError(
      prunedet(['inspect', file('ok2.onnx', good), '--input-shape', '1,3,abc']),
      /--input-shape "1,3,abc" is not a list of positive integers; write it as N,C,H,W/,
      expect as never,
    );
  });
});

describe('inspect', () => {
  it('prints the detector view as JSON with the documented keys', () => {
    const r = prunedet(['inspect', '--json', file('ssdlite.onnx', good)]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.boxes).toBe(3234);
    expect(j.classes).toBe(91);
    expect(j.levels.map((l: { featureMap: number[] }) => l.featureMap)).toEqual([
      [20, 20],
      [10, 10],
      [5, 5],
      [3, 3],
      [2, 2],
      [1, 1],
    ]);
    expect(j.levels.every((l: { anchorsPerLocation: number }) => l.anchorsPerLocation === 6)).toBe(true);
    expect(j.headMacs).toBe(j.levels.reduce((s: number, l: { headMacs: number }) => s + l.headMacs, 0));
    expect(j.postprocessInGraph).toEqual([]);
    expect(readFileSync(join(dir, 'ssdlite.onnx')).length).toBe(good.length);
  });
});
