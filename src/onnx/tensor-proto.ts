// TensorProto <-> IR Tensor. Keeps the field the data came from, so a saved model stores it the same way.
import { DataType } from '../ir/dtype';
import { Tensor, type Int64, type TensorSource } from '../ir/tensor';
import { without, type ProtoMessage } from './codec';
import { PrunedetError } from '../errors';

/** Access to external-data files, provided by the loader: `check` runs at load (paths must stay in the model's
 * folder), `read` on first use of the tensor's data. */
export interface ExternalReader {
  check(location: string, tensorName: string): void;
  read(location: string, offset: number, length: number | undefined, tensorName: string): Uint8Array;
}

const DATA_FIELDS = [
  'raw_data',
  'float_data',
  'int32_data',
  'string_data',
  'int64_data',
  'double_data',
  'uint64_data',
] as const;
const MODELLED = ['dims', 'data_type', 'external_data', 'data_location', ...DATA_FIELDS];
const MODELLED_AND_NAME = [...MODELLED, 'name'];

export function tensorFromProto(t: ProtoMessage, readExternal: ExternalReader | undefined, keepName: boolean): Tensor {
  const dims = ((t.dims as Int64[] | undefined) ?? []).map(Number);
  const dataType = Number(t.data_type ?? 0);
  const extra = without(t, keepName ? MODELLED : MODELLED_AND_NAME);
  const name = (t.name as string | undefined) ?? '';
  let source: TensorSource;
  if (Number(t.data_location ?? 0) === 1) {
    const entries = (t.external_data as ProtoMessage[] | undefined) ?? [];
    const get = (key: string) => entries.find((e) => e.key === key)?.value as string | undefined;
    const location = get('location');
    if (location === undefined) {
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `tensor ${name} is marked external but names no location`,
        're-export the model with its external data',
      );
    }
    const offset = Number(get('offset') ?? 0);
    const lengthText = get('length');
    const length = lengthText === undefined ? undefined : Number(lengthText);
    if (!readExternal) {
      throw new PrunedetError(
        'E_EXTERNAL_DATA',
        `tensor ${name} keeps its data in external file "${location}", but the model was given as bytes`,
        'load the model from its path so the data file can be found',
      );
    }
    readExternal.check(location, name);
    const extraEntries = entries.filter((e) => !['location', 'offset', 'length'].includes(e.key as string));
    if (extraEntries.length) extra.$externalExtra = extraEntries;
    source = {
      kind: 'external',
      location,
      offset,
      length,
      read: () => readExternal.read(location, offset, length, name),
    };
  } else if (t.raw_data !== undefined) {
    source = { kind: 'raw', bytes: t.raw_data as Uint8Array };
  } else if (t.float_data !== undefined) {
    source = { kind: 'float_data', data: t.float_data as Float32Array };
  } else if (t.double_data !== undefined) {
    source = { kind: 'double_data', data: t.double_data as Float64Array };
  } else if (t.int64_data !== undefined) {
    source = { kind: 'int64_data', data: t.int64_data as Int64[] };
  } else if (t.uint64_data !== undefined) {
    source = { kind: 'uint64_data', data: t.uint64_data as Int64[] };
  } else if (t.string_data !== undefined) {
    source = { kind: 'string_data', data: t.string_data as Uint8Array[] };
  } else if (t.int32_data !== undefined) {
    source = { kind: 'int32_data', data: t.int32_data as number[] };
  } else {
    source = emptySource(dataType);
  }
  return new Tensor(dataType, dims, source, extra);
}

/** A tensor with no data field at all (zero elements): keep it field-less on save. */
function emptySource(dataType: number): TensorSource {
  if (dataType === DataType.FLOAT) return { kind: 'float_data', data: new Float32Array(0) };
  if (dataType === DataType.DOUBLE) return { kind: 'double_data', data: new Float64Array(0) };
  if (dataType === DataType.INT64) return { kind: 'int64_data', data: [] };
  if (dataType === DataType.STRING) return { kind: 'string_data', data: [] };
  return { kind: 'int32_data', data: [] };
}

export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

/**
 * The TensorProto for `t`. `name` overrides the tensor's own name (initializers take their value's name);
 * `external` places the data in an external file instead of inline.
 */
export function tensorToProto(t: Tensor, name: string | undefined, external?: ExternalPlacement): ProtoMessage {
  const { $externalExtra, ...rest } = t.extra as { $externalExtra?: ProtoMessage[] } & Record<string, unknown>;
  const out: ProtoMessage = { ...rest, dims: [...t.dims], data_type: t.dataType };
  if (name !== undefined) out.name = name;
  if (external) {
    out.data_location = 1;
    out.external_data = [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(external.length) },
      ...($externalExtra ?? []),
    ];
    return out;
  }
  const s = t.source;
  switch (s.kind) {
    case 'raw':
      out.raw_data = s.bytes;
      break;
    case 'external':
      out.raw_data = t.bytes();
      break;
    default:
      out[s.kind] = s.data;
  }
  return out;
}
