// Text form of a verify result, one screen: what was compared per check and against what tolerance, then the verdict
// with the first difference or what to do.
import type { CheckStatus, ComparedTensor, VerifyResult } from './index';
import { fmtInt, table } from '../../format/table';
import { levelName } from '../../format/levels';

const e = (v: number) => (v === 0 ? '0' : v.toExponential(1));
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

const STATUS: Record<CheckStatus, string> = {
  pass: 'pass',
  fail: 'MISMATCH',
  inconclusive: 'INCONCLUSIVE',
  skipped: 'skipped',
};

function worst(t: ComparedTensor): string {
  const w = t.worst;
  if (!w) return '-';
  const where = w.anchor
    ? `anchor ${w.anchor.compiled}/${w.anchor.original} (${levelName(w.anchor.level)})`
    : `element ${w.index}`;
  const v = (x: number) => String(Number(x.toPrecision(8)));
  return `${w.inputName}, ${where}: ${v(w.got)} vs ${v(w.expected)} (err ${e(w.absError)}, tol ${e(w.tolerance)})`;
}

function tolerance(t: ComparedTensor): string {
  return t.tolerance.kind === 'bitwise' ? 'bitwise' : `≤ ${e(t.tolerance.max)}`;
}

/** One line per distinct tolerance origin, naming the outputs it applies to. */
function origins(outputs: ComparedTensor[]): string[] {
  const by = new Map<string, string[]>();
  for (const o of outputs)
    if (o.tolerance.kind !== 'bitwise') by.set(o.tolerance.origin, [...(by.get(o.tolerance.origin) ?? []), o.name]);
  return [...by].map(
    ([origin, names]) =>
      `    ${names.length > 3 ? `${names.slice(0, 2).join(', ')}, … (${names.length} outputs)` : names.join(', ')}: tolerance from ${origin}`,
  );
}

export function formatVerify(r: VerifyResult): string {
  const { tensors: t, detections: d, cModule: c } = r.checks;
  const names = r.inputs.names;
  const lines = [
    `inputs: ${r.inputs.source === 'random' ? plural(r.inputs.count, 'seeded random tensor') : `${plural(r.inputs.count, 'image')} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})`}; original sha256 ${r.original.sha256.slice(0, 12)}… matches report.json`,
    '',
    `(a) tensors, compiled vs original at the ${fmtInt(t.anchors)} kept anchors, ${plural(t.inputs, 'input')} — ${STATUS[t.status]}`,
    table(
      ['output', 'elements', 'tolerance', 'max abs err', 'over', 'worst element (compiled/original anchor)'],
      t.outputs.map((o) => [
        o.name,
        fmtInt(o.elements),
        tolerance(o),
        e(o.maxAbsError),
        fmtInt(o.overTolerance),
        worst(o),
      ]),
    ),
    ...origins(t.outputs),
    ...(t.parameters.convs
      ? [
          `    sliced parameters: ${plural(t.parameters.convs, 'conv')}${t.parameters.quantized ? ` (${t.parameters.quantized} quantized: integer weights and biases, their scales and zero points${t.parameters.integer ? `; ${t.parameters.integer} in integer arithmetic, int32 sums requantized per channel, so their kept channels compute exactly as the original's` : ''})` : ''}, ${fmtInt(t.parameters.values)} ${t.parameters.quantized ? 'parameters' : 'weights and biases'} vs the original's kept channels, bit for bit: ${t.parameters.mismatches ? `${fmtInt(t.parameters.mismatches)} DIFFER` : 'equal'}`,
        ]
      : []),
  ];
  if (t.features.length) {
    const f = t.features;
    const over = f.reduce((s, x) => s + x.overTolerance, 0);
    const ulps = f[0]!.tolerance.origin.match(/(\d+) ulp/)?.[1];
    lines.push(
      `    head inputs: ${f.length} feature maps, ${fmtInt(f.reduce((s, x) => s + x.elements, 0))} values, max abs err ${e(Math.max(...f.map((x) => x.maxAbsError)))}, tolerance ≤ ${e(Math.max(...f.map((x) => x.tolerance.max)))}${ulps ? ` (${ulps} ulp of max|x|)` : ''}, ${over} over`,
    );
  }
  lines.push('');
  const perLevel = d.levels
    .map((l) => (l.anchors === 0 ? '-' : `${l.detections.inputs}+${l.detections.planted}`))
    .join(' · ');
  lines.push(
    `(b) detections, the paper's oracle (removed anchors' scores forced to 0)${d.preset ? ` with ${d.preset}` : ''} — ${STATUS[d.status]}`,
  );
  if (d.preset) {
    lines.push(
      `    per level (from the ${plural(d.inputs.count, 'input')} + from ${d.planted.count} planted head outputs): ${perLevel}`,
    );
    lines.push(
      `    oracle vs compiled post-processing of the kept anchors: ${fmtInt(d.inputs.detections + d.planted.detections)} detections on ${d.inputs.count + d.planted.count} inputs, bit for bit`,
    );
    lines.push(
      `    the compiled model's own: ${fmtInt(d.inputs.compiled)} detections vs the oracle's ${fmtInt(d.inputs.detections)}; ${fmtInt(d.inputs.matched)} same label and anchor, ${fmtInt(d.inputs.identical)} bit for bit`,
    );
  }
  lines.push(
    `(c) C module vs the TypeScript reference, bit for bit — ${STATUS[c.status]}${c.status === 'skipped' ? `: ${c.reason}` : c.runs ? ` (${c.runs} runs, ${fmtInt(c.detections)} detections; ${c.flags})` : ''}`,
  );
  if (r.fidelity !== undefined)
    lines.push(
      `fidelity (mAP of the compiled model against the original's detections, as search scores it): ${r.fidelity.toFixed(4)}`,
    );
  lines.push('');
  const cNote = c.status === 'skipped' && c.reason?.includes('--skip-c') ? '; C module not checked' : '';
  if (r.status === 'equivalent') lines.push(`verify: equivalent${cNote}`);
  else if (r.status === 'mismatch') lines.push(`verify: MISMATCH — ${r.advice}`);
  else lines.push(`verify: INCONCLUSIVE (exit ${r.exitCode}) — ${r.advice}${cNote}`);
  return lines.join('\n');
}
