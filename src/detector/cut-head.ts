// `compile --cut-head`: end the graph at the head convs, so the per-level maps are the outputs and the layout,
// activation and decoding move into the fused C post-processing instead of running twice.
import type { Model } from '../ir/graph';
import { removeDead } from '../ir/dce';
import { setDeclaredType } from '../onnx/value-info';
import type { ShapeResult } from '../shape/infer';
import { PrunedetError } from '../errors';
import type { DetectorSpec } from './spec';
import { levelName } from '../format/levels';

/** Replace the outputs by `<role>_<level>` per head conv (scores before boxes), finest level first. */
export function cutAtHead(model: Model, spec: DetectorSpec, shapes: ShapeResult): string[] {
  const g = model.graph;
  const outs = spec.levels.flatMap((l) => {
    const byRole = (role: string) => l.convs.find((c) => c.groups.length === 1 && c.groups[0]!.role === role);
    const cls = byRole('scores');
    const reg = byRole('boxes');
    if (!cls || !reg) {
      throw new PrunedetError(
        'E_OP_UNSUPPORTED',
        `--cut-head needs one score conv and one box conv per level; ${levelName(l.index)} has ${l.convs.map((c) => c.groups.map((x) => x.role).join('+')).join(', ')}`,
        'compile without --cut-head',
      );
    }
    return [
      [cls, `scores_${l.index}`],
      [reg, `boxes_${l.index}`],
    ] as const;
  });
  g.outputs = [];
  for (const [conv, name] of outs) {
    const v = conv.node.output();
    const info = shapes.get(v);
    g.renameValue(v, g.values.has(name) && g.values.get(name) !== v ? g.uniqueName(name) : name);
    v.info = undefined;
    setDeclaredType(v, info?.dtype ?? 1, info?.shape);
    g.outputs.push(v);
  }
  removeDead(g);
  return g.outputs.map((v) => v.name);
}
