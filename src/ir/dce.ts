// Dead-code removal: nodes whose outputs reach no graph output, initializers nothing reads, value_info of values that
// are gone. Shared by eliminate-dead and by passes that leave dead producers behind (fold-constants, fold-batchnorm).
import type { Graph, Node, Value } from './graph';

export interface DceStats {
  nodesRemoved: number;
  initializersRemoved: number;
}

export function removeDead(g: Graph): DceStats {
  const live = new Set<Node>();
  const stack: Value[] = [...g.outputs];
  while (stack.length) {
    const p = stack.pop()!.producer;
    if (!p || live.has(p)) continue;
    live.add(p);
    for (const v of [...p.inputs, ...p.captures]) if (v) stack.push(v);
  }
  const dead = g.nodes.filter((n) => !live.has(n));
  for (const n of dead) {
    g.removeNode(n);
    for (const o of n.outputs)
      if (o && o.uses.length === 0 && !o.isGraphOutput && !o.initializer) g.values.delete(o.name);
  }
  const unused = g.initializers.filter((v) => v.uses.length === 0 && !v.isGraphOutput);
  for (const v of unused) g.removeInitializer(v);
  g.valueInfo = g.valueInfo.filter(
    (v) => g.values.get(v.name) === v && (v.producer !== undefined || v.isGraphInput || v.initializer !== undefined),
  );
  return { nodesRemoved: dead.length, initializersRemoved: unused.length };
}
