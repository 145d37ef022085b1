// compile --input-type / --input-layout end to end (issue 16 items 2 and 3): an int8 C module and an NHWC uint8
// per-level module (--cut-head) compiled from the ssd300 fixture; verify builds each with gcc and finds the reference's
// detections, bit for bit, on the outputs quantized as the module reads them. The scale and zero point of `scores:int8`
// are read from the DequantizeLinear before an output (a fixture whose outputs go through QuantizeLinear ->
// DequantizeLinear, as a QDQ export's last ops do: analysis records them, compile reads the record). Refusals.
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../fixtures/index';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';
import type { Model } from '../../src/ir/graph';
import { verify } from '../../src/jobs/verify/index';
import { detect } from '../../src/jobs/detect/index';
import { encodePng } from '../../src/image/png-encode';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileTemp, saveTemp, tempDir } from '../_support/compile';
import { hasGcc } from '../_support/gcc';

const SCALES = { scores: 0.0625, boxes: 0.015625 };
const ZPS = { scores: -20, boxes: 3 };

/** The ssd300 fixture (concat outputs) with a per-tensor int8 Q/DQ pair before each output. */
function withOutputQdq(): Model {
  const m = buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' });
  const g = m.graph;
  for (const name of ['scores', 'boxes'] as const) {
    const out = g.outputs.find((v) => v.name === name)!;
    g.renameValue(out, `${name}_float`);
    const scale = g.addInitializer(`${name}_scale`, Tensor.fromFloat32([], Float32Array.of(SCALES[name])));
    const zp = g.addInitializer(`${name}_zp`, Tensor.fromNumbers(DataType.INT8, [], [ZPS[name]]));
    const q = g.newValue(`${name}_q`);
    g.addNode('QuantizeLinear', [out, scale, zp], [q], { name: `${name}_quantize` });
    const dq = g.value(name);
    g.addNode('DequantizeLinear', [q, scale, zp], [dq], { name: `${name}_dequantize` });
    g.outputs[g.outputs.indexOf(out)] = dq;
    dq.info = out.info;
    out.info = undefined;
  }
  return m;
}

const base = { config: 'configs/ssd300/config_b.py', postprocess: 'mmdet-ssd300', emit: ['c'] };

describe.skipIf(!hasGcc)('compile --input-type and --input-layout', () => {
  it('scale and zero point left out are read from the DequantizeLinear before each output', async () => {
    const model = saveTemp(withOutputQdq());
    const { report } = await compileTemp(model, { ...base, inputType: 'scores:int8,boxes:int8' });
    expect(report.postprocess!.inputQuant).toEqual({
      scores: { type: 'int8', scale: SCALES.scores, zeroPoint: ZPS.scores },
      boxes: { type: 'int8', scale: SCALES.boxes, zeroPoint: ZPS.boxes },
    });
    await expect(compileTemp(model, { ...base, inputType: 'scores:uint8' })).rejects.toThrow(
      /DequantizeLinear reads int8/,
    );
    const plain = saveTemp(buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' }));
    await expect(compileTemp(plain, { ...base, inputType: 'boxes:int8' })).rejects.toThrow(
      /no single per-tensor DequantizeLinear/,
    );
  });

  it('int8 scores and boxes, concatenated rows: verify runs the int8 module bit for bit', async () => {
    const model = saveTemp(buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' }));
    const { outDir, report } = await compileTemp(model, {
      ...base,
      inputType: `scores:int8:${SCALES.scores}:${ZPS.scores},boxes:int8:${SCALES.boxes}:${ZPS.boxes}`,
    });
    expect(report.postprocess!.inputQuant).toEqual({
      scores: { type: 'int8', scale: SCALES.scores, zeroPoint: ZPS.scores },
      boxes: { type: 'int8', scale: SCALES.boxes, zeroPoint: ZPS.boxes },
    });
    const r = await verify({ original: model, outDir, samples: 1 });
    expect(r.checks.cModule).toMatchObject({ status: 'pass', runs: 3 });
    expect(r.checks.cModule.detections).toBeGreaterThan(0);
    // detect writes no float test vectors the int8 module could not read: none by default, a refusal when asked
    const images = tempDir();
    const px = new Uint8Array(300 * 300 * 3).map((_, i) => (i * 37) % 251);
    writeFileSync(join(images, 'a.png'), encodePng({ width: 300, height: 300, data: px }));
    const d = await detect({ model: outDir, images, outDir: join(tempDir(), 'det') });
    expect(d.module).toMatchObject({ vectors: 0, noVectors: expect.stringMatching(/int8\/uint8 inputs/) });
    expect(d.files).not.toContain('test_vectors.h');
    await expect(detect({ model: outDir, images, outDir: join(tempDir(), 'det2'), vectors: 1 })).rejects.toThrow(
      /test_vectors.h is not written for this module yet/,
    );
  });

  it('NHWC per-level maps with uint8 scores given on the command line (--cut-head): verify passes', async () => {
    const model = saveTemp(buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' }));
    const { outDir, report } = await compileTemp(model, {
      ...base,
      cutHead: true,
      inputLayout: 'nhwc',
      inputType: 'scores:uint8:0.05:160',
    });
    expect(report.postprocess).toMatchObject({ inputLayout: 'nhwc', input: 'per-level' });
    const r = await verify({ original: model, outDir, samples: 1 });
    expect(r.checks.cModule).toMatchObject({ status: 'pass', runs: 3 });
    expect(r.checks.cModule.detections).toBeGreaterThan(0);
  });

  it('refuses malformed types, missing parameters, a zero scale, nhwc for concatenated rows', async () => {
    const plain = saveTemp(buildFixture('ssd300', { outputs: 'concat', backbone: 'tiny' }));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ inputType: 'scores:int4:1:0' }, /type int4/],
      [{ inputType: 'logits:int8:1:0' }, /--input-type "logits:int8:1:0"/],
      [{ inputType: 'scores:int8:0:0' }, /scale 0/],
      [{ inputType: 'scores:uint8:0.1:300' }, /zero point 300/],
      [{ inputType: 'scores:int8' }, /no single per-tensor DequantizeLinear/],
      [{ inputLayout: 'nhwc' }, /--input-layout nhwc is for per-level maps/],
      [{ inputLayout: 'nwhc' }, /unknown --input-layout nwhc/],
    ];
    for (const [o, msg] of cases)
      await expect(compileTemp(plain, { ...base, ...o }), JSON.stringify(o)).rejects.toMatchObject({
        code: 'E_USAGE',
        message: expect.stringMatching(msg),
      });
    await expect(
      compileTemp(plain, { config: base.config, postprocess: base.postprocess, inputType: 'scores:int8:1:0' }),
    ).rejects.toMatchObject({ code: 'E_USAGE', hint: 'add --emit c' });
  });
});
