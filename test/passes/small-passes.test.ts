// eliminate-dead, fold-constants, remove-identity, fold-batchnorm on small hand-built graphs: the expected structure,
// numerical equality in onnxruntime, a case that does not apply (with its reason), and idempotence.
import { describe, expect, it } from 'vitest';
import { A, GraphBuilder, finishModel } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Tensor } from '../../src/ir/tensor';
import type { Model } from '../../src/ir/graph';
import { modelToBytes } from '../../src/onnx/save';
import { loadModel } from '../../src/onnx/load';
import { runPipeline, stepOf } from '../../src/pipeline';
import { eliminateDead } from '../../passes/eliminate-dead';
import { foldConstants } from '../../passes/fold-constants';
import { removeIdentity } from '../../passes/remove-identity';
import { foldBatchnorm } from '../../passes/fold-batchnorm';
import type { Pass } from '../../src/pipeline';
import { randomInput, run } from '../_support/ort';
import { uniform, prng, convWeight } from '../../fixtures/random';

async function apply(model: Model, pass: Pass) {
  const before = modelToBytes(model);
  const [r] = (await runPipeline(model, [stepOf(pass, undefined)])).steps;
  return { r: r!, before };
}

async function sameOutputs(a: Uint8Array, b: Uint8Array, dims: number[]): Promise<number> {
  const feeds = { x: { dims, data: randomInput(dims, 9) } };
  const [oa, ob] = [await run(a, feeds), await run(b, feeds)];
  let max = 0;
  for (const k of Object.keys(oa)) oa[k]!.data.forEach((v, i) => (max = Math.max(max, Math.abs(v - ob[k]!.data[i]!))));
  return max;
}

function convBnGraph(shareWeight: boolean): Model {
  const r = prng(3);
  const b = new GraphBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 8, 8]);
  const w = b.init('w', convWeight(r, 6, 4, 3));
  const y = b.conv(x, w, b.init('bias', uniform(r, [6], -1, 1)), { pad: 1, name: 'conv' });
  const bn = b.op(
    'BatchNormalization',
    [
      y,
      b.init('g', uniform(r, [6], 0.5, 1.5)),
      b.init('beta', uniform(r, [6], -1, 1)),
      b.init('m', uniform(r, [6], -1, 1)),
      b.init('v', uniform(r, [6], 0.2, 2)),
    ],
    [A.float('epsilon', 1e-3)],
    'bn',
  );
  b.output(b.relu(bn, 'out'));
  if (shareWeight) b.output(b.conv(x, w, undefined, { pad: 1, name: 'other' }));
  return finishModel(b.graph);
}

describe('fold-batchnorm', () => {
  it('folds BN into the conv: one Conv left, same outputs; a shared weight stays for its other user', async () => {
    const model = convBnGraph(true);
    const { r, before } = await apply(model, foldBatchnorm);
    expect(r).toMatchObject({ changed: true, stats: { folded: 1 } });
    // the folded conv now writes the BN's output: that value is what verify must not compare bit for bit
    expect(r.rounding).toEqual([
      { value: model.graph.nodes.find((n) => n.name === 'conv')!.output().name, how: 'batchnorm-folded' },
    ]);
    expect(model.graph.nodes.map((n) => n.opType).sort()).toEqual(['Conv', 'Conv', 'Relu']);
    const other = model.graph.nodes.find((n) => n.name === 'other')!;
    expect(other.inputs[1]!.name).toBe('w');
    expect(await sameOutputs(before, modelToBytes(model), [1, 4, 8, 8])).toBeLessThan(1e-5);
    const again = await apply(model, foldBatchnorm);
    expect(again.r).toMatchObject({ changed: false, skipped: 'no BatchNormalization follows a Conv it alone reads' });
  });

  it('leaves a BN whose conv output has another reader', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 2, 4, 4]);
    const y = b.conv(x, b.init('w', Tensor.fromFloat32([2, 2, 1, 1], Float32Array.from([1, 0, 0, 1]))), undefined, {});
    const ones = Tensor.fromFloat32([2], Float32Array.from([1, 1]));
    const bn = b.op('BatchNormalization', [
      y,
      b.init('g', ones),
      b.init('b', Tensor.fromFloat32([2], new Float32Array(2))),
      b.init('m', Tensor.fromFloat32([2], new Float32Array(2))),
      b.init('v', ones),
    ]);
    b.output(b.op('Add', [bn, y]));
    const { r } = await apply(finishModel(b.graph), foldBatchnorm);
    expect(r.changed).toBe(false);
  });
});

describe('fold-constants', () => {
  it('turns a Shape->Gather->Unsqueeze->Concat reshape target of a static input into one initializer', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 4, 6, 6]);
    const n = b.op('Gather', [b.op('Shape', [x]), b.constant(Tensor.fromInt64([], [0]))], [A.int('axis', 0)]);
    const t = b.concat([b.op('Unsqueeze', [n, b.constInts([0])]), b.constInts([-1]), b.constInts([4])], 0);
    const scaled = b.op('Mul', [
      b.constant(Tensor.fromFloat32([4], Float32Array.from([1, 2, 3, 4]))),
      b.constant(Tensor.fromFloat32([], Float32Array.from([0.5]))),
    ]);
    b.output(b.op('Mul', [b.reshape(b.transpose(x, [0, 2, 3, 1]), t), scaled], [], 'y'));
    const model = finishModel(b.graph);
    const { r, before } = await apply(model, foldConstants);
    expect(r.changed).toBe(true);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Transpose', 'Reshape', 'Mul']);
    const reshape = model.graph.nodes.find((n) => n.opType === 'Reshape')!;
    expect(reshape.inputs[1]!.initializer!.numbers()).toEqual([1, -1, 4]);
    expect(Array.from(model.graph.nodes[2]!.inputs[1]!.initializer!.float32())).toEqual([0.5, 1, 1.5, 2]);
    expect(await sameOutputs(before, modelToBytes(model), [1, 4, 6, 6])).toBe(0);
    // the integer shape folds and a float Mul (correctly rounded in float32, as onnxruntime computes it) change nothing
    expect(r.rounding).toEqual([]);
    expect((await apply(model, foldConstants)).r).toMatchObject({
      changed: false,
      skipped: 'no node computes a constant',
    });
  });

  it("records a folded Exp (its float32 value depends on the runtime's exp) as a rounding change", async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 4]);
    const e = b.op('Exp', [b.constant(Tensor.fromFloat32([4], Float32Array.from([0.1, 0.2, 0.3, 0.4])))], [], 'e');
    b.output(b.op('Mul', [x, e], [], 'y'));
    const model = finishModel(b.graph);
    const { r } = await apply(model, foldConstants);
    expect(r.changed).toBe(true);
    expect(r.rounding).toEqual([{ value: 'e', how: 'constant-folded' }]);
  });

  it('keeps a Shape of a symbolic batch dimension (the model stays dynamic)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, ['N', 4]);
    const n = b.op('Gather', [b.op('Shape', [x]), b.constant(Tensor.fromInt64([], [0]))], [A.int('axis', 0)]);
    b.output(b.reshape(x, b.concat([b.op('Unsqueeze', [n, b.constInts([0])]), b.constInts([2, 2])], 0), 'y'));
    const model = finishModel(b.graph);
    await apply(model, foldConstants);
    expect(model.graph.nodes.some((n) => n.opType === 'Shape')).toBe(true);
  });
});

describe('remove-identity and eliminate-dead', () => {
  it('removes inner Identity nodes, keeps output names, and drops dead branches and initializers', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [1, 3]);
    const a = b.op('Identity', [b.relu(x, 'r')], [], 'inner');
    const dead = b.op(
      'Mul',
      [x, b.init('unused_w', Tensor.fromFloat32([1, 3], Float32Array.from([1, 2, 3])))],
      [],
      'dead',
    );
    void dead;
    b.output(b.op('Identity', [b.op('Neg', [a], [], 'neg')], [], 'scores'));
    const model = finishModel(b.graph);
    const before = modelToBytes(model);
    const { r } = await apply(model, removeIdentity);
    expect(r.stats.removed).toBe(2);
    expect(model.graph.outputs.map((o) => o.name)).toEqual(['scores']);
    expect(model.graph.outputs[0]!.producer!.opType).toBe('Neg');
    const d = await apply(model, eliminateDead);
    expect(d.r.stats).toEqual({ nodesRemoved: 1, initializersRemoved: 1 });
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Relu', 'Neg']);
    expect(await sameOutputs(before, modelToBytes(model), [1, 3])).toBe(0);
    // the saved model reloads with the same structure
    expect(loadModel(modelToBytes(model)).graph.nodes.length).toBe(2);
    expect((await apply(model, eliminateDead)).r).toMatchObject({
      changed: false,
      skipped: 'every node reaches an output',
    });
    expect((await apply(model, removeIdentity)).r.changed).toBe(false);
  });

  it('keeps an Identity that renames a graph input into an output', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', DataType.FLOAT, [2]);
    b.output(b.op('Identity', [x], [], 'y'));
    const model = finishModel(b.graph);
    const { r } = await apply(model, removeIdentity);
    expect(r).toMatchObject({ changed: false, stats: { kept: 1 } });
  });
});
