/*
 * fold-batchnorm: fold an inference BatchNormalization into the Conv before it.
 *
 *   Before: x -> Conv(W, b) -> y -> BatchNormalization(gamma, beta, mean, var, eps) -> z
 *   After:  x -> Conv(W', b') -> z
 *   with s = gamma / sqrt(var + eps):  W'[o] = W[o] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o]
 *   (computed in float64, rounded once to float32).
 *
 * Preconditions: the Conv output feeds only the BN, W/b/BN parameters are float32 constants, BN has one output
 * (inference). New weights are new initializers: a W shared with other convs is left as it was for them.
 * Records each folded conv's output (the BN's output name) as a rounding change: verify derives its tolerance from it.
 */
import type { Pass, RoundingChange } from '../src/pipeline';
import type { Node } from '../src/ir/graph';
import { Tensor } from '../src/ir/tensor';
import { DataType } from '../src/ir/dtype';
import { removeDead } from '../src/ir/dce';

function foldable(bn: Node): Node | undefined {
  if (bn.opType !== 'BatchNormalization' || bn.domain !== '' || bn.outputs.filter(Boolean).length !== 1)
    return undefined;
  if (bn.getInt('training_mode', 0) !== 0) return undefined;
  const y = bn.inputs[0];
  const conv = y?.producer;
  if (!conv || conv.opType !== 'Conv' || conv.domain !== '' || y!.uses.length !== 1 || y!.isGraphOutput)
    return undefined;
  const params = [conv.inputs[1], conv.inputs[2], ...bn.inputs.slice(1, 5)];
  if (
    params.some((v, i) =>
      i === 1
        ? v !== undefined && v.constant()?.dataType !== DataType.FLOAT
        : v?.constant()?.dataType !== DataType.FLOAT,
    )
  )
    return undefined;
  return conv;
}

export const foldBatchnorm: Pass = {
  name: 'fold-batchnorm',
  summary: 'Fold inference BatchNormalization into the preceding Conv.',
  run(graph) {
    let folded = 0;
    const rounding: RoundingChange[] = [];
    for (const bn of [...graph.nodes]) {
      const conv = foldable(bn);
      if (!conv) continue;
      const w = conv.inputs[1]!.constant()!;
      const bias = conv.inputs[2]?.constant()?.float32();
      const [gamma, beta, mean, variance] = bn.inputs.slice(1, 5).map((v) => v!.constant()!.float32());
      const eps = bn.getFloat('epsilon', 1e-5);
      const cout = w.dims[0]!;
      const per = w.size / cout;
      const wd = w.float32();
      const nw = new Float32Array(w.size);
      const nb = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const s = gamma![o]! / Math.sqrt(variance![o]! + Math.fround(eps));
        for (let i = 0; i < per; i++) nw[o * per + i] = wd[o * per + i]! * s;
        nb[o] = ((bias ? bias[o]! : 0) - mean![o]!) * s + beta![o]!;
      }
      conv.setInput(1, graph.addInitializer(`${conv.inputs[1]!.name}_bnfold`, Tensor.fromFloat32([...w.dims], nw)));
      conv.setInput(
        2,
        graph.addInitializer(
          `${conv.inputs[2]?.name ?? `${conv.name || 'conv'}_bias`}_bnfold`,
          Tensor.fromFloat32([cout], nb),
        ),
      );
      const z = bn.outputs.find(Boolean)!;
      const y = conv.output();
      graph.removeNode(bn);
      conv.setOutput(0, z);
      graph.values.delete(y.name);
      rounding.push({ value: z.name, how: 'batchnorm-folded' });
      folded++;
    }
    if (!folded)
      return {
        changed: false,
        stats: { folded },
        rounding,
        skipped: 'no BatchNormalization follows a Conv it alone reads',
      };
    return { changed: true, stats: { folded, ...removeDead(graph) }, rounding, analysis: 'invalidated' };
  },
};
