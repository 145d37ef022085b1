// COCO-format ground truth and detections: the types, loading + validation of annotation files, and turning a model's
// own detections into ground truth (fidelity mode). Not the metric itself: that is coco-eval.ts.
import { PrunedetError } from '../errors';
import { inputFileError, readInputFile } from '../fs';

export interface CocoImage {
  id: number;
  file_name?: string;
  width?: number;
  height?: number;
}

export interface CocoCategory {
  id: number;
  name?: string;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, w, h] in pixels. */
  bbox: [number, number, number, number] | number[];
  /** The area COCOeval bins by (for COCO: the segmentation area, not w*h). */
  area: number;
  /** 0/1 (pycocotools reads it as a truthy flag); absent = 0. */
  iscrowd?: number | boolean;
}

export interface CocoGroundTruth {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/** One entry of a COCO results file (bbox task). */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number] | number[];
  score: number;
}

const ANNOTATIONS_HINT = 'pass the path of a COCO instances JSON file';

/** Read and validate a COCO annotation file (instances_*.json layout). Throws E_ANNOTATIONS naming the file and entry. */
export function loadCocoAnnotations(path: string): CocoGroundTruth {
  return parseCocoAnnotations(readCocoAnnotations(path), path);
}

/** The bytes of a COCO annotation file; a missing or unreadable file throws E_ANNOTATIONS naming it. */
export function readCocoAnnotations(path: string): Buffer {
  return readInputFile(path, 'E_ANNOTATIONS', `annotations file ${path}`, ANNOTATIONS_HINT);
}

/** Parse and validate the bytes of the annotation file `path` (as loadCocoAnnotations does after reading them). */
export function parseCocoAnnotations(bytes: Uint8Array, path: string): CocoGroundTruth {
  let text: string;
  try {
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  } catch (e) {
    // a file too large for one string: reported as reading it as text reports it
    throw inputFileError(e, 'E_ANNOTATIONS', `annotations file ${path}`, ANNOTATIONS_HINT);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PrunedetError(
      'E_ANNOTATIONS',
      `annotations file ${path} is not valid JSON (${(e as Error).message})`,
      'fix or re-export the file',
    );
  }
  return validateCocoGroundTruth(json, path);
}

/**
 * Check that `json` has the shape COCOeval relies on and return it typed. `where` names the source in messages.
 * Checked: the three arrays, numeric ids, unique image/category/annotation ids, every annotation's image_id and
 * category_id known, bbox = four finite numbers, area finite. `iscrowd` may be absent (= 0).
 */
export function validateCocoGroundTruth(json: unknown, where = 'ground truth'): CocoGroundTruth {
  const fixHint = 'fix the annotation file (COCO layout: {"images": [...], "annotations": [...], "categories": [...]})';
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new PrunedetError('E_ANNOTATIONS', `${where} is not a JSON object`, fixHint);
  }
  const obj = json as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(obj[key])) {
      throw new PrunedetError('E_ANNOTATIONS', `${where} has no "${key}" array`, fixHint);
    }
  }
  const images = obj.images as unknown[];
  const annotations = obj.annotations as unknown[];
  const categories = obj.categories as unknown[];

  const imageIds = uniqueIds(images, 'images', 'image', where, fixHint);
  const categoryIds = uniqueIds(categories, 'categories', 'category', where, fixHint);
  const annIds = new Set<number>();
  annotations.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') {
      throw new PrunedetError('E_ANNOTATIONS', `${where}: annotations[${i}] is not an object`, fixHint);
    }
    const ann = raw as Record<string, unknown>;
    for (const key of ['id', 'image_id', 'category_id', 'area']) {
      if (!isFiniteNumber(ann[key])) {
        throw new PrunedetError('E_ANNOTATIONS', `${where}: annotations[${i}] has no numeric "${key}"`, fixHint);
      }
    }
    const id = ann.id as number;
    const label = `annotations[${i}] (id ${id})`;
    if (annIds.has(id)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `${where}: ${label} repeats annotation id ${id}`,
        'give every annotation a unique id',
      );
    }
    annIds.add(id);
    if (!imageIds.has(ann.image_id as number)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `${where}: ${label} refers to image_id ${ann.image_id}, which is not in "images"`,
        'add the image to "images" or drop the annotation',
      );
    }
    if (!categoryIds.has(ann.category_id as number)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `${where}: ${label} refers to category_id ${ann.category_id}, which is not in "categories"`,
        'add the category to "categories" or drop the annotation',
      );
    }
    const bbox = ann.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `${where}: ${label} has no "bbox" of four numbers [x, y, w, h]`,
        fixHint,
      );
    }
    const crowd = ann.iscrowd;
    if (crowd !== undefined && typeof crowd !== 'boolean' && !isFiniteNumber(crowd)) {
      throw new PrunedetError('E_ANNOTATIONS', `${where}: ${label} has a non-numeric "iscrowd"`, 'use 0 or 1');
    }
  });
  return obj as unknown as CocoGroundTruth;
}

export interface DetectionsAsGroundTruthOptions {
  /** Images the evaluation covers (default: those with at least one detection). Include images where the
   * reference found nothing, or a candidate's detections there would refer to unknown images. */
  imageIds?: readonly number[];
  /** Categories to evaluate (default: those detected at least once). */
  categoryIds?: readonly number[];
  /** Only detections with score > minScore become ground truth (default: all). */
  minScore?: number;
}

/**
 * Fidelity mode: the reference model's own detections as ground truth. Every detection becomes a non-crowd object of
 * its label with area = w*h (exactly what pycocotools' loadRes assigns to a result), ids 1..N in input order (id 0 is
 * avoided on purpose: pycocotools cannot tell a match to gt id 0 from no match). "Fidelity mAP" of a candidate =
 * evaluate(candidate detections) against this.
 */
export function detectionsAsGroundTruth(
  dets: readonly CocoDetection[],
  opts: DetectionsAsGroundTruthOptions = {},
): CocoGroundTruth {
  const minScore = opts.minScore ?? -Infinity;
  const imageIds = new Set<number>(opts.imageIds ?? []);
  const categoryIds = new Set<number>(opts.categoryIds ?? []);
  const annotations: CocoAnnotation[] = [];
  for (const d of dets) {
    if (!(d.score > minScore)) continue;
    if (!opts.imageIds) imageIds.add(d.image_id);
    else if (!imageIds.has(d.image_id)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `reference detection refers to image_id ${d.image_id}, which is not in the given image ids`,
        'pass every evaluated image id',
      );
    }
    if (!opts.categoryIds) categoryIds.add(d.category_id);
    else if (!categoryIds.has(d.category_id)) continue;
    const [x, y, w, h] = d.bbox as number[];
    annotations.push({
      id: annotations.length + 1,
      image_id: d.image_id,
      category_id: d.category_id,
      bbox: [x!, y!, w!, h!],
      area: w! * h!,
      iscrowd: 0,
    });
  }
  return {
    images: [...imageIds].sort((a, b) => a - b).map((id) => ({ id })),
    annotations,
    categories: [...categoryIds].sort((a, b) => a - b).map((id) => ({ id })),
  };
}

/** The numeric, unique "id"s of the entries of array `key` (`noun` in messages). */
function uniqueIds(entries: unknown[], key: string, noun: string, where: string, fixHint: string): Set<number> {
  const ids = new Set<number>();
  entries.forEach((entry, i) => {
    const id = (entry as { id?: unknown } | null)?.id;
    if (!isFiniteNumber(id)) {
      throw new PrunedetError('E_ANNOTATIONS', `${where}: ${key}[${i}] has no numeric "id"`, fixHint);
    }
    if (ids.has(id)) {
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `${where}: ${key}[${i}] repeats ${noun} id ${id}`,
        `give every ${noun} a unique id`,
      );
    }
    ids.add(id);
  });
  return ids;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
