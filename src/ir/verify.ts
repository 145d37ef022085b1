// Structural invariants of a graph, checked after every pass: one producer per value, every use defined, unique
// names, acyclic, initializer shapes agreeing with their declared types. Returns the problems (empty = valid).
import type { Graph } from './graph';
import { declaredType } from '../onnx/value-info';

export function verifyGraph(g: Graph): string[] {
  const problems: string[] = [];
  const produced = new Map<string, string>();
  const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.map((v) => v.name)]);
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      if (produced.has(o.name))
        problems.push(`value ${o.name} is produced by ${produced.get(o.name)} and ${n.label()}`);
      if (defined.has(o.name) && !produced.has(o.name))
        problems.push(`value ${o.name} is both a graph input/initializer and an output of ${n.label()}`);
      produced.set(o.name, n.label());
      if (o.producer !== n) problems.push(`value ${o.name} does not point back to its producer ${n.label()}`);
    }
  }
  for (const o of produced.keys()) defined.add(o);
  for (const n of g.nodes) {
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (!defined.has(v.name)) problems.push(`input ${i} of ${n.label()} reads ${v.name}, which nothing defines`);
      if (!v.uses.some((u) => u.node === n && u.index === i))
        problems.push(`value ${v.name} does not record its use by ${n.label()}`);
      if (g.values.get(v.name) !== v)
        problems.push(`value ${v.name} read by ${n.label()} is not the graph's value of that name`);
    });
  }
  for (const o of g.outputs) if (!defined.has(o.name)) problems.push(`graph output ${o.name} is not computed`);
  const names = new Set<string>();
  for (const n of g.nodes) {
    if (!n.name) continue;
    if (names.has(n.name)) problems.push(`two nodes are named ${n.name}`);
    names.add(n.name);
  }
  try {
    g.topoOrder();
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const v of g.initializers) {
    const d = declaredType(v);
    if (d?.shape && d.shape.some((x, i) => typeof x === 'number' && x !== v.initializer!.dims[i])) {
      problems.push(`initializer ${v.name} is ${v.initializer!.describe()} but declared [${d.shape.join(',')}]`);
    }
  }
  return problems;
}
