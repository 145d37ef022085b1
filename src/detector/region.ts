// The head region: the nodes between the head's output convs and the graph outputs (layout ops, activations,
// decode arithmetic), found by walking back from the outputs; and the provenance trace over it, which says for every
// element of every region value which head-conv element it came from.
import type { Graph, Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { PrunedetError } from '../errors';
import { LAYOUT_OPS, LayoutEvalError, evalNode, type Arr } from './layout-eval';
import { StaticValues } from './static-values';
import { isConvLike, isQLinearConcat, isUnhandledQuantOp } from '../quant/ops';

export interface Boundary {
  /** The value where the walk stopped. */
  value: Value;
  /** 'conv': a head conv output; 'input': a graph input; 'other': an op that is neither layout nor conv. */
  kind: 'conv' | 'input' | 'other';
  node?: Node;
}

export interface Region {
  /** Head output convs in discovery order (outputs first to last, inputs first to last). */
  convs: Node[];
  /** Layout nodes in topological order, fed by the convs and static values only (their shapes are fixed). */
  nodes: Node[];
  boundaries: Boundary[];
  /**
   * In-graph post-processing after the region (score filters, top-k, NMS and everything downstream of them), in
   * topological order. Empty for exports that end at the head, activation or box decoding.
   */
  post: Node[];
  /** Values of the region (conv outputs included) that post-processing or the graph outputs read. */
  exits: Value[];
  /** What is fixed before run time in this graph. */
  statics: StaticValues;
}

/**
 * Ops of in-graph post-processing the walk passes through on its way back to the head: score thresholds, index
 * selection, top-k, NMS, the index arithmetic between them, and control flow (torchvision's batched NMS is an If).
 */
export const POSTPROCESS_OPS = new Set([
  'NonZero',
  'TopK',
  'NonMaxSuppression',
  'GatherND',
  'GatherElements',
  'Greater',
  'Less',
  'Equal',
  'GreaterOrEqual',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'Where',
  'If',
  'Loop',
  'ReduceMax',
  'ReduceMin',
  'ReduceSum',
  'ReduceProd',
  'ReduceMean',
  'ArgMax',
  'ArgMin',
  'Mod',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'ConstantOfShape',
  'Range',
  'ScatterND',
  'ScatterElements',
  'Compress',
  'CumSum',
]);

/**
 * Walk back from `outputs` through layout ops and in-graph post-processing; stop at convs, graph inputs, static
 * values and other ops. The layout nodes fed only by convs and static values form the region; the rest is post.
 */
export function findRegion(
  graph: Graph,
  shapes: ShapeResult,
  outputs: Value[] = graph.outputs,
  statics = new StaticValues(graph, shapes),
): Region {
  const convs: Node[] = [];
  const boundaries: Boundary[] = [];
  const visited = new Set<Node>();
  const seen = new Set<Value>();
  const stack = [...outputs].reverse();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (statics.has(v)) continue;
    const p = v.producer;
    if (!p) {
      boundaries.push({ value: v, kind: 'input' });
      continue;
    }
    if (isConvLike(p)) {
      if (!convs.includes(p)) convs.push(p);
      boundaries.push({ value: v, kind: 'conv', node: p });
      continue;
    }
    if ((p.domain === '' && (LAYOUT_OPS.has(p.opType) || POSTPROCESS_OPS.has(p.opType))) || isQLinearConcat(p)) {
      visited.add(p);
      const next = [...p.inputs, ...p.captures].filter((i): i is Value => i !== undefined);
      for (let i = next.length - 1; i >= 0; i--) stack.push(next[i]!);
      continue;
    }
    if (isUnhandledQuantOp(p)) {
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `quantized op ${p.label()}${p.domain ? ` of domain ${p.domain}` : ''} sits between the head convs and the outputs; prunedet follows QuantizeLinear, DequantizeLinear and QLinearConv only`,
        'quantize the head in QDQ form (Q/DQ around float convs) or with QLinearConv, then compile again',
      );
    }
    boundaries.push({ value: v, kind: 'other', node: p });
  }
  const inRegion = new Set<Value>(convs.map((c) => c.output()));
  const nodes: Node[] = [];
  const post: Node[] = [];
  for (const n of graph.topoOrder()) {
    if (!visited.has(n)) continue;
    const fed =
      n.captures.length === 0 &&
      (LAYOUT_OPS.has(n.opType) || isQLinearConcat(n)) &&
      n.inputs.every((i) => !i || inRegion.has(i) || statics.has(i)) &&
      n.inputs.some((i) => i && inRegion.has(i));
    if (fed) {
      nodes.push(n);
      for (const o of n.outputs) if (o) inRegion.add(o);
    } else {
      post.push(n);
    }
  }
  const exits: Value[] = [];
  const addExit = (v: Value) => inRegion.has(v) && !exits.includes(v) && exits.push(v);
  for (const o of outputs) addExit(o);
  for (const n of post) for (const i of [...n.inputs, ...n.captures]) if (i) addExit(i);
  return { convs, nodes, boundaries, post, exits, statics };
}

/** Provenance codes: head conv i's element `flat` is i * CONV_BITS + flat (negative: no head-conv element). */
const CONV_BITS = 2 ** 24;

/** Provenance code of element `flat` of head conv `i`. */
export function provenanceCode(conv: number, flat: number): number {
  return conv * CONV_BITS + flat;
}

/** The head conv a provenance code (>= 0) names; allocation-free, for hot loops. */
export function provenanceConv(code: number): number {
  return Math.floor(code / CONV_BITS);
}

/** The element of its head conv a provenance code (>= 0) names; allocation-free, for hot loops. */
export function provenanceFlat(code: number): number {
  return code % CONV_BITS;
}

export function decodeProvenance(code: number): { conv: number; flat: number } {
  return { conv: provenanceConv(code), flat: provenanceFlat(code) };
}

/**
 * How many times this process ran the detector analysis and traced a head region: the claim "one analysis per model
 * state" is tested by counting (test/detector/analysis-once.test.ts). Diagnostics only; nothing reads it to decide.
 */
export const analysisRuns = { analyses: 0, traces: 0 };

/**
 * Run the region in trace mode: every head conv output element starts with its own provenance code; returns the
 * traced array of every value the region computes (and of the conv outputs).
 */
export function traceRegion(region: Region, shapes: ShapeResult): Map<Value, Arr> {
  analysisRuns.traces++;
  if (region.convs.length >= 128) {
    throw new PrunedetError(
      'E_HEAD_AMBIGUOUS',
      `the outputs read ${region.convs.length} convs directly; prunedet traces at most 127`,
      'describe the head with --head-spec',
    );
  }
  const env = new Map<Value, Arr>();
  region.convs.forEach((conv, i) => {
    const out = conv.output();
    const s = shapes.requireStatic(out, `tracing head conv ${conv.label()}`);
    const n = s.reduce((a, b) => a * b, 1);
    if (n >= CONV_BITS) {
      throw new PrunedetError(
        'E_HEAD_AMBIGUOUS',
        `head conv ${conv.label()} has ${n} output elements, more than prunedet's tracer handles (16.7M)`,
        'analyse the model at a smaller --input-shape',
      );
    }
    const data = new Int32Array(n);
    for (let k = 0; k < n; k++) data[k] = i * CONV_BITS + k;
    env.set(out, { shape: s, data });
  });
  runRegion(region, shapes, env, 'trace');
  return env;
}

/** The region's nodes that `targets` depend on, in order. */
export function nodesFor(region: Region, targets: Value[]): Node[] {
  const need = new Set<Node>();
  const stack = [...targets];
  const inRegion = new Set(region.nodes);
  while (stack.length) {
    const p = stack.pop()!.producer;
    if (!p || !inRegion.has(p) || need.has(p)) continue;
    need.add(p);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return region.nodes.filter((n) => need.has(n));
}

/** Evaluate the region's nodes (or `only` those) in order into `env` (which already holds the conv outputs). */
export function runRegion(
  region: Region,
  shapes: ShapeResult,
  env: Map<Value, Arr>,
  mode: 'trace' | 'value',
  only?: Node[],
): void {
  const ctx = { mode, shapes, env, statics: region.statics };
  for (const node of only ?? region.nodes) {
    try {
      const outs = evalNode(ctx, node);
      node.outputs.forEach((v, i) => v && outs[i] && env.set(v, outs[i]!));
    } catch (e) {
      if (e instanceof LayoutEvalError) {
        throw new PrunedetError(
          'E_OP_UNSUPPORTED',
          `cannot follow the head's outputs through node ${e.node.label()}: ${e.message}`,
          'simplify the model (onnx-simplifier) or pass --head-spec',
        );
      }
      throw e;
    }
  }
}
