// Who made a model and from what: ModelProto.producer_name / producer_version and metadata_props, set on the IR's
// ModelProto fields (the protobuf shape of metadata_props stays in src/onnx).
import type { Model } from '../ir/graph';

interface Entry {
  key?: string;
  value?: string;
}

/** The model's metadata_props as a map (later duplicates win, as onnxruntime reads them). */
export function metadataOf(model: Model): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of (model.extra.metadata_props as Entry[] | undefined) ?? [])
    if (typeof e.key === 'string') out[e.key] = e.value ?? '';
  return out;
}

/**
 * Mark `model` as produced by `producer` `version`, and set `metadata` in its metadata_props: keys given replace the
 * same keys, every other entry the source carried (labels, an exporter's notes) is kept in its order.
 */
export function stampProvenance(
  model: Model,
  producer: string,
  version: string,
  metadata: Record<string, string>,
): void {
  model.extra.producer_name = producer;
  model.extra.producer_version = version;
  const kept = ((model.extra.metadata_props as Entry[] | undefined) ?? []).filter(
    (e) => !(typeof e.key === 'string' && e.key in metadata),
  );
  model.extra.metadata_props = [...kept, ...Object.entries(metadata).map(([key, value]) => ({ key, value }))];
}
