// IR Model -> ONNX bytes (and an external-data file when asked or when the model came with one).
import { basename, dirname, join } from 'node:path';
import type { Attribute, Graph, Model, Node } from '../ir/graph';
import type { Tensor } from '../ir/tensor';
import { PrunedetError } from '../errors';
import { resolveInside, writeFileAtomic } from '../fs';
import { ATTRIBUTE_TYPE } from './attribute-type';
import { encodeMessage, type ProtoMessage } from './codec';
import { tensorToProto, type ExternalPlacement } from './tensor-proto';

export interface SaveOptions {
  /**
   * Where tensor data goes: 'inline' (all in the .onnx), 'keep' (tensors loaded from an external file stay external;
   * the default), or 'external' (every tensor of at least `threshold` bytes goes to the data file).
   */
  externalData?: 'inline' | 'keep' | 'external';
  /** Data file name, relative to the model file's folder. Default: `<model file name>.data`. */
  location?: string;
  /** Minimum tensor size in bytes for 'external' mode (default 1024). */
  threshold?: number;
}

interface ExternalPlan {
  location: string;
  chunks: Uint8Array[];
  size: number;
  place(bytes: Uint8Array): ExternalPlacement;
}

const ALIGN = 64;

function externalPlan(location: string): ExternalPlan {
  const plan: ExternalPlan = {
    location,
    chunks: [],
    size: 0,
    place(bytes) {
      const pad = (ALIGN - (plan.size % ALIGN)) % ALIGN;
      if (pad) {
        plan.chunks.push(new Uint8Array(pad));
        plan.size += pad;
      }
      const at = { location, offset: plan.size, length: bytes.length };
      plan.chunks.push(bytes);
      plan.size += bytes.length;
      return at;
    },
  };
  return plan;
}

/** Serialise to bytes with every tensor inline (external tensors are read in). */
export function modelToBytes(model: Model): Uint8Array {
  return encodeMessage(
    'onnx.ModelProto',
    modelToProto(model, () => undefined),
  );
}

/**
 * Write `model` to `path` atomically; with external data, the data file is written first, next to `path`.
 * Returns the bytes written to the .onnx file.
 */
export function saveModel(model: Model, path: string, opts: SaveOptions = {}): number {
  const mode = opts.externalData ?? 'keep';
  const threshold = opts.threshold ?? 1024;
  const location = opts.location ?? `${basename(path)}.data`;
  const dir = dirname(path);
  let plan: ExternalPlan | undefined;
  const placeFor = (t: Tensor): ExternalPlacement | undefined => {
    const external =
      mode === 'external'
        ? t.byteLength >= threshold && t.dataType !== 8
        : mode === 'keep' && t.source.kind === 'external';
    if (!external) return undefined;
    if (!plan) {
      resolveInside(dir, location, 'external data');
      plan = externalPlan(location);
    }
    return plan.place(t.bytes());
  };
  const proto = modelToProto(model, placeFor);
  const bytes = encodeMessage('onnx.ModelProto', proto);
  if (bytes.length > 0x7fffffff) {
    throw new PrunedetError(
      'E_OUTPUT',
      `model is ${bytes.length} bytes, above protobuf's 2 GiB limit`,
      'save with external data (--external-data)',
    );
  }
  if (plan) {
    const data = Buffer.concat(plan.chunks, plan.size);
    writeFileAtomic(join(dir, plan.location), data);
  }
  writeFileAtomic(path, bytes);
  return bytes.length;
}

type Placer = (t: Tensor) => ExternalPlacement | undefined;

function modelToProto(model: Model, place: Placer): ProtoMessage {
  return { ...model.extra, graph: graphToProto(model.graph, place) };
}

function graphToProto(g: Graph, place: Placer): ProtoMessage {
  const info = (v: { name: string; info: Record<string, unknown> | undefined }): ProtoMessage => ({
    ...(v.info ?? {}),
    name: v.name,
  });
  const out: ProtoMessage = { ...g.extra };
  const put = (key: string, list: unknown[]) => {
    if (list.length) out[key] = list;
  };
  put(
    'node',
    g.nodes.map((n) => nodeToProto(n, place)),
  );
  put(
    'initializer',
    g.initializers.map((v) => tensorToProto(v.initializer!, v.name, place(v.initializer!))),
  );
  put('input', g.inputs.map(info));
  put('output', g.outputs.map(info));
  put('value_info', g.valueInfo.map(info));
  return out;
}

function nodeToProto(n: Node, place: Placer): ProtoMessage {
  const out: ProtoMessage = { ...n.extra };
  // Trailing empty inputs are dropped (ONNX treats missing and empty trailing optionals alike).
  let last = n.inputs.length;
  while (last > 0 && n.inputs[last - 1] === undefined) last--;
  if (last) out.input = n.inputs.slice(0, last).map((v) => v?.name ?? '');
  if (n.outputs.length) out.output = n.outputs.map((v) => v?.name ?? '');
  if (n.attributes.length) out.attribute = n.attributes.map((a) => attributeToProto(a, place));
  return out;
}

function attributeToProto(a: Attribute, place: Placer): ProtoMessage {
  const v = a.value;
  if (v.type === 'opaque') return { ...v.value, name: a.name };
  const out: ProtoMessage = { ...a.extra, name: a.name };
  if (!('$noType' in a.extra)) out.type = ATTRIBUTE_TYPE[v.type];
  switch (v.type) {
    case 'float':
      out.f = v.value;
      break;
    case 'int':
      out.i = v.value;
      break;
    case 'string':
      out.s = v.value;
      break;
    case 'tensor':
      out.t = tensorToProto(v.value, undefined, place(v.value));
      break;
    case 'floats':
      if (v.value.length) out.floats = v.value;
      break;
    case 'ints':
      if (v.value.length) out.ints = v.value;
      break;
    case 'strings':
      if (v.value.length) out.strings = v.value;
      break;
    case 'tensors':
      if (v.value.length) out.tensors = v.value.map((t) => tensorToProto(t, undefined, place(t)));
      break;
  }
  return out;
}
