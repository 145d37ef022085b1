// Reading and writing the declared type of a value (its ValueInfoProto) without the rest of prunedet knowing the
// protobuf layout: elem_type + dims, with symbolic dims as strings.
import type { Dim, Value } from '../ir/graph';

interface DimProto {
  dim_value?: number | bigint;
  dim_param?: string;
  denotation?: string;
}
interface TensorTypeProto {
  elem_type?: number;
  shape?: { dim?: DimProto[] };
}

function tensorType(v: Value): TensorTypeProto | undefined {
  const type = v.info?.type as { tensor_type?: TensorTypeProto } | undefined;
  return type?.tensor_type;
}

/** The declared element type and shape (undefined shape = rank unknown; '' dims get a per-value placeholder). */
export function declaredType(v: Value): { dtype: number; shape?: Dim[] } | undefined {
  const t = tensorType(v);
  if (!t) return undefined;
  const dims = t.shape?.dim;
  return {
    dtype: Number(t.elem_type ?? 0),
    shape:
      t.shape === undefined
        ? undefined
        : (dims ?? []).map((d, i) =>
            d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param ? d.dim_param : `${v.name}_dim${i}`,
          ),
  };
}

/** Give `v` a declared tensor type (creating its ValueInfo if needed), keeping denotations and other fields. */
export function setDeclaredType(v: Value, dtype: number, shape: Dim[] | undefined): void {
  const info = (v.info ??= {});
  const type = ((info.type as Record<string, unknown> | undefined) ?? {}) as { tensor_type?: TensorTypeProto };
  info.type = type;
  const old = type.tensor_type?.shape?.dim ?? [];
  const tt: TensorTypeProto = { ...(type.tensor_type ?? {}), elem_type: dtype };
  if (shape) {
    tt.shape = {
      ...(type.tensor_type?.shape ?? {}),
      dim: shape.map((d, i) => {
        const keep = old[i]?.denotation !== undefined ? { denotation: old[i]!.denotation } : {};
        return typeof d === 'number' ? { dim_value: d, ...keep } : { dim_param: d, ...keep };
      }),
    };
  } else {
    delete tt.shape;
  }
  type.tensor_type = tt;
}
