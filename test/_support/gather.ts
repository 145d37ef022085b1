// The oracle of compile's equivalence: the original model's outputs gathered at the kept anchors.
import type { DetectorSpec } from '../../src/detector/spec';
import type { Outputs } from './ort';
import { keptAnchorIndices } from '../../src/verify/compare';

/** Global anchor indices (original numbering) that a pruned model keeps, in its output order. */
export function keptIndices(spec: DetectorSpec, kept: number[][]): Int32Array {
  return keptAnchorIndices(spec.levels.map((l) => l.featureMap), spec.levels.map((l) => l.anchorsPerLocation), kept);
}

/** Max |compiled - original gathered at kept anchors| over every output of a rows-form model (batch 1). */
export function maxRowsDiff(spec: DetectorSpec, kept: number[][], original: Outputs, compiled: Outputs): number {
  const idx = keptIndices(spec, kept);
  let max = 0;
  for (const o of spec.outputs) {
    const a = original[o.name]!;
    const b = compiled[o.name]!;
    const k = o.valuesPerRow;
    if (b.data.length !== idx.length * k) throw new Error(`output ${o.name}: ${b.data.length} values, expected ${idx.length} x ${k}`);
    idx.forEach((n, r) => {
      for (let j = 0; j < k; j++) max = Math.max(max, Math.abs(a.data[n * k + j]! - b.data[r * k + j]!));
    });
  }
  return max;
}
