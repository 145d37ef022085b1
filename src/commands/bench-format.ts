// Text form of a bench result: latencies per implementation and anchor set, the floor, and the ratios side by side.
import type { BenchResult } from '../bench/index';
import { fmtInt, table } from '../format/table';

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);

export function formatBench(r: BenchResult): string {
  const rows = r.postprocess.map((t) => [t.impl, t.anchors, us(t.minUs), us(t.medianUs), us(t.p90Us), us(t.p99Us), fmtInt(t.candidates), t.detections]);
  const get = (impl: string, anchors: string) => r.postprocess.find((t) => t.impl === impl && t.anchors === anchors);
  const ratios: (string | number)[][] = [];
  for (const anchors of ['original', 'pruned'] as const) {
    const c = get('c', anchors);
    const ort = get('ort', anchors);
    const ts = get('ts', anchors);
    if (c && ort) ratios.push([`C vs onnxruntime NMS (${anchors})`, `${(ort.medianUs / c.medianUs).toFixed(1)}x faster`]);
    if (c && ts) ratios.push([`C vs TypeScript reference (${anchors})`, `${(ts.medianUs / c.medianUs).toFixed(1)}x faster`]);
    const floor = r.floors[anchors].medianUs;
    if (c && floor > 0) ratios.push([`C vs the floor (${anchors}: memcpy of the same head outputs)`, `${(c.medianUs / floor).toFixed(2)}x`]);
  }
  const boxRatio = r.boxes.original / r.boxes.pruned;
  for (const impl of ['c', 'ts', 'ort']) {
    const o = get(impl, 'original');
    const p = get(impl, 'pruned');
    if (o && p) ratios.push([`${impl}: original / pruned anchors`, `${(o.medianUs / p.medianUs).toFixed(2)}x (box ratio ${boxRatio.toFixed(2)}x)`]);
  }
  const lines = [
    `post-processing (${r.preset}) on ${r.inputs === 'images' ? 'real head outputs of an image' : 'synthetic trained-like head outputs'}: ${fmtInt(r.boxes.original)} -> ${fmtInt(r.boxes.pruned)} boxes, ${r.runs} runs after warm-up`,
    '',
    table(['impl', 'anchors', 'min', 'median', 'p90', 'p99', 'candidates', 'detections'], rows),
    `C built with: ${r.cFlags}`,
    `floor (memcpy of the head outputs): original median ${us(r.floors.original.medianUs)}, pruned median ${us(r.floors.pruned.medianUs)}`,
    '',
    table(['ratio', ''], ratios),
  ];
  if (r.model) lines.push('', `model latency in onnxruntime (median): original ${r.model.originalMs.toFixed(1)} ms, compiled ${r.model.compiledMs.toFixed(1)} ms (${(r.model.originalMs / r.model.compiledMs).toFixed(2)}x)`);
  return lines.join('\n');
}
