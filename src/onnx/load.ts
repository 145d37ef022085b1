// ONNX file -> IR Model. Weights stay views over the file's bytes; external data is read on first access from files
// that must lie inside the model's folder. Every field the IR does not model is carried in `extra`.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Graph, Model, Node, type Attribute, type AttrValue } from '../ir/graph';
import type { Tensor, Int64 } from '../ir/tensor';
import { PrunedetError } from '../errors';
import { resolveInside } from '../fs';
import { ATTRIBUTE_TYPE } from './attribute-type';
import { decodeMessage, without, type ProtoMessage } from './codec';
import { tensorFromProto, type ExternalReader } from './tensor-proto';
import { validateModelProto } from './validate';
import { inlineFunctions } from './functions';

export interface LoadedModel {
  model: Model;
  /** Where the model came from (file path or '<bytes>'), for messages. */
  source: string;
  byteLength: number;
  /** The file's bytes (the weights are views into them). */
  bytes: Uint8Array;
  /** Every file read: the model's path and its external data files (empty for bytes). */
  files: string[];
}

/** Load a model from a path (external data resolved next to it) or from bytes. */
export function loadModel(input: string | Uint8Array): Model {
  return loadModelWithInfo(input).model;
}

export function loadModelWithInfo(input: string | Uint8Array): LoadedModel {
  let bytes: Uint8Array;
  let label: string;
  let baseDir: string | undefined;
  if (typeof input === 'string') {
    label = basename(input);
    if (!existsSync(input)) throw new PrunedetError('E_FILE_NOT_FOUND', `${input} does not exist`, 'check the path');
    if (statSync(input).isDirectory())
      throw new PrunedetError('E_FILE_NOT_FOUND', `${input} is a folder, not an ONNX file`, 'pass the .onnx file');
    bytes = readFileSync(input);
    baseDir = dirname(input);
  } else {
    label = '<bytes>';
    bytes = input;
  }
  if (bytes.length === 0) {
    throw new PrunedetError('E_FILE_EMPTY', `${label} is empty (0 bytes)`, 're-export or re-download the model');
  }
  let proto: ProtoMessage;
  try {
    proto = decodeMessage('onnx.ModelProto', bytes);
  } catch (e) {
    throw decodeFailure(label, bytes, e);
  }
  if (proto.graph === undefined || proto.ir_version === undefined) {
    throw new PrunedetError(
      'E_ONNX_CORRUPT',
      `${label} is not an ONNX model (no ${proto.graph === undefined ? 'graph' : 'ir_version'} field found in ${bytes.length.toLocaleString('en-US')} bytes)`,
      'pass an .onnx file exported by torch.onnx, tf2onnx or onnx',
    );
  }
  const { externalFiles } = validateModelProto(proto, { label, ...(baseDir !== undefined ? { baseDir } : {}) });
  const reader = baseDir === undefined ? undefined : externalReader(baseDir, label);
  const model = modelFromProto(proto, reader, label);
  return {
    model,
    source: label,
    byteLength: bytes.length,
    bytes,
    files: typeof input === 'string' ? [input, ...externalFiles] : [],
  };
}

/** Random bytes and cut-off files both fail to decode; a cut-off file still starts like a model. */
function decodeFailure(label: string, bytes: Uint8Array, e: unknown): PrunedetError {
  const startsLikeModel = bytes[0] === 0x08 && bytes.length > 1 && bytes[1]! > 0 && bytes[1]! < 32;
  const why = e instanceof Error ? e.message : String(e);
  if (startsLikeModel && /out of range|overran/.test(why)) {
    return new PrunedetError(
      'E_ONNX_TRUNCATED',
      `${label} is truncated (its ${bytes.length.toLocaleString('en-US')} bytes end inside a field)`,
      're-export or re-download the file',
    );
  }
  return new PrunedetError(
    'E_ONNX_CORRUPT',
    `${label} is not a valid ONNX protobuf (${why})`,
    'pass an .onnx file exported by torch.onnx, tf2onnx or onnx',
  );
}

function externalReader(baseDir: string, label: string): ExternalReader {
  const cache = new Map<string, Buffer>();
  const where = (location: string, tensorName: string) =>
    resolveInside(baseDir, location, `external data of tensor ${tensorName} in ${label}:`);
  const check = (location: string, tensorName: string) => void where(location, tensorName);
  const read = (location: string, offset: number, length: number | undefined, tensorName: string) => {
    const path = where(location, tensorName);
    let buf = cache.get(path);
    if (!buf) {
      if (!existsSync(path)) {
        throw new PrunedetError(
          'E_EXTERNAL_DATA',
          `external data file "${location}" of tensor ${tensorName} is missing next to ${label}`,
          'copy the data file next to the model',
        );
      }
      const fd = openSync(path, 'r');
      try {
        const size = fstatSync(fd).size;
        buf = Buffer.allocUnsafe(size);
        let got = 0;
        while (got < size) got += readSync(fd, buf, got, size - got, got);
      } finally {
        closeSync(fd);
      }
      cache.set(path, buf);
    }
    const end = length === undefined ? buf.length : offset + length;
    if (offset < 0 || end > buf.length) {
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `external data of tensor ${tensorName} needs bytes ${offset}..${end} of "${location}", which has ${buf.length}`,
        're-export the model with its data file',
      );
    }
    return buf.subarray(offset, end);
  };
  return { check, read };
}

function modelFromProto(proto: ProtoMessage, reader: ExternalReader | undefined, label = '<model>'): Model {
  inlineFunctions(proto, label); // model-local functions (dynamo exports): the IR is the inlined graph
  const graph = graphFromProto(proto.graph as ProtoMessage, reader, label);
  return new Model(graph, without(proto, ['graph']));
}

function graphFromProto(gp: ProtoMessage, reader: ExternalReader | undefined, label: string): Graph {
  const g = new Graph();
  g.extra = without(gp, ['node', 'initializer', 'input', 'output', 'value_info']);
  for (const t of (gp.initializer as ProtoMessage[] | undefined) ?? []) {
    const name = (t.name as string | undefined) ?? '';
    const v = g.value(name);
    if (v.initializer)
      throw new PrunedetError('E_ONNX_INVALID', `${label} has two initializers named ${name}`, 're-export the model');
    v.initializer = tensorFromProto(t, reader, false);
    g.initializers.push(v);
  }
  const declare = (list: string) =>
    ((gp[list] as ProtoMessage[] | undefined) ?? []).map((vi) => {
      const v = g.value((vi.name as string | undefined) ?? '');
      v.info ??= without(vi, ['name']);
      return v;
    });
  g.inputs = declare('input');
  g.outputs = declare('output');
  g.valueInfo = declare('value_info');
  const subgraphNodes: [Node, ProtoMessage[]][] = [];
  for (const np of (gp.node as ProtoMessage[] | undefined) ?? []) {
    const attributes = ((np.attribute as ProtoMessage[] | undefined) ?? []).map((a) => attributeFromProto(a, reader));
    const node = new Node(g, without(np, ['input', 'output', 'attribute']), attributes);
    ((np.input as string[] | undefined) ?? []).forEach((name, i) =>
      node.setInput(i, name === '' ? undefined : g.value(name)),
    );
    ((np.output as string[] | undefined) ?? []).forEach((name, i) => {
      if (name === '') {
        node.setOutput(i, undefined);
        return;
      }
      const v = g.value(name);
      if (v.producer)
        throw new PrunedetError(
          'E_ONNX_INVALID',
          `${label}: value ${name} is produced by two nodes (${v.producer.label()} and ${node.opType})`,
          're-export the model',
        );
      node.setOutput(i, v);
    });
    g.nodes.push(node);
    const subs = attributes.filter((a) => a.value.type === 'opaque').map((a) => a.value.value as ProtoMessage);
    if (subs.length) subgraphNodes.push([node, subs]);
  }
  for (const [node, subs] of subgraphNodes) {
    for (const name of freeNames(subs)) {
      const v = g.values.get(name);
      if (v && v.producer !== node) {
        node.captures.push(v);
        v.uses.push({ node, index: -1 });
      }
    }
  }
  return g;
}

/** Names read inside subgraph protos (in `g`/`graphs` attributes, recursively) and not defined there. */
function freeNames(protos: ProtoMessage[]): Set<string> {
  const free = new Set<string>();
  const visitGraph = (gp: ProtoMessage, outer: Set<string>) => {
    const defined = new Set(outer);
    for (const t of (gp.initializer as ProtoMessage[] | undefined) ?? []) defined.add(t.name as string);
    for (const vi of (gp.input as ProtoMessage[] | undefined) ?? []) defined.add(vi.name as string);
    for (const n of (gp.node as ProtoMessage[] | undefined) ?? [])
      for (const o of (n.output as string[] | undefined) ?? []) defined.add(o);
    for (const n of (gp.node as ProtoMessage[] | undefined) ?? []) {
      for (const i of (n.input as string[] | undefined) ?? []) if (i && !defined.has(i)) free.add(i);
      for (const a of (n.attribute as ProtoMessage[] | undefined) ?? []) {
        if (a.g) visitGraph(a.g as ProtoMessage, defined);
        for (const sg of (a.graphs as ProtoMessage[] | undefined) ?? []) visitGraph(sg, defined);
      }
    }
    for (const vi of (gp.output as ProtoMessage[] | undefined) ?? [])
      if (!defined.has(vi.name as string)) free.add(vi.name as string);
  };
  for (const p of protos) {
    if (p.node !== undefined || p.output !== undefined) visitGraph(p, new Set());
    if (p.g) visitGraph(p.g as ProtoMessage, new Set());
    for (const sg of (p.graphs as ProtoMessage[] | undefined) ?? []) visitGraph(sg, new Set());
  }
  return free;
}

/** AttributeProto -> IR attribute; subgraphs, sparse tensors, type protos and references stay opaque. */
function attributeFromProto(a: ProtoMessage, reader: ExternalReader | undefined): Attribute {
  const name = (a.name as string | undefined) ?? '';
  const toTensor = (t: ProtoMessage): Tensor => tensorFromProto(t, reader, true);
  const pick = (): [string[], AttrValue] => {
    if (
      a.ref_attr_name !== undefined ||
      a.g !== undefined ||
      a.graphs !== undefined ||
      a.sparse_tensor !== undefined ||
      a.sparse_tensors !== undefined ||
      a.tp !== undefined ||
      a.type_protos !== undefined
    ) {
      return [[], { type: 'opaque', value: a }];
    }
    const type = Number(a.type ?? 0);
    if (a.t !== undefined) return [['t'], { type: 'tensor', value: toTensor(a.t as ProtoMessage) }];
    if (a.f !== undefined) return [['f'], { type: 'float', value: a.f as number }];
    if (a.i !== undefined) return [['i'], { type: 'int', value: a.i as Int64 }];
    if (a.s !== undefined) return [['s'], { type: 'string', value: a.s as Uint8Array }];
    if (a.tensors !== undefined)
      return [['tensors'], { type: 'tensors', value: (a.tensors as ProtoMessage[]).map(toTensor) }];
    if (a.floats !== undefined) return [['floats'], { type: 'floats', value: Array.from(a.floats as Float32Array) }];
    if (a.ints !== undefined) return [['ints'], { type: 'ints', value: a.ints as Int64[] }];
    if (a.strings !== undefined) return [['strings'], { type: 'strings', value: a.strings as Uint8Array[] }];
    // An empty list is written with no value field at all; its type field says which list it is.
    if (type === ATTRIBUTE_TYPE.floats) return [[], { type: 'floats', value: [] }];
    if (type === ATTRIBUTE_TYPE.ints) return [[], { type: 'ints', value: [] }];
    if (type === ATTRIBUTE_TYPE.strings) return [[], { type: 'strings', value: [] }];
    if (type === ATTRIBUTE_TYPE.tensors) return [[], { type: 'tensors', value: [] }];
    return [[], { type: 'opaque', value: a }];
  };
  const [fields, value] = pick();
  const extra = value.type === 'opaque' ? {} : without(a, ['name', ...fields]);
  if (value.type !== 'opaque' && a.type === undefined) extra.$noType = true;
  return { name, value, extra };
}
