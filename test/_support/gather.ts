// The oracle of compile's equivalence: the original model's outputs gathered at the kept anchors.
import type { DetectorSpec } from '../../src/detector/spec';
import type { Outputs } from './ort';

/** Global anchor indices (original numbering) that a pruned model keeps, in its output order. */
export function keptAnchorIndices(spec: DetectorSpec, kept: number[][]): number[] {
  const out: number[] = [];
  spec.levels.forEach((l, i) => {
    const [h, w] = l.featureMap;
    for (let p = 0; p < h * w; p++) for (const a of kept[i]!) out.push(l.anchorOffset + p * l.anchorsPerLocation + a);
  });
  return out;
}

/** Max |compiled - original gathered at kept anchors| over every output of a rows-form model (batch 1). */
export function maxRowsDiff(spec: DetectorSpec, kept: number[][], original: Outputs, compiled: Outputs): number {
  const idx = keptAnchorIndices(spec, kept);
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
