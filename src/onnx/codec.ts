// Schema-driven protobuf codec for ONNX messages: decodes into plain objects keyed by the schema's field names and
// encodes them back. Not an IR: src/onnx/load.ts and save.ts translate between these objects and src/ir.
//
// Why not protobufjs' own generated decoders: they copy every `bytes` field, turn packed floats into JS arrays and
// silently drop fields the schema does not know. Here `bytes` fields are views over the input buffer (weights are
// never copied on load), and every unknown field is kept verbatim in `$unknown` and written back on save.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { int64FromBigInt } from '../ir/tensor';

/** A decoded message: schema field name -> value; only fields present on the wire are set. */
export interface ProtoMessage {
  [field: string]: unknown;
  /** Fields unknown to the schema (or with an unexpected wire type), as raw tag+payload bytes, in wire order. */
  $unknown?: Uint8Array[];
}

/** int64 values: a number when exactly representable, else a bigint (e.g. Slice ends of INT64_MAX). */
export type Int64 = number | bigint;

type Scalar = 'string' | 'bytes' | 'int64' | 'uint64' | 'int32' | 'uint32' | 'bool' | 'float' | 'double' | 'enum';

interface FieldSchema {
  readonly name: string;
  readonly id: number;
  readonly repeated: boolean;
  /** Written packed (proto2: only with [packed = true]); any repeated number field is *read* in either form. */
  readonly packed: boolean;
  readonly packable: boolean;
  readonly scalar?: Scalar;
  /** Set for message-typed fields; resolved lazily because message types refer to each other. */
  readonly typeName?: string;
}

export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly FieldSchema[];
  readonly byId: ReadonlyMap<number, FieldSchema>;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const SCALAR_WIRE: Record<Scalar, number> = {
  string: WIRE_LEN,
  bytes: WIRE_LEN,
  int64: WIRE_VARINT,
  uint64: WIRE_VARINT,
  int32: WIRE_VARINT,
  uint32: WIRE_VARINT,
  bool: WIRE_VARINT,
  enum: WIRE_VARINT,
  float: WIRE_I32,
  double: WIRE_I64,
};

let schemas: Map<string, MessageSchema> | undefined;

function loadSchemas(): Map<string, MessageSchema> {
  if (schemas) return schemas;
  const text = readFileSync(new URL('./schema/onnx.proto', import.meta.url), 'utf8');
  const root = protobuf.parse(text, { keepCase: true }).root;
  root.resolveAll();
  const out = new Map<string, MessageSchema>();
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const fields: FieldSchema[] = nested.fieldsArray.map((f) => {
          const scalar = f.resolvedType instanceof protobuf.Enum ? 'enum' : (f.type as Scalar);
          const isMessage = f.resolvedType instanceof protobuf.Type;
          return {
            name: f.name,
            id: f.id,
            repeated: f.repeated,
            packed: f.repeated && f.packed,
            packable: f.repeated && !isMessage && scalar !== 'string' && scalar !== 'bytes',
            ...(isMessage ? { typeName: (f.resolvedType as protobuf.Type).fullName.replace(/^\./, '') } : { scalar }),
          };
        });
        out.set(nested.fullName.replace(/^\./, ''), {
          name: nested.name,
          fields,
          byId: new Map(fields.map((f) => [f.id, f])),
        });
      }
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) visit(nested);
    }
  };
  visit(root);
  schemas = out;
  return out;
}

/** The schema of one ONNX message, e.g. `schemaOf('onnx.ModelProto')`. */
function schemaOf(typeName: string): MessageSchema {
  const s = loadSchemas().get(typeName);
  if (!s) throw new Error(`unknown protobuf message type ${typeName}`);
  return s;
}

function longToInt64(v: protobuf.Long | number, unsigned: boolean): Int64 {
  if (typeof v === 'number') return v;
  const b = BigInt(v.toString());
  return int64FromBigInt(unsigned ? BigInt.asUintN(64, b) : b);
}

function readScalar(reader: protobuf.Reader, scalar: Scalar): unknown {
  switch (scalar) {
    case 'string':
      return reader.string();
    case 'bytes': {
      const len = reader.uint32();
      const start = reader.pos;
      if (start + len > reader.len) throw new RangeError(`index out of range: ${start} + ${len} > ${reader.len}`);
      reader.pos += len;
      return reader.buf.subarray(start, start + len);
    }
    case 'int64':
      return longToInt64(reader.int64() as protobuf.Long | number, false);
    case 'uint64':
      return longToInt64(reader.uint64() as protobuf.Long | number, true);
    case 'int32':
    case 'enum':
      return reader.int32();
    case 'uint32':
      return reader.uint32();
    case 'bool':
      return reader.bool();
    case 'float':
      return reader.float();
    case 'double':
      return reader.double();
  }
}

/** Packed floats/doubles become typed arrays (copied once: a view may be misaligned); other packed scalars arrays. */
function readPacked(
  reader: protobuf.Reader,
  scalar: Scalar,
  into: unknown[] | Float32Array | Float64Array | undefined,
) {
  const len = reader.uint32();
  const end = reader.pos + len;
  if (end > reader.len) throw new RangeError(`index out of range: ${reader.pos} + ${len} > ${reader.len}`);
  if (scalar === 'float' || scalar === 'double') {
    const width = scalar === 'float' ? 4 : 8;
    const view = new DataView(reader.buf.buffer, reader.buf.byteOffset + reader.pos, len);
    const count = Math.floor(len / width);
    const prev =
      (into as Float32Array | Float64Array | undefined) ??
      (scalar === 'float' ? new Float32Array(0) : new Float64Array(0));
    const out = scalar === 'float' ? new Float32Array(prev.length + count) : new Float64Array(prev.length + count);
    out.set(prev);
    for (let i = 0; i < count; i++) {
      out[prev.length + i] = width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
    }
    reader.pos = end;
    return out;
  }
  const arr = (into as unknown[] | undefined) ?? [];
  while (reader.pos < end) arr.push(readScalar(reader, scalar));
  return arr;
}

function decodeInto(reader: protobuf.Reader, schema: MessageSchema, end: number, depth: number): ProtoMessage {
  if (depth > 64) throw new RangeError('message nesting deeper than 64 levels');
  const msg: ProtoMessage = {};
  while (reader.pos < end) {
    const tagStart = reader.pos;
    const tag = reader.uint32();
    const wire = tag & 7;
    const field = schema.byId.get(tag >>> 3);
    const expected = field ? (field.typeName ? WIRE_LEN : SCALAR_WIRE[field.scalar!]) : -1;
    const packedForm = field?.packable === true && wire === WIRE_LEN;
    if (!field || (wire !== expected && !packedForm)) {
      reader.skipType(wire);
      (msg.$unknown ??= []).push(reader.buf.subarray(tagStart, reader.pos));
      continue;
    }
    let value: unknown;
    if (field.typeName) {
      const len = reader.uint32();
      const subEnd = reader.pos + len;
      if (subEnd > end) throw new RangeError(`index out of range: ${reader.pos} + ${len} > ${end}`);
      value = decodeInto(reader, schemaOf(field.typeName), subEnd, depth + 1);
      reader.pos = subEnd;
    } else if (packedForm) {
      msg[field.name] = readPacked(reader, field.scalar!, msg[field.name] as unknown[] | undefined);
      continue;
    } else {
      value = readScalar(reader, field.scalar!);
    }
    if (field.repeated) {
      const prev = msg[field.name];
      if (prev instanceof Float32Array || prev instanceof Float64Array) {
        const grown = new (prev.constructor as Float32ArrayConstructor)(prev.length + 1);
        grown.set(prev);
        grown[prev.length] = value as number;
        msg[field.name] = grown;
      } else if (field.scalar === 'float' || field.scalar === 'double') {
        const arr = field.scalar === 'float' ? new Float32Array(1) : new Float64Array(1);
        arr[0] = value as number;
        msg[field.name] = arr;
      } else {
        ((msg[field.name] ??= []) as unknown[]).push(value);
      }
    } else {
      msg[field.name] = value;
    }
  }
  if (reader.pos !== end) throw new RangeError(`message overran its length by ${reader.pos - end} bytes`);
  return msg;
}

/** A copy of `msg`'s fields except `keys` (in their original order). */
export function without(msg: ProtoMessage, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/** Decode `bytes` as message `typeName`. Bytes fields of the result are views into `bytes`. */
export function decodeMessage(typeName: string, bytes: Uint8Array): ProtoMessage {
  const reader = protobuf.Reader.create(bytes);
  return decodeInto(reader, schemaOf(typeName), bytes.length, 0);
}

// ---- encoding: a size pass, one allocation, a write pass (no intermediate buffers for 100 MB of weights) ----

const utf8 = new TextEncoder();

function varintSize(v: bigint | number): number {
  let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
  let n = 1;
  if (typeof x === 'number') {
    while (x >= 128) {
      x = Math.floor(x / 128);
      n++;
    }
    return n;
  }
  while (x >= 128n) {
    x >>= 7n;
    n++;
  }
  return n;
}

class ByteSink {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  varint(v: bigint | number): void {
    let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v < 0 ? BigInt.asUintN(64, BigInt(v)) : v;
    if (typeof x === 'number') {
      while (x >= 128) {
        this.buf[this.pos++] = (x % 128) | 128;
        x = Math.floor(x / 128);
      }
      this.buf[this.pos++] = x;
      return;
    }
    while (x >= 128n) {
      this.buf[this.pos++] = Number(x & 127n) | 128;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

type Sizes = Map<ProtoMessage, number>;

function scalarPayload(scalar: Scalar, v: unknown): { size: number; write: (out: ByteSink) => void } {
  switch (scalar) {
    case 'string': {
      const b = utf8.encode(v as string);
      return { size: varintSize(b.length) + b.length, write: (o) => (o.varint(b.length), o.bytes(b)) };
    }
    case 'bytes': {
      const b = v as Uint8Array;
      return { size: varintSize(b.length) + b.length, write: (o) => (o.varint(b.length), o.bytes(b)) };
    }
    case 'bool':
      return { size: 1, write: (o) => o.varint(v ? 1 : 0) };
    case 'float':
      return { size: 4, write: (o) => (o.view.setFloat32(o.pos, v as number, true), (o.pos += 4)) };
    case 'double':
      return { size: 8, write: (o) => (o.view.setFloat64(o.pos, v as number, true), (o.pos += 8)) };
    default: {
      const n = v as number | bigint;
      if (typeof n === 'number' && !Number.isInteger(n)) throw new Error(`integer field holds non-integer ${n}`);
      return { size: varintSize(n), write: (o) => o.varint(n) };
    }
  }
}

function fieldItems(field: FieldSchema, v: unknown): ArrayLike<unknown> {
  return field.repeated ? (v as ArrayLike<unknown>) : [v];
}

function packedBody(field: FieldSchema, items: ArrayLike<unknown>): { size: number; write: (o: ByteSink) => void } {
  if (items instanceof Float32Array || items instanceof Float64Array) {
    const b = new Uint8Array(items.buffer, items.byteOffset, items.byteLength);
    return { size: b.length, write: (o) => o.bytes(b) };
  }
  if (field.scalar === 'float' || field.scalar === 'double') {
    const arr =
      field.scalar === 'float'
        ? Float32Array.from(items as ArrayLike<number>)
        : Float64Array.from(items as ArrayLike<number>);
    return packedBody(field, arr);
  }
  const parts = Array.from(items, (x) => scalarPayload(field.scalar!, x));
  return { size: parts.reduce((s, p) => s + p.size, 0), write: (o) => parts.forEach((p) => p.write(o)) };
}

function messageSize(schema: MessageSchema, msg: ProtoMessage, sizes: Sizes): number {
  let total = 0;
  for (const field of schema.fields) {
    const v = msg[field.name];
    if (v === undefined) continue;
    const tagSize = varintSize(field.id << 3);
    const items = fieldItems(field, v);
    if (field.typeName) {
      const sub = schemaOf(field.typeName);
      for (let i = 0; i < items.length; i++) {
        const n = messageSize(sub, items[i] as ProtoMessage, sizes);
        total += tagSize + varintSize(n) + n;
      }
    } else if (field.packed) {
      if (items.length === 0) continue;
      const n = packedBody(field, items).size;
      total += tagSize + varintSize(n) + n;
    } else {
      for (let i = 0; i < items.length; i++) total += tagSize + scalarPayload(field.scalar!, items[i]).size;
    }
  }
  for (const raw of msg.$unknown ?? []) total += raw.length;
  sizes.set(msg, total);
  return total;
}

function writeMessage(out: ByteSink, schema: MessageSchema, msg: ProtoMessage, sizes: Sizes): void {
  for (const field of schema.fields) {
    const v = msg[field.name];
    if (v === undefined) continue;
    const items = fieldItems(field, v);
    if (field.typeName) {
      const sub = schemaOf(field.typeName);
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as ProtoMessage;
        out.varint((field.id << 3) | WIRE_LEN);
        out.varint(sizes.get(item)!);
        writeMessage(out, sub, item, sizes);
      }
    } else if (field.packed) {
      if (items.length === 0) continue;
      const body = packedBody(field, items);
      out.varint((field.id << 3) | WIRE_LEN);
      out.varint(body.size);
      body.write(out);
    } else {
      for (let i = 0; i < items.length; i++) {
        out.varint((field.id << 3) | SCALAR_WIRE[field.scalar!]);
        scalarPayload(field.scalar!, items[i]).write(out);
      }
    }
  }
  // Unknown fields go last, in the order they were read: protobuf readers accept fields in any order.
  for (const raw of msg.$unknown ?? []) out.bytes(raw);
}

/** Encode `msg` as message `typeName` into one buffer. Packed typed arrays are little-endian (as on every Node host). */
export function encodeMessage(typeName: string, msg: ProtoMessage): Uint8Array {
  const schema = schemaOf(typeName);
  const sizes: Sizes = new Map();
  const total = messageSize(schema, msg, sizes);
  const out = new ByteSink(new Uint8Array(total));
  writeMessage(out, schema, msg, sizes);
  if (out.pos !== total) throw new Error(`encoder wrote ${out.pos} bytes, sized ${total}`);
  return out.buf;
}
