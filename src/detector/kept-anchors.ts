// Kept-anchor indexing: where each anchor of a pruned model sits on the original model's anchor axis. Verify gathers
// the original's outputs at these rows to compare them with the compiled model's; bench gathers its inputs with them.
/** Original anchor index (level-major, then y, x, a) of each anchor the compiled model keeps, in its order. */
export function keptAnchorIndices(
  featureMaps: readonly [number, number][],
  baselineCounts: readonly number[],
  kept: readonly (readonly number[])[],
): Int32Array {
  const total = featureMaps.reduce((s, [h, w], i) => s + h * w * kept[i]!.length, 0);
  const out = new Int32Array(total);
  let k = 0;
  let offset = 0;
  featureMaps.forEach(([h, w], i) => {
    const A = baselineCounts[i]!;
    for (let p = 0; p < h * w; p++) for (const a of kept[i]!) out[k++] = offset + p * A + a;
    offset += h * w * A;
  });
  return out;
}
