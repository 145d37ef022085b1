// compile --input-type: the element type of each head input of the emitted C module, with its per-tensor scale and
// zero point (`scores:int8:0.0039:-128,boxes:uint8:0.05:128`), or the type alone (`scores:int8`) to take them from the
// DequantizeLinear that produces that output in the model (through layout ops and a Concat of equal parameters).
import { PrunedetError } from '../../errors';
import type { DetectorSpec } from '../../detector/spec';
import { validateQuant, type InputQuant, type QuantParams } from '../../postprocess/quant';

const ROLES = ['scores', 'boxes'] as const;
const FORMAT = 'ROLE:TYPE[:SCALE:ZERO_POINT] with ROLE scores or boxes, TYPE int8, uint8 or float32';

function usage(what: string, fix: string): never {
  throw new PrunedetError('E_USAGE', `--input-type ${what}`, fix);
}

/** The quantization of the model's `role` outputs (all of them: the concat output or every level's map). */
function fromModel(spec: DetectorSpec, role: (typeof ROLES)[number], type: string): QuantParams {
  const outs = spec.outputs.filter((o) => o.role === role);
  const found = outs.map((o) => spec.quantization?.outputs[o.name] as QuantParams | undefined);
  const q = found[0];
  const same = found.every(
    (f) =>
      f !== undefined && q !== undefined && f.scale === q.scale && f.zeroPoint === q.zeroPoint && f.type === q.type,
  );
  if (outs.length === 0 || q === undefined || !same)
    usage(
      `${role}:${type}: no single per-tensor DequantizeLinear produces the model's ${role} output${outs.length > 1 ? 's' : ''}`,
      `give the scale and zero point: --input-type ${role}:${type}:SCALE:ZERO_POINT`,
    );
  if (q.type !== type)
    usage(
      `${role}:${type}: the model's DequantizeLinear reads ${q.type}`,
      `use --input-type ${role}:${q.type}, or give the scale and zero point`,
    );
  return q;
}

/**
 * Parse --input-type; scale and zero point left out come from the model's DequantizeLinear (without a model, such an
 * entry is only checked and left out of the result).
 */
export function parseInputType(text: string, spec?: DetectorSpec): InputQuant {
  const out: InputQuant = {};
  const seen = new Set<string>();
  for (const entry of text.split(',').map((s) => s.trim())) {
    const parts = entry.split(':');
    const [role, type] = parts;
    if (!ROLES.includes(role as never) || parts.length < 2) usage(`"${entry}"`, `write ${FORMAT}`);
    if (seen.has(role!)) usage(`gives ${role} twice`, 'give each role once');
    seen.add(role!);
    if (type === 'float32' && parts.length === 2) continue;
    if (type !== 'int8' && type !== 'uint8') usage(`"${entry}": type ${type}`, `write ${FORMAT}`);
    let q: QuantParams;
    if (parts.length === 2) {
      if (!spec) continue;
      q = fromModel(spec, role as (typeof ROLES)[number], type);
    } else if (parts.length === 4) {
      const scale = Number(parts[2]);
      const zp = Number(parts[3]);
      if (parts[2]!.trim() === '' || parts[3]!.trim() === '') usage(`"${entry}"`, `write ${FORMAT}`);
      q = { type, scale, zeroPoint: zp };
    } else {
      usage(`"${entry}"`, `write ${FORMAT}`);
    }
    validateQuant(q, `--input-type ${role}`);
    out[role as (typeof ROLES)[number]] = q;
  }
  return out;
}
