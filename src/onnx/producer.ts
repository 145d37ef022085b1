// Who made an ONNX file (ModelProto.producer_name), read without building the IR: synth replaces an existing file
// without --force only when prunedet produced it.
import { readFileSync } from 'node:fs';
import { decodeMessage } from './codec';

/** The file's producer_name, or undefined when it is unreadable or not an ONNX model. */
export function producerOf(path: string): string | undefined {
  try {
    const p = decodeMessage('onnx.ModelProto', readFileSync(path)).producer_name;
    return typeof p === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}
