// The paper's oracle inside the graph: the original model with the removed anchors' scores forced to zero where the
// in-graph post-processing reads them. A compiled full export (head pruned, post-processing kept) must give exactly
// the detections of this masked original, because a zero score never passes a strictly-greater score threshold and
// every other candidate keeps its values and its order.
import type { Model, Node, Value } from '../ir/graph';
import { Tensor } from '../ir/tensor';
import { DataType } from '../ir/dtype';
import { loadModel } from '../onnx/load';
import { modelToBytes } from '../onnx/save';
import type { ShapeResult } from '../shape/infer';
import { analyzeDetector, opsOnPath } from './analyze';
import { forEachSubgraphNode } from '../onnx/subgraphs';
import { provenanceConv, provenanceFlat } from './region';
import { keptChannels } from './keep';

const ACTIVATIONS = new Set(['Sigmoid', 'Softmax']);

/**
 * A copy of `model` whose head tensors (those the post-processing or the outputs read) hold 0 (or, before any
 * activation, the lowest float) at the score values of anchors not in `kept` (per level, as --remove resolves).
 * Returns the copy and how many values it masks.
 */
export function maskRemovedAnchors(
  model: Model,
  kept: number[][],
  shapesOf: (m: Model) => ShapeResult,
): { model: Model; masked: number } {
  const copy = loadModel(modelToBytes(model));
  const g = copy.graph;
  const shapes = shapesOf(copy);
  const spec = analyzeDetector(copy, shapes);
  const { region, trace: traced } = spec.head;
  // per head conv, 1 where a channel carries a removed anchor's score
  const removed = new Map<number, Uint8Array>();
  region.convs.forEach((node, ci) => {
    const level = spec.levels.find((l) => l.convs.some((c) => c.node === node));
    const conv = level?.convs.find((c) => c.node === node);
    if (!level || !conv) return;
    const keep = new Set(keptChannels(conv, level.anchorsPerLocation, kept[level.index] ?? []));
    const m = new Uint8Array(conv.channels);
    for (let a = 0; a < level.anchorsPerLocation; a++) {
      for (const grp of conv.groups.filter((x) => x.role === 'scores')) {
        for (let k = grp.offset; k < grp.offset + grp.size; k++) {
          const ch = conv.layout === 'anchor-major' ? a * conv.valuesPerAnchor + k : k * level.anchorsPerLocation + a;
          if (!keep.has(ch)) m[ch] = 1;
        }
      }
    }
    removed.set(ci, m);
  });
  const convShapes = region.convs.map((c) => shapes.requireStatic(c.output(), 'anchor masking'));
  const inRegion = new Set(region.nodes);
  let masked = 0;
  for (const e of region.exits) {
    const arr = traced.get(e);
    if (!arr) continue;
    const keepElem = new Uint8Array(arr.data.length).fill(1);
    let n = 0;
    arr.data.forEach((code, i) => {
      if (code < 0) return;
      const ci = provenanceConv(code);
      const [, C, H, W] = convShapes[ci]!;
      const ch = Math.floor(provenanceFlat(code) / (H! * W!)) % C!;
      if (removed.get(ci)?.[ch]) {
        keepElem[i] = 0;
        n++;
      }
    });
    if (!n) continue;
    const activated = opsOnPath(e, inRegion).some((op) => ACTIVATIONS.has(op));
    const fill = g.addInitializer(
      `${e.name}_masked_fill`,
      Tensor.fromFloat32([], Float32Array.of(activated ? 0 : -3.4028234663852886e38)),
    );
    const mask = g.addInitializer(`${e.name}_kept_mask`, Tensor.fromNumbers(DataType.BOOL, arr.shape, keepElem));
    const out = g.newValue(`${e.name}_masked`);
    const users = e.uses.filter((u) => u.index >= 0).map((u) => [u.node, u.index] as const);
    const node = g.addNode('Where', [mask, e, fill], [out], {
      name: g.uniqueName(`${e.name}_mask`),
      ...(e.producer ? { after: e.producer } : {}),
    });
    for (const [user, i] of users) if (user !== node) user.setInput(i, out);
    for (const user of new Set(e.uses.filter((u) => u.index < 0).map((u) => u.node))) rewireCapture(user, e, out);
    g.outputs = g.outputs.map((o) => (o === e ? out : o));
    masked += n;
  }
  return { model: copy, masked };
}

/** A subgraph (If/Loop body) that reads `from` by name reads `to` instead. */
function rewireCapture(node: Node, from: Value, to: Value): void {
  forEachSubgraphNode(node, (n) => {
    if (n.input) n.input = n.input.map((x) => (x === from.name ? to.name : x));
  });
  const i = node.captures.indexOf(from);
  if (i >= 0) {
    node.captures[i] = to;
    const u = from.uses.findIndex((x) => x.node === node && x.index === -1);
    if (u >= 0) from.uses.splice(u, 1);
    to.uses.push({ node, index: -1 });
  }
}
