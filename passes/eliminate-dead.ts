/*
 * eliminate-dead: remove everything that no longer reaches a graph output.
 *
 *   Before: a level emptied by prune-anchors still has its tower convs, its FPN top-down branch (Resize, Add,
 *           lateral conv), L2Norm, the original (unsliced) shared initializers and now-unused Constant nodes.
 *   After:  only nodes on a path to an output remain; initializers nothing reads are dropped (with their graph-input
 *           entries in IR-3 exports) and value_info of vanished values goes too.
 *
 * Leaves alone: graph inputs that are real inputs (the model's interface never changes).
 */
import type { Pass } from '../src/pipeline';
import { removeDead } from '../src/ir/dce';

export const eliminateDead: Pass = {
  name: 'eliminate-dead',
  summary: 'Remove nodes and initializers that no longer reach a graph output.',
  run(graph) {
    const s = removeDead(graph);
    const changed = s.nodesRemoved + s.initializersRemoved > 0;
    return {
      changed,
      stats: { ...s },
      rounding: [],
      analysis: 'preserved',
      ...(changed ? {} : { skipped: 'every node reaches an output' }),
    };
  },
};
