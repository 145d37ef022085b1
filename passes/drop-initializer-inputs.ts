/*
 * drop-initializer-inputs: old exports (IR 3, and some later ones) list every initializer as a graph input too.
 *
 *   Before: inputs [image, conv1.weight, conv1.bias, ...], initializers [conv1.weight, ...], ir_version 3
 *   After:  inputs [image], ir_version 4 (the first version where an initializer need not be an input)
 *
 * onnxruntime warns about each such input (it could be overridden at run time, which blocks constant folding), and
 * a listed input can never be fed anyway once prunedet has sliced the initializer behind it. Leaves alone: real
 * inputs, initializers themselves.
 */
import type { Pass } from '../src/pipeline';

export const dropInitializerInputs: Pass = {
  name: 'drop-initializer-inputs',
  summary: 'Remove initializers from the graph inputs (old exports list them there); raise IR 3 to 4.',
  run(graph, ctx) {
    const before = graph.inputs.length;
    graph.inputs = graph.inputs.filter((v) => !v.initializer);
    const dropped = before - graph.inputs.length;
    if (!dropped)
      return {
        changed: false,
        stats: { inputsDropped: 0 },
        rounding: [],
        skipped: 'no initializer is listed as an input',
      };
    if (ctx.model.irVersion < 4) ctx.model.irVersion = 4;
    return { changed: true, stats: { inputsDropped: dropped }, rounding: [], analysis: 'preserved' };
  },
};
