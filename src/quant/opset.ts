// Raising a model's default-domain opset to 13, the first with per-axis QuantizeLinear / DequantizeLinear (per-channel
// weight scales in QDQ form). Only the ops whose signature or meaning changed between opset 9 and 13 and that
// detectors carry are rewritten (attributes that became inputs: Slice, Unsqueeze, Squeeze, Split, ReduceSum, Clip);
// Softmax/LogSoftmax keep their meaning only when they run over the last axis (before 13 they flatten from `axis`).
// Any other op that changed is refused, naming it: the user upgrades the model with onnx's version converter first.
import type { Model, Node } from '../ir/graph';
import { Tensor } from '../ir/tensor';
import { PrunedetError } from '../errors';
import type { ShapeResult } from '../shape/infer';

const TARGET = 13;

/** Ops whose meaning or inputs changed after opset 9 that this upgrade does not rewrite. */
const REFUSED = new Set(['Pad', 'Upsample', 'Resize', 'TopK', 'Dropout', 'Hardmax', 'Scan', 'If', 'Loop', 'Scatter']);

function refuse(n: Node, from: number, why: string): never {
  throw new PrunedetError(
    'E_OP_UNSUPPORTED',
    `quantizing needs opset 13 (per-channel QuantizeLinear/DequantizeLinear), and node ${n.label()} of opset ${from} ${why}`,
    'upgrade the model to opset 13 first (onnx.version_converter.convert_version(model, 13)), then quantize it',
  );
}

function attrToInput(m: Model, n: Node, attr: string, index: number, values?: number[]): void {
  const v = values ?? n.getInts(attr);
  n.removeAttr(attr);
  if (!v) return;
  while (n.inputs.length < index) n.addInput(undefined);
  // INT64_MAX ends ("to the end") read back as 2^63 doubles: clamp so they do not wrap when stored as int64
  const ints = v.map((x) => Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, x)));
  n.setInput(index, m.graph.addInitializer(`${n.name || n.opType}_${attr}`, Tensor.fromInt64([ints.length], ints)));
}

/** Raise the default opset of `m` to 13 (in place). No-op at 13 and above. */
export function upgradeToOpset13(m: Model, shapes: ShapeResult): void {
  const from = m.opset('') ?? 1;
  if (from >= TARGET) return;
  for (const n of [...m.graph.nodes]) {
    if (n.domain !== '') continue;
    switch (n.opType) {
      case 'Slice':
        if (from < 10) {
          const starts = n.getInts('starts') ?? [];
          const ends = n.getInts('ends') ?? [];
          const axes = n.getInts('axes');
          n.removeAttr('starts');
          n.removeAttr('ends');
          n.removeAttr('axes');
          attrToInput(m, n, 'starts', 1, starts);
          attrToInput(m, n, 'ends', 2, ends);
          if (axes) attrToInput(m, n, 'axes', 3, axes);
        }
        break;
      case 'Unsqueeze':
      case 'Squeeze':
      case 'ReduceSum':
        attrToInput(m, n, 'axes', 1);
        break;
      case 'Split':
        attrToInput(m, n, 'split', 1);
        break;
      case 'Clip': {
        if (from >= 11) break;
        const lo = n.getFloat('min');
        const hi = n.getFloat('max');
        n.removeAttr('min');
        n.removeAttr('max');
        const scalar = (x: number) =>
          m.graph.addInitializer(`${n.name || 'clip'}_bound`, Tensor.fromFloat32([], Float32Array.of(x)));
        n.setInput(1, lo === undefined ? undefined : scalar(lo));
        if (hi !== undefined) n.setInput(2, scalar(hi));
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const rank = shapes.shape(n.inputs[0])?.length;
        const axis = n.getInt('axis', 1)!;
        if (rank === undefined || (axis + rank) % rank !== rank - 1)
          refuse(n, from, 'normalises over every axis from its axis on, which opset 13 no longer does');
        n.setAttr('axis', { type: 'int', value: -1 });
        break;
      }
      default:
        if (REFUSED.has(n.opType)) refuse(n, from, 'changed its inputs or meaning by opset 13');
    }
  }
  const list = (m.extra.opset_import as { domain?: string; version?: unknown }[] | undefined) ?? [];
  const entry = list.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (entry) entry.version = TARGET;
  else list.push({ domain: '', version: TARGET });
  m.extra.opset_import = list;
  if (m.irVersion < 7) m.irVersion = 7;
}
