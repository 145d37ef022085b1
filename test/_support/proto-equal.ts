// Field-by-field comparison of two ONNX files through an independent decoder (onnx-proto's generated code), so a
// round-trip test does not grade prunedet's codec with itself.
import { onnx } from 'onnx-proto';

function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (out.length > 5) return;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (
      !(a instanceof Uint8Array) ||
      !(b instanceof Uint8Array) ||
      Buffer.compare(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      ) !== 0
    ) {
      out.push(`${path}: bytes differ`);
    }
    return;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      out.push(
        `${path}: lengths ${Array.isArray(a) ? a.length : typeof a} vs ${Array.isArray(b) ? b.length : typeof b}`,
      );
      return;
    }
    a.forEach((x, i) => diff(x, b[i], `${path}[${i}]`, out));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys)
      diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out);
    return;
  }
  if (!Object.is(a, b)) out.push(`${path}: ${String(a)} vs ${String(b)}`);
}

/** Differences between two serialized models as decoded by onnx-proto (empty = equal field by field). */
export function protoDiff(a: Uint8Array, b: Uint8Array): string[] {
  const opts = { longs: String, enums: Number, bytes: Buffer, defaults: false, arrays: false };
  const oa = onnx.ModelProto.toObject(onnx.ModelProto.decode(a), opts);
  const ob = onnx.ModelProto.toObject(onnx.ModelProto.decode(b), opts);
  const out: string[] = [];
  diff(oa, ob, 'model', out);
  return out;
}
