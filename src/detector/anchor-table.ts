// Recovering an anchor table the graph embeds: decoding zero deltas yields the anchors themselves (exp(0) = 1 keeps
// the prior sizes, zero offsets keep the prior centres), however the exporter split the table into constants.
import type { Value } from '../ir/graph';
import type { ShapeResult } from '../shape/infer';
import { PrunedetError } from '../errors';
import { nodesFor, runRegion, type Region } from './region';
import type { Arr } from './layout-eval';
import type { AnchorTable } from './spec';

export function recoverAnchorTable(boxesOut: Value, region: Region, shapes: ShapeResult, boxes: number): AnchorTable | undefined {
  const env = new Map<Value, Arr>();
  const nodes = nodesFor(region, [boxesOut]);
  const needed = new Set(nodes.flatMap((n) => n.inputs));
  for (const conv of region.convs) {
    if (!needed.has(conv.output())) continue;
    const s = shapes.requireStatic(conv.output(), 'anchor table recovery');
    env.set(conv.output(), { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)) });
  }
  runRegion(region, shapes, env, 'value', nodes);
  const arr = env.get(boxesOut);
  if (!arr || arr.shape[arr.shape.length - 1] !== 4) return undefined;
  const xyxy = arr.data as Float32Array;
  if (xyxy.length !== boxes * 4) {
    throw new PrunedetError('E_HEAD_AMBIGUOUS', `decoded output ${boxesOut.name} has ${xyxy.length / 4} rows for ${boxes} anchors`, 'analyse with batch size 1 (--input-shape 1,3,H,W)');
  }
  let corners = true;
  let max = 0;
  for (let i = 0; i < boxes && corners; i++) {
    corners = xyxy[4 * i + 2]! >= xyxy[4 * i]! && xyxy[4 * i + 3]! >= xyxy[4 * i + 1]!;
    for (let k = 0; k < 4; k++) max = Math.max(max, Math.abs(xyxy[4 * i + k]!));
  }
  if (!corners) return undefined;
  const constants = new Set<string>();
  for (const n of region.nodes) {
    for (const v of n.inputs) {
      const t = v?.constant();
      if (t && t.dims.includes(boxes)) constants.add(v!.name);
    }
  }
  return { xyxy: Float32Array.from(xyxy), normalized: max <= 2, constants: [...constants], output: boxesOut.name };
}
