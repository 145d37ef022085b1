// Recovering an anchor table the graph embeds. Two ways, as exporters put it there:
//  - decoded in the head region: decoding zero deltas yields the anchors themselves (exp(0) = 1 keeps the prior
//    sizes, zero offsets keep the prior centres), however the exporter split the table into constants or computed it
//    from feature-map sizes. Clipping to the image (torchvision's clip_boxes_to_image: Max/Min/Clip against
//    constants) is post-processing, not decoding: it is skipped, so border anchors keep their true extent.
//  - looked up by the in-graph post-processing (torchvision RetinaNet): the static tensors gathered at selected
//    anchor positions (post-region.ts) are the table, one per level.
import type { Node, Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { PrunedetError } from '../errors';
import { nodesFor, runRegion, type Region } from './region';
import type { Arr } from './layout-eval';
import type { AnchorIndexed } from './post-region';
import type { AnchorTable } from './spec';

/** Max/Min/Clip of a value against fixed bounds: the clip to the image, which zero-delta decoding skips. */
function clipInput(n: Node, region: Region): Value | undefined {
  if (n.opType === 'Clip') return n.inputs[0];
  if (n.opType !== 'Max' && n.opType !== 'Min') return undefined;
  const dynamic = n.inputs.filter((v) => v && !region.statics.has(v));
  return dynamic.length === 1 ? dynamic[0] : undefined;
}

export function recoverAnchorTable(
  boxesOut: Value,
  region: Region,
  shapes: ShapeResult,
  boxes: number,
): AnchorTable | undefined {
  const env = new Map<Value, Arr>();
  const nodes = nodesFor(region, [boxesOut]);
  const needed = new Set(nodes.flatMap((n) => n.inputs));
  for (const conv of region.convs) {
    if (!needed.has(conv.output())) continue;
    const s = shapes.requireStatic(conv.output(), 'anchor table recovery');
    env.set(conv.output(), { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)) });
  }
  for (const n of nodes) {
    const through = clipInput(n, region);
    const arr = through ? env.get(through) : undefined;
    if (arr && shapes.shape(n.outputs[0])?.join() === arr.shape.join()) env.set(n.outputs[0]!, arr);
    else runRegion(region, shapes, env, 'value', [n]);
  }
  const arr = env.get(boxesOut);
  if (!arr || arr.shape[arr.shape.length - 1] !== 4) return undefined;
  const xyxy = arr.data as Float32Array;
  if (xyxy.length !== boxes * 4) {
    throw new PrunedetError(
      'E_HEAD_AMBIGUOUS',
      `decoded output ${boxesOut.name} has ${xyxy.length / 4} rows for ${boxes} anchors`,
      'analyse with batch size 1 (--input-shape 1,3,H,W)',
    );
  }
  const constants = new Set<string>();
  for (const n of region.nodes) {
    for (const v of n.inputs) if (v && region.statics.has(v) && shapes.shape(v)?.includes(boxes)) constants.add(v.name);
  }
  return finish(Float32Array.from(xyxy), [...constants], boxesOut.name);
}

/**
 * The table the post-processing looks anchors up in: each gathered static tensor of 4 columns fills the rows of the
 * anchors its positions stand for (`anchorOf` maps a head-element provenance code to a global anchor index).
 */
export function anchorTableFromIndexed(
  indexed: AnchorIndexed[],
  region: Region,
  traced: Map<Value, Arr>,
  anchorOf: (code: number) => number | undefined,
): AnchorTable | undefined {
  const tables = indexed.filter((a) => a.axis === 0);
  const rows = new Map<number, Float32Array>();
  const constants = new Set<string>();
  for (const t of tables) {
    const arr = region.statics.value(t.value);
    if (!arr || arr.shape.length !== 2 || arr.shape[1] !== 4) continue;
    const of = traced.get(t.space.of);
    if (!of) continue;
    const st = of.shape.slice(t.space.axis + 1).reduce((a, b) => a * b, 1);
    for (let p = 0; p < arr.shape[0]!; p++) {
      const g = anchorOf(of.data[p * t.space.divisor * st]!);
      if (g === undefined) return undefined;
      rows.set(g, (arr.data as Float32Array).subarray(4 * p, 4 * p + 4));
    }
    constants.add(t.value.name);
  }
  const n = rows.size;
  if (!n) return undefined;
  const xyxy = new Float32Array(4 * n);
  for (let g = 0; g < n; g++) {
    const r = rows.get(g);
    if (!r) return undefined;
    xyxy.set(r, 4 * g);
  }
  return finish(xyxy, [...constants], tables[0]!.node.name || tables[0]!.node.opType);
}

function finish(xyxy: Float32Array, constants: string[], output: string): AnchorTable | undefined {
  const boxes = xyxy.length / 4;
  let max = 0;
  for (let i = 0; i < boxes; i++) {
    if (!(xyxy[4 * i + 2]! >= xyxy[4 * i]! && xyxy[4 * i + 3]! >= xyxy[4 * i + 1]!)) return undefined;
    for (let k = 0; k < 4; k++) max = Math.max(max, Math.abs(xyxy[4 * i + k]!));
  }
  return { xyxy, normalized: max <= 2, constants, output };
}

/** The rows of `table` at `kept` global anchor indices (a pruned model's anchors, in its order). */
export function keptAnchorTable(table: AnchorTable, kept: ArrayLike<number>): AnchorTable {
  const xyxy = new Float32Array(kept.length * 4);
  for (let i = 0; i < kept.length; i++) xyxy.set(table.xyxy.subarray(4 * kept[i]!, 4 * kept[i]! + 4), 4 * i);
  return { ...table, xyxy };
}
