// The text `prunedet detect` prints: one line per image, then where the files went.
import type { DetectResult } from './index';

export function formatDetect(r: DetectResult, outDir: string): string {
  const lines = [`${r.model}: ${r.postprocess}; ${r.preprocess}`];
  const width = Math.max(...r.images.map((i) => i.png.length));
  for (const i of r.images) {
    const best = i.detections[0];
    lines.push(
      `  ${i.png.padEnd(width)}  ${String(i.detections.length).padStart(4)} detections${best ? ` (best: label ${best.label}, score ${best.score.toFixed(3)})` : ''}`,
    );
  }
  const vec =
    r.module.vectors > 0
      ? `; test_vectors.h: ${r.module.vectors} input${r.module.vectors > 1 ? 's' : ''} for ${r.module.prefix}run (${r.module.input}, ${r.module.inputLength.toLocaleString('en-US')} floats each)`
      : r.module.noVectors !== undefined
        ? `; no test_vectors.h: ${r.module.noVectors}`
        : '';
  lines.push(`wrote ${outDir}: detections.json, ${r.images.length} PNG${r.images.length > 1 ? 's' : ''}${vec}`);
  return lines.join('\n');
}
