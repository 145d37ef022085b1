// Load-time validation of a decoded ModelProto: the one place that decides whether prunedet will read a model, run
// before anything else looks at it (load.ts calls it between decoding and building the IR). Each refusal is one
// PrunedetError naming the tensor or node and the fix:
//   - an ir_version of at least 3 and an opset for the default domain;
//   - every tensor (initializers, node attribute tensors, in subgraphs and local functions too): a data type ONNX
//     defines, dims that are whole numbers >= 0, and exactly dims x dtype-size bytes of data, whichever field holds
//     them (raw_data, the typed fields, or an external file: known keys, whole-number offset/length, a regular file
//     inside the model's folder holding that range);
//   - top-level nodes: an op type, every input defined (graph input, initializer, some node's output, or empty),
//     every graph output computed, no cycle; Conv/ConvTranspose attributes consistent with a constant weight
//     (kernel_shape, group, bias length, one float element type).
// After this, no tensor view can extend past its tensor's bytes (src/ir/tensor.ts checks the same invariant).
import { statSync } from 'node:fs';
import { PrunedetError } from '../errors';
import { resolveInside } from '../fs';
import { DataType, dtypeName, dtypeWidth, isFloatType } from '../ir/dtype';
import type { ProtoMessage } from './codec';

export interface ValidateOptions {
  /** The model's name in messages. */
  label: string;
  /** The folder external data is resolved against (absent: the model came as bytes). */
  baseDir?: string;
}

export interface ValidatedModel {
  /** Paths of the external data files the model's tensors read (each once). */
  externalFiles: string[];
}

/** Smallest ir_version with opset_import (ONNX 1.0); onnxruntime refuses older models too. */
const MIN_IR_VERSION = 3;
const EXTERNAL_KEYS = ['location', 'offset', 'length', 'checksum', 'basepath'];
const REEXPORT = 're-export the model (torch.onnx.export / tf2onnx); onnx.checker.check_model shows the same problem';

type Field = 'raw_data' | 'float_data' | 'int32_data' | 'string_data' | 'int64_data' | 'double_data' | 'uint64_data';
const TYPED_FIELDS: Exclude<Field, 'raw_data'>[] = [
  'float_data',
  'int32_data',
  'string_data',
  'int64_data',
  'double_data',
  'uint64_data',
];

/** Entries a typed field holds for `n` elements of type `t`, or undefined when the field cannot hold that type. */
function typedCount(field: Exclude<Field, 'raw_data'>, t: number, n: number): number | undefined {
  switch (field) {
    case 'float_data':
      return t === DataType.FLOAT ? n : t === DataType.COMPLEX64 ? 2 * n : undefined;
    case 'double_data':
      return t === DataType.DOUBLE ? n : t === DataType.COMPLEX128 ? 2 * n : undefined;
    case 'int64_data':
      return t === DataType.INT64 ? n : undefined;
    case 'uint64_data':
      return t === DataType.UINT32 || t === DataType.UINT64 ? n : undefined;
    case 'string_data':
      return t === DataType.STRING ? n : undefined;
    case 'int32_data': {
      if (
        t === DataType.STRING ||
        t === DataType.INT64 ||
        t === DataType.UINT64 ||
        t === DataType.UINT32 ||
        t === DataType.DOUBLE ||
        t === DataType.FLOAT ||
        t === DataType.COMPLEX64 ||
        t === DataType.COMPLEX128
      )
        return undefined;
      const w = dtypeWidth(t);
      return w >= 1 ? n : Math.ceil(n * w); // 4- and 2-bit types: one packed byte per entry
    }
  }
}

function known(t: number): boolean {
  try {
    dtypeWidth(t);
    return t !== DataType.UNDEFINED;
  } catch {
    return false;
  }
}

function invalid(message: string, hint = REEXPORT): PrunedetError {
  return new PrunedetError('E_ONNX_INVALID', message, hint);
}

/** A whole number >= 0 (protobuf int64 values arrive as numbers or bigints). */
function wholeNumber(v: unknown): number | undefined {
  const n = typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : -1) : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

class Validator {
  private readonly fileSizes = new Map<string, number>();

  constructor(private readonly o: ValidateOptions) {}

  get externalFiles(): string[] {
    return [...this.fileSizes.keys()];
  }

  model(m: ProtoMessage): void {
    const L = this.o.label;
    const ir = wholeNumber(m.ir_version);
    if (ir === undefined || ir < MIN_IR_VERSION) {
      throw invalid(
        `${L} declares ir_version ${String(m.ir_version)}; ONNX models have ir_version ${MIN_IR_VERSION} or later`,
      );
    }
    const opsets = (m.opset_import as ProtoMessage[] | undefined) ?? [];
    const seen = new Set<string>();
    for (const op of opsets) {
      const domain = (op.domain as string | undefined) ?? '';
      const key = domain === 'ai.onnx' ? '' : domain;
      if (seen.has(key)) throw invalid(`${L} imports the opset of domain '${domain}' twice`);
      seen.add(key);
      const v = wholeNumber(op.version);
      if (v === undefined || v < 1)
        throw invalid(
          `${L} imports domain '${domain}' at version ${String(op.version)}, which is not a version number`,
        );
    }
    if (!seen.has('')) {
      throw invalid(
        `${L} imports no opset for the default ONNX domain (opset_import ${opsets.length ? `lists only ${opsets.map((o) => `'${String(o.domain ?? '')}'`).join(', ')}` : 'is empty'}), so its ops have no defined meaning`,
        're-export the model with an opset version (torch.onnx.export(..., opset_version=13))',
      );
    }
    const g = m.graph as ProtoMessage;
    this.tensors(g, '');
    for (const f of (m.functions as ProtoMessage[] | undefined) ?? [])
      this.nodeTensors((f.node as ProtoMessage[] | undefined) ?? [], ` (in local function ${String(f.name ?? '')})`);
    this.topLevel(g);
  }

  /** Every tensor of a graph and its subgraphs. */
  private tensors(g: ProtoMessage, scope: string): void {
    for (const t of (g.initializer as ProtoMessage[] | undefined) ?? [])
      this.tensor(t, `initializer ${String(t.name ?? '')}${scope}`);
    this.nodeTensors((g.node as ProtoMessage[] | undefined) ?? [], scope);
  }

  /** The attribute tensors of `nodes`, and of their subgraphs. */
  private nodeTensors(nodes: ProtoMessage[], scope: string): void {
    nodes.forEach((n, i) => {
      for (const a of (n.attribute as ProtoMessage[] | undefined) ?? []) {
        const where = `attribute ${String(a.name ?? '')} of node ${nodeLabel(n, i)}${scope}`;
        if (a.t) this.tensor(a.t as ProtoMessage, where);
        for (const t of (a.tensors as ProtoMessage[] | undefined) ?? []) this.tensor(t, where);
        const sub = ` (in a subgraph of node ${nodeLabel(n, i)})`;
        if (a.g) this.tensors(a.g as ProtoMessage, sub);
        for (const sg of (a.graphs as ProtoMessage[] | undefined) ?? []) this.tensors(sg, sub);
      }
    });
  }

  private tensor(t: ProtoMessage, where: string): void {
    const L = this.o.label;
    const dtype = Number(t.data_type ?? 0);
    if (!known(dtype)) throw invalid(`${L}: ${where} has data type ${dtype}, which ONNX does not define`);
    const rawDims = (t.dims as unknown[] | undefined) ?? [];
    const dims = rawDims.map(wholeNumber);
    if (dims.some((d) => d === undefined)) {
      throw invalid(`${L}: ${where} has dims [${rawDims.map(String).join(',')}]; dims are whole numbers >= 0`);
    }
    let count = 1;
    for (const d of dims as number[]) count *= d;
    if (!Number.isSafeInteger(count))
      throw invalid(`${L}: ${where} has dims [${dims.join(',')}], more elements than any file can hold`);
    const width = dtypeWidth(dtype);
    const need = Math.ceil(count * width);
    const desc = `${dtypeName(dtype)}[${dims.join(',')}]`;
    if (Number(t.data_location ?? 0) === 1) {
      if (dtype === DataType.STRING)
        throw invalid(`${L}: ${where} is a string tensor in external data, which ONNX does not allow`);
      const got = this.external(t, where);
      if (got !== need)
        throw invalid(
          `${L}: ${where} is ${desc}, which needs ${need.toLocaleString('en-US')} bytes, but its external data holds ${got.toLocaleString('en-US')}`,
        );
      return;
    }
    const present = (['raw_data', ...TYPED_FIELDS] as Field[]).filter(
      (f) => t[f] !== undefined && (t[f] as ArrayLike<unknown>).length > 0,
    );
    if (present.length > 1) throw invalid(`${L}: ${where} holds values in two fields (${present.join(', ')})`);
    const field = present[0];
    if (field === undefined) {
      if (count > 0) throw invalid(`${L}: ${where} is ${desc} but holds no data`);
      return;
    }
    const len = (t[field] as ArrayLike<unknown>).length;
    if (field === 'raw_data') {
      if (dtype === DataType.STRING)
        throw invalid(`${L}: ${where} is a string tensor with raw_data, which ONNX does not allow`);
      if (len !== need)
        throw invalid(
          `${L}: ${where} is ${desc}, which needs ${need.toLocaleString('en-US')} bytes of raw_data, but it holds ${len.toLocaleString('en-US')}`,
        );
      return;
    }
    const want = typedCount(field, dtype, count);
    if (want === undefined)
      throw invalid(
        `${L}: ${where} is ${dtypeName(dtype)} but holds its values in ${field}, which cannot hold that type`,
      );
    if (len !== want)
      throw invalid(
        `${L}: ${where} is ${desc}, which needs ${want.toLocaleString('en-US')} entries in ${field}, but it holds ${len.toLocaleString('en-US')}`,
      );
  }

  /** Check an external tensor's keys, file and range; returns the byte count it names. */
  private external(t: ProtoMessage, where: string): number {
    const L = this.o.label;
    const entries = (t.external_data as ProtoMessage[] | undefined) ?? [];
    const values = new Map<string, string>();
    for (const e of entries) {
      const key = String(e.key ?? '');
      if (!EXTERNAL_KEYS.includes(key)) {
        throw new PrunedetError(
          'E_EXTERNAL_DATA',
          `${L}: ${where} has external-data key '${key}', which ONNX does not define (keys: ${EXTERNAL_KEYS.join(', ')})`,
          REEXPORT,
        );
      }
      if (values.has(key))
        throw new PrunedetError('E_EXTERNAL_DATA', `${L}: ${where} gives external-data key '${key}' twice`, REEXPORT);
      values.set(key, String(e.value ?? ''));
    }
    const location = values.get('location');
    if (!location)
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `tensor ${where.replace(/^initializer /, '')} is marked external but names no location`,
        're-export the model with its external data',
      );
    const num = (key: 'offset' | 'length'): number | undefined => {
      const text = values.get(key);
      if (text === undefined) return undefined;
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n)) {
        throw new PrunedetError(
          'E_EXTERNAL_DATA',
          `${L}: ${where} has external-data ${key} "${text}", which is not a whole number of bytes`,
          REEXPORT,
        );
      }
      return n;
    };
    const offset = num('offset') ?? 0;
    const length = num('length');
    if (this.o.baseDir === undefined) {
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `tensor ${where.replace(/^initializer /, '')} keeps its data in external file "${location}", but the model was given as bytes`,
        'load the model from its path so the data file can be found',
      );
    }
    const path = resolveInside(this.o.baseDir, location, `external data of ${where} in ${L}:`);
    let size = this.fileSizes.get(path);
    if (size === undefined) {
      let st;
      try {
        st = statSync(path);
      } catch {
        throw new PrunedetError(
          'E_EXTERNAL_DATA',
          `external data file "${location}" of ${where} is missing next to ${L}`,
          'copy the data file next to the model',
        );
      }
      if (!st.isFile())
        throw new PrunedetError(
          'E_EXTERNAL_DATA',
          `external data "${location}" of ${where} in ${L} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`,
          'point the location at the data file the model was saved with',
        );
      size = st.size;
      this.fileSizes.set(path, size);
    }
    const end = length === undefined ? size : offset + length;
    if (offset > size || end > size) {
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `external data of ${where} needs bytes ${offset}..${end} of "${location}", which has ${size}`,
        're-export the model with its data file',
      );
    }
    return end - offset;
  }

  /** Node inputs defined, outputs computed, no cycle, Conv attributes against constant weights. */
  private topLevel(g: ProtoMessage): void {
    const L = this.o.label;
    const nodes = (g.node as ProtoMessage[] | undefined) ?? [];
    const initializers = new Map<string, ProtoMessage>();
    for (const t of (g.initializer as ProtoMessage[] | undefined) ?? []) initializers.set(String(t.name ?? ''), t);
    const defined = new Set<string>([...initializers.keys()]);
    for (const vi of (g.input as ProtoMessage[] | undefined) ?? []) defined.add(String(vi.name ?? ''));
    const producer = new Map<string, number>();
    nodes.forEach((n, i) => {
      if (!n.op_type) throw invalid(`${L}: node ${nodeLabel(n, i)} has no op type`);
      for (const o of (n.output as string[] | undefined) ?? []) {
        if (o === '') continue;
        producer.set(o, i);
        defined.add(o);
      }
    });
    nodes.forEach((n, i) => {
      for (const name of (n.input as string[] | undefined) ?? []) {
        if (name !== '' && !defined.has(name)) {
          throw invalid(
            `${L}: node ${nodeLabel(n, i)} reads ${name}, which is no graph input, initializer or node output`,
          );
        }
      }
    });
    for (const vi of (g.output as ProtoMessage[] | undefined) ?? []) {
      const name = String(vi.name ?? '');
      if (!defined.has(name)) throw invalid(`${L}: graph output ${name} is computed by no node`);
    }
    this.acyclic(nodes, producer);
    const constants = new Map(initializers);
    for (const n of nodes) {
      if (n.op_type === 'Constant' && !n.domain) {
        const value = ((n.attribute as ProtoMessage[] | undefined) ?? []).find((a) => a.name === 'value')?.t as
          ProtoMessage | undefined;
        const out = ((n.output as string[] | undefined) ?? [])[0];
        if (value && out) constants.set(out, value);
      }
    }
    const declared = declaredTypes(g);
    nodes.forEach((n, i) => {
      if ((n.op_type === 'Conv' || n.op_type === 'ConvTranspose') && (!n.domain || n.domain === 'ai.onnx'))
        this.conv(n, i, constants, declared);
    });
  }

  /** Kahn's algorithm over producer edges; a leftover node is on a cycle. */
  private acyclic(nodes: ProtoMessage[], producer: Map<string, number>): void {
    const indeg = new Array<number>(nodes.length).fill(0);
    const next: number[][] = nodes.map(() => []);
    nodes.forEach((n, i) => {
      for (const name of (n.input as string[] | undefined) ?? []) {
        const p = producer.get(name);
        if (p !== undefined) {
          indeg[i]!++;
          next[p]!.push(i);
        }
      }
    });
    const ready = indeg.flatMap((d, i) => (d === 0 ? [i] : []));
    let seen = 0;
    while (ready.length) {
      const i = ready.pop()!;
      seen++;
      for (const j of next[i]!) if (--indeg[j]! === 0) ready.push(j);
    }
    if (seen < nodes.length) {
      const i = indeg.findIndex((d) => d > 0);
      throw invalid(`${this.o.label}: the graph has a cycle through node ${nodeLabel(nodes[i]!, i)}`);
    }
  }

  private conv(n: ProtoMessage, i: number, constants: Map<string, ProtoMessage>, declared: Map<string, number>): void {
    const L = this.o.label;
    const [x, w, b] = (n.input as string[] | undefined) ?? [];
    const label = `node ${nodeLabel(n, i)}`;
    const wt = w ? constants.get(w) : undefined;
    const attrs = new Map(((n.attribute as ProtoMessage[] | undefined) ?? []).map((a) => [String(a.name ?? ''), a]));
    const group = attrs.get('group')?.i ?? 1;
    if (wholeNumber(group) === undefined || Number(group) < 1)
      throw invalid(`${L}: ${label} has group ${String(group)}; group is a whole number >= 1`);
    if (!wt) return;
    const dtype = Number(wt.data_type ?? 0);
    const dims = ((wt.dims as unknown[] | undefined) ?? []).map(Number);
    if (!isFloatType(dtype))
      throw invalid(
        `${L}: ${label} has a ${dtypeName(dtype)} weight ${w}; Conv computes in float16, bfloat16, float32 or float64`,
      );
    if (dims.length < 3)
      throw invalid(
        `${L}: ${label} has weight ${w} of shape [${dims.join(',')}]; a Conv weight is [M, C/group, k1, ...]`,
      );
    const kernel = attrs.get('kernel_shape')?.ints as unknown[] | undefined;
    if (
      kernel !== undefined &&
      (kernel.length !== dims.length - 2 || kernel.some((k, j) => Number(k) !== dims[j + 2]))
    ) {
      throw invalid(
        `${L}: ${label} declares kernel_shape [${kernel.map(String).join(',')}] but its weight ${w} is [${dims.join(',')}]`,
      );
    }
    const out = n.op_type === 'Conv' ? dims[0]! : dims[1]! * Number(group);
    if (n.op_type === 'Conv' && out % Number(group) !== 0)
      throw invalid(
        `${L}: ${label} has group ${String(group)}, which does not divide the ${out} output channels of weight ${w}`,
      );
    const bt = b ? constants.get(b) : undefined;
    if (bt) {
      const bd = ((bt.dims as unknown[] | undefined) ?? []).map(Number);
      if (bd.length !== 1 || bd[0] !== out)
        throw invalid(
          `${L}: ${label} has bias ${b} of shape [${bd.join(',')}], but its weight ${w} makes ${out} output channels`,
        );
      if (Number(bt.data_type ?? 0) !== dtype)
        throw invalid(
          `${L}: ${label} has a ${dtypeName(Number(bt.data_type ?? 0))} bias ${b} and a ${dtypeName(dtype)} weight ${w}; they must have one type`,
        );
    }
    const xt = x ? (constants.has(x) ? Number(constants.get(x)!.data_type ?? 0) : declared.get(x)) : undefined;
    if (xt !== undefined && xt !== 0 && xt !== dtype)
      throw invalid(
        `${L}: ${label} reads a ${dtypeName(xt)} input ${x} with a ${dtypeName(dtype)} weight ${w}; they must have one type`,
      );
  }
}

/** Element types the graph declares (inputs, outputs, value_info). */
function declaredTypes(g: ProtoMessage): Map<string, number> {
  const out = new Map<string, number>();
  for (const list of ['input', 'output', 'value_info']) {
    for (const vi of (g[list] as ProtoMessage[] | undefined) ?? []) {
      const tt = ((vi.type as ProtoMessage | undefined)?.tensor_type as ProtoMessage | undefined)?.elem_type;
      if (tt !== undefined) out.set(String(vi.name ?? ''), Number(tt));
    }
  }
  return out;
}

/** How messages name a node: `name (OpType)` or `#index (OpType)`. */
function nodeLabel(n: ProtoMessage, i: number): string {
  return `${(n.name as string | undefined) || `#${i}`} (${String(n.op_type ?? '?')})`;
}

/** Validate a decoded model (see the top of this file); returns the external data files it reads. */
export function validateModelProto(m: ProtoMessage, o: ValidateOptions): ValidatedModel {
  const v = new Validator(o);
  v.model(m);
  return { externalFiles: v.externalFiles };
}
