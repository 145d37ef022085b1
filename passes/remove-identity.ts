/*
 * remove-identity: drop Identity nodes (and inference-mode Dropout) by rewiring their consumers to their input.
 *
 *   Before: conv -> y0 -> Identity -> y1 -> Transpose        conv -> y0 -> Identity -> "scores" (graph output)
 *   After:  conv -> y0 -> Transpose                          conv -> "scores"
 *
 * A graph output keeps its name: the producer of the Identity's input writes the output value directly, when that
 * input has no other reader and is not itself a graph input, output or initializer; otherwise the Identity stays.
 */
import type { Pass } from '../src/pipeline';
import type { Node } from '../src/ir/graph';

function isIdentity(n: Node): boolean {
  if (n.domain !== '') return false;
  if (n.opType === 'Identity') return true;
  // Dropout in inference: Y = X; the mask output must be unused.
  return (
    n.opType === 'Dropout' &&
    (n.outputs[1] === undefined || n.outputs[1].uses.length === 0) &&
    !n.outputs[1]?.isGraphOutput &&
    (n.inputs[2] === undefined || n.inputs[2].constant()?.numbers()[0] === 0)
  );
}

export const removeIdentity: Pass = {
  name: 'remove-identity',
  summary: 'Remove Identity (and inference Dropout) nodes, keeping graph output names.',
  run(graph) {
    let removed = 0;
    let kept = 0;
    for (const n of [...graph.nodes]) {
      if (!isIdentity(n)) continue;
      const x = n.inputs[0];
      const y = n.outputs[0];
      if (!x || !y) continue;
      if (!y.isGraphOutput) {
        graph.replaceAllUsesWith(y, x);
        graph.removeNode(n);
        graph.values.delete(y.name);
        removed++;
        continue;
      }
      const p = x.producer;
      if (!p || x.uses.length !== 1 || x.isGraphInput || x.isGraphOutput || x.initializer) {
        kept++;
        continue;
      }
      graph.removeNode(n);
      p.setOutput(p.outputs.indexOf(x), y);
      graph.values.delete(x.name);
      removed++;
    }
    if (!removed)
      return {
        changed: false,
        stats: { removed, kept },
        rounding: [],
        skipped: kept ? 'the remaining Identity nodes rename graph inputs or shared values' : 'no Identity nodes',
      };
    return { changed: true, stats: { removed, kept }, rounding: [], analysis: 'invalidated' };
  },
};
