// Text form of a verify result: one table per check, then the verdict with the first failing input and anchor.
import type { VerifyResult } from '../verify/index';
import { table } from '../format/table';

export function formatVerify(r: VerifyResult): string {
  const t = r.tensors;
  const lines = [
    `inputs: ${r.inputs.names.length} ${r.inputs.source === 'random' ? 'seeded random tensors' : `images (${r.inputs.names.slice(0, 3).join(', ')}${r.inputs.names.length > 3 ? ', ...' : ''})`}`,
    '',
    `(a) tensors: compiled outputs vs original outputs at the kept anchors — ${t.ok ? 'equal' : 'MISMATCH'}`,
    table(['output', 'elements', 'max abs err', 'max rel err', 'mismatches'], t.outputs.map((o) => [o.name, o.elements, o.maxAbs.toExponential(2), o.maxRel.toExponential(2), o.mismatches])),
    '',
    `(b) detections: compiled + post-processing vs original with the removed anchors' scores forced to 0 — ${r.detections.skipped ? `skipped: ${r.detections.skipped}` : r.detections.ok ? `identical (${r.detections.detections} detections over ${r.detections.inputs} inputs)` : 'MISMATCH'}`,
    `(c) C module vs the TypeScript reference on the same tensors — ${r.cModule.skipped ? `skipped: ${r.cModule.skipped}` : r.cModule.ok ? `identical (${r.cModule.detections} detections over ${r.cModule.inputs} inputs)` : 'MISMATCH'}`,
    ...(r.fidelity !== undefined ? [`fidelity (mAP of the compiled model against the original's detections, as search scores it): ${r.fidelity}`] : []),
    '',
  ];
  const first = [t.first, r.detections.first, r.cModule.first].find(Boolean);
  lines.push(r.ok ? 'verify: equivalent' : `verify: FAILED — ${first}`);
  return lines.join('\n');
}
