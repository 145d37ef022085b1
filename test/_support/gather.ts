// The oracle of compile's equivalence: the original model's outputs gathered at the kept anchors.
import type { DetectorSpec, OutputBinding } from '../../src/detector/spec';
import type { Outputs } from './ort';
import { keptAnchorIndices } from '../../src/detector/kept-anchors';

/** Global anchor indices (original numbering) that a pruned model keeps, in its output order. */
export function keptIndices(spec: DetectorSpec, kept: number[][]): Int32Array {
  return keptAnchorIndices(
    spec.levels.map((l) => l.featureMap),
    spec.levels.map((l) => l.anchorsPerLocation),
    kept,
  );
}

/** For an output carrying some levels only (per-level exports): its row of each kept anchor, in compiled order. */
function keptRowsOf(spec: DetectorSpec, kept: number[][], o: OutputBinding): Int32Array {
  const levels = spec.levels.filter((l) => o.levels.includes(l.index));
  return keptAnchorIndices(
    levels.map((l) => l.featureMap),
    levels.map((l) => l.anchorsPerLocation),
    levels.map((l) => kept[l.index]!),
  );
}

/** Max |compiled - original gathered at kept anchors| over every rows output (batch 1); per-level outputs by their rows. */
export function maxRowsDiff(spec: DetectorSpec, kept: number[][], original: Outputs, compiled: Outputs): number {
  let max = 0;
  for (const o of spec.outputs) {
    const a = original[o.name]!;
    const b = compiled[o.name]!;
    const idx = keptRowsOf(spec, kept, o);
    const k = o.valuesPerRow;
    if (b.data.length !== idx.length * k)
      throw new Error(`output ${o.name}: ${b.data.length} values, expected ${idx.length} x ${k}`);
    idx.forEach((n, r) => {
      for (let j = 0; j < k; j++) max = Math.max(max, Math.abs(a.data[n * k + j]! - b.data[r * k + j]!));
    });
  }
  return max;
}
