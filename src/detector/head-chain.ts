// The branch behind each head output conv: walking back from it while nodes belong to that branch alone (one
// consumer, same spatial size) gives the tower convs (counted in head MACs) and the feature map the head reads. For a
// depthwise output conv, the conv feeding it carries the same anchor channels: those are its feeders.
import type { Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { PrunedetError } from '../errors';
import { convWeight, isConvLike, isQuantDequant } from '../quant/ops';

/** Per-tensor QuantizeLinear / DequantizeLinear: element-wise, no per-channel parameter to slice. */
function perTensorQdq(n: Node): boolean {
  return isQuantDequant(n) && [n.inputs[1], n.inputs[2]].every((v) => !v || v.constant()?.size === 1);
}

/** Ops that act per channel (their parameters, if any, are indexed by channel) and keep the shape. */
const PER_CHANNEL_OPS = new Set([
  'BatchNormalization',
  'Relu',
  'Clip',
  'LeakyRelu',
  'HardSwish',
  'HardSigmoid',
  'Sigmoid',
  'PRelu',
  'Elu',
  'Selu',
  'Mish',
  'Tanh',
  'Identity',
]);

function spatial(shapes: ShapeResult, v: Value | undefined): string {
  return (shapes.shape(v) ?? []).slice(2).join('x');
}

function isDepthwise(conv: Node, shapes: ShapeResult): boolean {
  const w = shapes.shape(convWeight(conv));
  const group = conv.getInt('group', 1);
  return group > 1 && w?.[1] === 1 && w?.[0] === group;
}

export interface HeadBranch {
  /** Nodes of the branch (convs and per-channel ops), nearest first, excluding the output conv. */
  nodes: Node[];
  /** The value the branch starts from (the level's feature map). */
  feature: Value;
  /** For a depthwise output conv: the conv feeding it and the per-channel ops in between (nearest last). */
  feeders: Node[];
}

/** The branch behind head output conv `conv`. */
export function headBranch(conv: Node, shapes: ShapeResult): HeadBranch {
  const nodes: Node[] = [];
  let v = conv.inputs[0]!;
  const size = spatial(shapes, conv.output());
  for (;;) {
    const p = v.producer;
    if (!p || v.uses.length !== 1 || v.isGraphOutput || spatial(shapes, v) !== size) break;
    if (isConvLike(p) || PER_CHANNEL_OPS.has(p.opType) || perTensorQdq(p)) {
      nodes.push(p);
      v = p.inputs[0]!;
      continue;
    }
    break;
  }
  return { nodes, feature: v, feeders: depthwiseFeeders(conv, shapes) };
}

/** A depthwise output conv maps channel c to channel c: the conv before it must shrink with it. */
function depthwiseFeeders(conv: Node, shapes: ShapeResult): Node[] {
  if (!isDepthwise(conv, shapes)) return [];
  const chain: Node[] = [];
  let v = conv.inputs[0]!;
  for (;;) {
    const p = v.producer;
    if (!p || v.uses.length !== 1) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `depthwise head conv ${conv.label()} reads ${v.name}, which ${p ? 'other nodes also read' : 'is not computed by a conv'}; its anchor channels cannot be sliced alone`,
        'pass --head-spec naming a plain conv',
      );
    }
    chain.unshift(p);
    if (isConvLike(p)) {
      if (isDepthwise(p, shapes)) {
        throw new PrunedetError(
          'E_HEAD_AMBIGUOUS',
          `depthwise head conv ${conv.label()} is fed by another depthwise conv ${p.label()}`,
          'pass --head-spec',
        );
      }
      return chain;
    }
    if (!PER_CHANNEL_OPS.has(p.opType) && !perTensorQdq(p)) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `depthwise head conv ${conv.label()} is fed through ${p.label()}, which prunedet cannot slice per channel`,
        'pass --head-spec',
      );
    }
    v = p.inputs[0]!;
  }
}
