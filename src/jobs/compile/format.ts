// Text form of a compile report: the before/after table users read first.
import type { CompileReport } from '../../artefacts/report';
import { fmtBytes, fmtInt, table } from '../../format/table';

export function formatCompile(r: CompileReport, outDir: string): string {
  const b = r.before;
  const a = r.after;
  const pct = (x: number, y: number) => (x === 0 ? '' : `${(((y - x) / x) * 100).toFixed(1)}%`);
  const rows: (string | number)[][] = [
    ['head MACs', fmtInt(b.headMacs), fmtInt(a.headMacs), pct(b.headMacs, a.headMacs)],
    ['total MACs', fmtInt(b.totalMacs), fmtInt(a.totalMacs), pct(b.totalMacs, a.totalMacs)],
    ['boxes', fmtInt(b.boxes), fmtInt(a.boxes), pct(b.boxes, a.boxes)],
    ['anchors/level', b.anchorsPerLevel.join(','), a.anchorsPerLevel.join(','), ''],
    ['parameters', fmtInt(b.params), fmtInt(a.params), pct(b.params, a.params)],
    ['file size', fmtBytes(b.bytes), fmtBytes(a.bytes), pct(b.bytes, a.bytes)],
  ];
  const lines = [
    `compiled ${r.model.file} with config ${r.config.name} (${r.config.source}; baseline: ${r.config.baseline})`,
    `removed anchors {${r.config.removed.join(', ')}}`,
    '',
    table(['', 'before', 'after', 'change'], rows),
    '',
    `passes: ${r.passes.map((p) => `${p.pass}${p.changed ? '' : ' (no change)'}`).join(' -> ')}`,
    `wrote ${r.files.map((f) => `${outDir}/${f}`).join(', ')}`,
  ];
  const pp = r.postprocess;
  if (pp) {
    // the C figures only when a C module was emitted (--emit onnx-nms alone has none)
    const c =
      typeof pp.workspaceBytes === 'number'
        ? `; C workspace ${fmtInt(pp.workspaceBytes)} bytes (cap ${pp.candidateCap} candidates)`
        : '';
    lines.push(`post-processing: ${pp.preset}${c}`);
    for (const f of pp.footprint ?? []) {
      const stack = f.stackBytes === null ? 'unbounded' : fmtInt(f.stackBytes);
      lines.push(
        `C footprint (${f.target}, ${f.flags.filter((x) => x !== '-std=c99').join(' ')}): code ${fmtInt(f.textBytes)}, read-only data ${fmtInt(f.rodataBytes)}, data+bss ${fmtInt(f.dataBytes + f.bssBytes)}, stack ${stack} bytes`,
      );
    }
    for (const note of (pp.notes as string[] | undefined) ?? []) lines.push(`note: ${note}`);
  }
  if (r.cutHead) lines.push(`--cut-head: the model now ends at ${r.cutHead.join(', ')}`);
  return lines.join('\n');
}
