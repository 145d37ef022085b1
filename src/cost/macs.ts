// Cost model with the convention of the anchor-pruning paper's tables: conv MACs = N·Hout·Wout·Cout·(Cin/groups)·kH·kW;
// bias, activations, pooling and data movement count zero. Matrix products count M·N·K.
import type { Graph, Node, Value } from '../ir/graph';
import { isFloatType } from '../ir/dtype';
import type { ShapeResult } from '../shape/infer';
import { isStatic } from '../shape/types';

/** A float initializer, or integer weights / bias of a quantized conv (DequantizeLinear's x, QLinearConv's w and B). */
function isParameter(v: Value): boolean {
  if (isFloatType(v.initializer!.dataType)) return true;
  return v.uses.some(
    (u) =>
      u.node.domain === '' &&
      ((u.node.opType === 'DequantizeLinear' && u.index === 0) ||
        (u.node.opType === 'QLinearConv' && (u.index === 3 || u.index === 8))),
  );
}

type MacRule = (node: Node, shapes: ShapeResult) => number | undefined;

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

function staticShape(shapes: ShapeResult, node: Node, i: number, output = false): number[] | undefined {
  const v = output ? node.outputs[i] : node.inputs[i];
  const s = shapes.shape(v);
  return isStatic(s) ? s : undefined;
}

const convMacs: MacRule = (node, shapes) => {
  const y = staticShape(shapes, node, 0, true);
  const w = staticShape(shapes, node, 1);
  if (!y || !w) return undefined;
  // W = [Cout, Cin/groups, k...]; Y = [N, Cout, spatial...]
  return prod(y) * prod(w.slice(1));
};

/** QLinearConv (x, x_scale, x_zp, w, ...): a Conv of x and w, counted alike. */
const qlinearConvMacs: MacRule = (node, shapes) => {
  const y = staticShape(shapes, node, 0, true);
  const w = staticShape(shapes, node, 3);
  if (!y || !w) return undefined;
  return prod(y) * prod(w.slice(1));
};

const convTransposeMacs: MacRule = (node, shapes) => {
  const x = staticShape(shapes, node, 0);
  const w = staticShape(shapes, node, 1);
  if (!x || !w) return undefined;
  // W = [Cin, Cout/groups, k...]: every input element is scattered into Cout/groups·k outputs.
  return prod(x) * prod(w.slice(1));
};

const gemmMacs: MacRule = (node, shapes) => {
  const a = staticShape(shapes, node, 0);
  const y = staticShape(shapes, node, 0, true);
  if (!a || !y) return undefined;
  const k = node.getInt('transA', 0) ? a[0]! : a[1]!;
  return prod(y) * k;
};

const matmulMacs: MacRule = (node, shapes) => {
  const a = staticShape(shapes, node, 0);
  const y = staticShape(shapes, node, 0, true);
  if (!a || !y) return undefined;
  return prod(y) * a[a.length - 1]!;
};

const MAC_RULES: Readonly<Record<string, MacRule>> = {
  Conv: convMacs,
  QLinearConv: qlinearConvMacs,
  ConvTranspose: convTransposeMacs,
  Gemm: gemmMacs,
  MatMul: matmulMacs,
};

/** MACs of one node: a number, 0 for ops the convention does not count, undefined when shapes are unknown. */
export function nodeMacs(node: Node, shapes: ShapeResult): number | undefined {
  const rule = node.domain === '' ? MAC_RULES[node.opType] : undefined;
  return rule ? rule(node, shapes) : 0;
}

export interface CostSummary {
  totalMacs: number;
  /** Nodes whose MACs could not be computed (unknown shapes); their cost is missing from the total. */
  unknown: Node[];
  perNode: Map<Node, number>;
  /**
   * Elements of floating-point initializers (weights, biases, BN statistics, embedded anchor tables) and of quantized
   * weights and biases (the integer data a DequantizeLinear or a QLinearConv reads as w or B).
   */
  params: number;
}

export function summarizeCost(graph: Graph, shapes: ShapeResult): CostSummary {
  const perNode = new Map<Node, number>();
  const unknown: Node[] = [];
  let totalMacs = 0;
  for (const n of graph.nodes) {
    const m = nodeMacs(n, shapes);
    if (m === undefined) unknown.push(n);
    else {
      perNode.set(n, m);
      totalMacs += m;
    }
  }
  let params = 0;
  for (const v of graph.initializers) if (isParameter(v)) params += v.initializer!.size;
  return { totalMacs, unknown, perNode, params };
}
