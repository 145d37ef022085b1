// Constant tensors of the IR (initializers, Constant values): dtype, dims and the data, held where it already lives:
// a view over the model file's bytes, a typed field of the file, or a region of an external-data file read on demand.
// Not for runtime activations (those are Values without data).
// Invariant: the data holds exactly dims x dtype-size bytes (or that many entries in a typed field), checked when the
// tensor is made (external data: when first read), so no view ever extends past the tensor's own bytes. The loader
// refuses files that break it with a message naming the tensor (src/onnx/validate.ts); here a break is a bug.
import { InternalError } from '../errors';
import { DataType, dtypeName, dtypeWidth } from './dtype';

export type Int64 = number | bigint;

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An int64 as a number when exactly representable, else as the bigint itself. */
export function int64FromBigInt(v: bigint): Int64 {
  return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
}

/** Which TensorProto field a tensor's values came from; save writes them back to the same field. */
export type TensorSource =
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'float_data'; data: Float32Array }
  | { kind: 'double_data'; data: Float64Array }
  | { kind: 'int32_data'; data: number[] }
  | { kind: 'int64_data'; data: Int64[] }
  | { kind: 'uint64_data'; data: Int64[] }
  | { kind: 'string_data'; data: Uint8Array[] }
  | { kind: 'external'; location: string; offset: number; length: number | undefined; read: () => Uint8Array };

const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!little) throw new Error('prunedet needs a little-endian host (ONNX raw_data is little-endian)');

export class Tensor {
  /** Fields of the original TensorProto that the IR does not model (doc_string, metadata, segment, unknown). */
  extra: Record<string, unknown>;
  private cachedBytes: Uint8Array | undefined;

  constructor(
    readonly dataType: DataType,
    readonly dims: readonly number[],
    readonly source: TensorSource,
    extra: Record<string, unknown> = {},
  ) {
    this.extra = extra;
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new InternalError(`tensor dims [${dims.join(',')}] are not whole numbers >= 0`);
    const s = source;
    if (s.kind === 'raw') this.expectBytes(s.bytes.length);
    else if (s.kind !== 'external') this.expectEntries(s.kind, s.data.length);
  }

  /** The data holds exactly byteLength bytes. */
  private expectBytes(n: number): void {
    if (n !== this.byteLength || this.dataType === DataType.STRING) {
      throw new InternalError(`tensor ${this.describe()} holds ${n} bytes of data, its dims need ${this.byteLength}`);
    }
  }

  /** A typed field holds one entry per element (two for complex, one per packed byte for 4- and 2-bit types). */
  private expectEntries(field: string, n: number): void {
    const t = this.dataType;
    const want =
      t === DataType.COMPLEX64 || t === DataType.COMPLEX128
        ? 2 * this.size
        : dtypeWidth(t) < 1
          ? this.byteLength
          : this.size;
    if (n !== want)
      throw new InternalError(`tensor ${this.describe()} holds ${n} entries in ${field}, its dims need ${want}`);
  }

  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return Math.ceil(this.size * dtypeWidth(this.dataType));
  }

  describe(): string {
    return `${dtypeName(this.dataType)}[${this.dims.join(',')}]`;
  }

  /** The little-endian bytes of the data (raw_data layout). A view when the file stored raw_data. */
  bytes(): Uint8Array {
    if (this.source.kind === 'raw') return this.source.bytes;
    if (this.cachedBytes) return this.cachedBytes;
    const s = this.source;
    let out: Uint8Array;
    switch (s.kind) {
      case 'external':
        out = s.read();
        this.expectBytes(out.length);
        break;
      case 'float_data':
      case 'double_data':
        out = new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength);
        break;
      case 'int32_data':
        out = packInt32Field(this.dataType, s.data, this.size);
        break;
      case 'int64_data':
      case 'uint64_data': {
        const a = new BigInt64Array(s.data.length);
        s.data.forEach((v, i) => (a[i] = BigInt.asIntN(64, BigInt(v))));
        out = new Uint8Array(a.buffer);
        break;
      }
      case 'string_data':
        throw new Error('string tensors have no raw byte form');
    }
    this.cachedBytes = out;
    return out;
  }

  /** Values as float32 (a view when the bytes are aligned float32, else a converted copy). */
  float32(): Float32Array {
    if (this.source.kind === 'float_data') return this.source.data;
    const b = this.bytes();
    const n = this.size;
    switch (this.dataType) {
      case DataType.FLOAT:
        if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
        return new Float32Array(new Uint8Array(b.subarray(0, n * 4)).buffer); // copy: Buffer.slice would be a view
      case DataType.FLOAT16: {
        const out = new Float32Array(n);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
        return out;
      }
      case DataType.BFLOAT16: {
        const out = new Float32Array(n);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const tmp = new DataView(new ArrayBuffer(4));
        for (let i = 0; i < n; i++) {
          tmp.setUint32(0, dv.getUint16(i * 2, true) << 16);
          out[i] = tmp.getFloat32(0);
        }
        return out;
      }
      default:
        return Float32Array.from(this.numbers());
    }
  }

  /** Values as JS numbers (int64 beyond 2^53 loses precision; use int64s() where that matters). */
  numbers(): number[] {
    const s = this.source;
    if (s.kind === 'int64_data' || s.kind === 'uint64_data') return s.data.map(Number);
    if (s.kind === 'int32_data' && this.dataType === DataType.INT32) return s.data.slice();
    if (s.kind === 'double_data') return Array.from(s.data);
    if (s.kind === 'float_data') return Array.from(s.data);
    const b = this.bytes();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const n = this.size;
    const out = new Array<number>(n);
    const t = this.dataType;
    for (let i = 0; i < n; i++) {
      switch (t) {
        case DataType.FLOAT:
          out[i] = dv.getFloat32(i * 4, true);
          break;
        case DataType.DOUBLE:
          out[i] = dv.getFloat64(i * 8, true);
          break;
        case DataType.INT64:
          out[i] = Number(dv.getBigInt64(i * 8, true));
          break;
        case DataType.UINT64:
          out[i] = Number(dv.getBigUint64(i * 8, true));
          break;
        case DataType.INT32:
          out[i] = dv.getInt32(i * 4, true);
          break;
        case DataType.UINT32:
          out[i] = dv.getUint32(i * 4, true);
          break;
        case DataType.INT16:
          out[i] = dv.getInt16(i * 2, true);
          break;
        case DataType.UINT16:
          out[i] = dv.getUint16(i * 2, true);
          break;
        case DataType.INT8:
          out[i] = dv.getInt8(i);
          break;
        case DataType.UINT8:
        case DataType.BOOL:
          out[i] = dv.getUint8(i);
          break;
        case DataType.FLOAT16:
          out[i] = halfToFloat(dv.getUint16(i * 2, true));
          break;
        default:
          throw new Error(`cannot read ${dtypeName(t)} values as numbers`);
      }
    }
    return out;
  }

  /** int64 values exactly (bigint only beyond 2^53). */
  int64s(): Int64[] {
    const s = this.source;
    if (s.kind === 'int64_data') return s.data.slice();
    if (this.dataType !== DataType.INT64) return this.numbers();
    const b = this.bytes();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out: Int64[] = [];
    const n = this.size;
    for (let i = 0; i < n; i++) out.push(int64FromBigInt(dv.getBigInt64(i * 8, true)));
    return out;
  }

  /** A new tensor of the same type over new raw bytes (the original's extra fields are copied). */
  withData(dims: readonly number[], bytes: Uint8Array): Tensor {
    return new Tensor(this.dataType, dims, { kind: 'raw', bytes }, { ...this.extra });
  }

  static fromFloat32(dims: readonly number[], data: Float32Array): Tensor {
    checkCount(dims, data.length);
    return new Tensor(DataType.FLOAT, dims, {
      kind: 'raw',
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
  }

  static fromInt64(dims: readonly number[], data: readonly Int64[]): Tensor {
    checkCount(dims, data.length);
    const a = BigInt64Array.from(data, (v) => BigInt(v));
    return new Tensor(DataType.INT64, dims, { kind: 'raw', bytes: new Uint8Array(a.buffer) });
  }

  static fromInt32(dims: readonly number[], data: readonly number[]): Tensor {
    checkCount(dims, data.length);
    const a = Int32Array.from(data);
    return new Tensor(DataType.INT32, dims, { kind: 'raw', bytes: new Uint8Array(a.buffer) });
  }

  /** Build a tensor of `dataType` from JS numbers (used by constant folding). */
  static fromNumbers(dataType: DataType, dims: readonly number[], data: ArrayLike<number>): Tensor {
    checkCount(dims, data.length);
    switch (dataType) {
      case DataType.FLOAT:
        return Tensor.fromFloat32(dims, Float32Array.from(data));
      case DataType.INT64:
        return Tensor.fromInt64(
          dims,
          Array.from(data, (v) => Math.trunc(v)),
        );
      case DataType.INT32:
        return Tensor.fromInt32(dims, Array.from(data));
      case DataType.DOUBLE: {
        const a = Float64Array.from(data);
        return new Tensor(dataType, dims, { kind: 'raw', bytes: new Uint8Array(a.buffer) });
      }
      case DataType.UINT8:
      case DataType.BOOL:
        return new Tensor(dataType, dims, { kind: 'raw', bytes: Uint8Array.from(data) });
      case DataType.INT8:
        return new Tensor(dataType, dims, { kind: 'raw', bytes: new Uint8Array(Int8Array.from(data).buffer) });
      default:
        throw new Error(`cannot build a ${dtypeName(dataType)} tensor from numbers`);
    }
  }
}

function checkCount(dims: readonly number[], n: number): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (want !== n) throw new Error(`tensor of dims [${dims.join(',')}] needs ${want} values, got ${n}`);
}

/** int32_data holds every type of 32 bits or fewer, one element per entry; raw_data packs them tightly. */
function packInt32Field(t: DataType, data: number[], n: number): Uint8Array {
  const w = dtypeWidth(t);
  if (w < 1) return Uint8Array.from(data, (v) => v & 0xff); // 4- and 2-bit types: one packed byte per entry
  const out = new Uint8Array(n * w);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = data[i] ?? 0;
    if (w === 1) dv.setUint8(i, v & 0xff);
    else if (w === 2) dv.setUint16(i * 2, v & 0xffff, true);
    else dv.setInt32(i * 4, v, true);
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
