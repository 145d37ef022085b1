// The two ways search scores a candidate: COCO mAP@[.5:.95] against an annotation file whose images are the photos,
// or fidelity against the full model's own detections. This file builds the ground truth and id mappings of each
// (MetricSpec) and checks that annotations and photos belong together; the scoring loop is evaluator.ts.
import { basename, extname } from 'node:path';
import { PrunedetError } from '../errors';
import type { CocoDetection, CocoGroundTruth } from './coco-data';
import { detectionsAsGroundTruth } from './coco-data';
import { MAX_DETS, prepareGroundTruth, type PreparedGroundTruth } from './coco-eval';
import type { MetricSpec } from '../search/evaluator';

/** COCOeval looks at the top maxDets[-1] detections per (image, category). */
const EVAL_MAX_DETS = MAX_DETS[MAX_DETS.length - 1]!;

/**
 * The image id of each photo: the annotation image whose `file_name` has the photo's file name (folders ignored), or,
 * for entries without `file_name`, whose id is the photo's name as a number (`000000397133.jpg` -> 397133). Also
 * returns the annotations restricted to those images. Throws E_ANNOTATIONS naming the first photo not listed.
 */
export function matchAnnotations(
  gt: CocoGroundTruth,
  images: readonly string[],
  where: string,
): { imageIds: number[]; gt: CocoGroundTruth } {
  const byName = new Map<string, number>();
  const byId = new Set<number>();
  for (const im of gt.images) {
    if (typeof im.file_name === 'string' && im.file_name !== '')
      byName.set(basename(im.file_name.replace(/\\/g, '/')), im.id);
    else byId.add(im.id);
  }
  const imageIds = images.map((path) => {
    const name = basename(path);
    const id = byName.get(name);
    if (id !== undefined) return id;
    const stem = Number(basename(name, extname(name)));
    if (Number.isInteger(stem) && byId.has(stem)) return stem;
    throw new PrunedetError(
      'E_ANNOTATIONS',
      `image ${name} is not in the annotations ${where} (no image entry with that file_name or id; ${gt.images.length} images listed)`,
      'pass the annotation file of this image folder, or remove the images it does not cover',
    );
  });
  const seen = new Map<number, string>();
  imageIds.forEach((id, i) => {
    const prev = seen.get(id);
    if (prev !== undefined)
      throw new PrunedetError(
        'E_ANNOTATIONS',
        `images ${basename(prev)} and ${basename(images[i]!)} both match annotation image id ${id} in ${where}`,
        'give every image its own entry',
      );
    seen.set(id, images[i]!);
  });
  const keep = new Set(imageIds);
  return {
    imageIds,
    gt: {
      images: gt.images.filter((im) => keep.has(im.id)),
      annotations: gt.annotations.filter((a) => keep.has(a.image_id)),
      categories: gt.categories,
    },
  };
}

/** COCO mode: labels map to the annotation categories in ascending id order (mmdetection's convention). */
export function cocoMetric(gt: CocoGroundTruth, imageIds: number[], foreground: number, where: string): MetricSpec {
  const categoryIds = gt.categories.map((c) => c.id).sort((a, b) => a - b);
  if (categoryIds.length !== foreground) {
    throw new PrunedetError(
      'E_ANNOTATIONS',
      `the annotations ${where} have ${categoryIds.length} categories but the model has ${foreground} foreground class${foreground === 1 ? '' : 'es'}`,
      'pass annotations with one category per class of the model (label k = the k-th category by id)',
    );
  }
  if (gt.annotations.length === 0) {
    throw new PrunedetError(
      'E_ANNOTATIONS',
      `the annotations ${where} have no objects on these ${imageIds.length} images`,
      'pass annotations with objects on the images, or drop --annotations for fidelity mode',
    );
  }
  return { kind: 'coco', gt, imageIds, categoryIds, divisor: 1 };
}

/**
 * Fidelity mode: the full model's detections are the ground truth, cut to the top 100 per (image, class) because
 * COCOeval only ever looks at those of a result (dets are in rank order, which is COCOeval's stable score order).
 * fidelity = mAP(candidate) / mAP(full model) against it, capped at 1. COCOeval's own score of identical detections
 * is 1.0 in ordinary cases (its precision tp / (tp + fp + eps) is 1 - 2^-52 at tp = 1, which the average over recall
 * thresholds rounds away), but not when that defect survives (a single detection in all images), when a box is
 * degenerate (IoU 0 with itself), or without the top-100 cut; dividing by the full model's own score makes the full
 * model exactly 1.0 in every case and leaves the ordinary case unchanged (the divisor is exactly 1 there).
 * `full` = the full model's detections as COCO results; `score` evaluates results against a given metric.
 */
export function fidelityMetric(full: readonly CocoDetection[], imageIds: number[], foreground: number): MetricSpec {
  const categoryIds = Array.from({ length: foreground }, (_, k) => k + 1);
  const perBucket = new Map<string, number>();
  const top = full.filter((d) => {
    const key = `${d.image_id}/${d.category_id}`;
    const n = perBucket.get(key) ?? 0;
    perBucket.set(key, n + 1);
    return n < EVAL_MAX_DETS;
  });
  checkFidelity(top.length, imageIds.length);
  const gt = detectionsAsGroundTruth(top, { imageIds, categoryIds });
  const self = prepareGroundTruth(gt).evaluate(full).map;
  checkFidelity(top.length, imageIds.length, self);
  return { kind: 'fidelity', gt, imageIds, categoryIds, divisor: self };
}

/** Fidelity is undefined when the full model detects nothing (`objects` = 0) or scores <= 0 against itself. */
export function checkFidelity(objects: number, images: number, self?: number): void {
  if (objects === 0) {
    throw new PrunedetError(
      'E_IMAGES',
      `the full model detects nothing on these ${images} images, so fidelity is undefined`,
      'lower the score threshold (e.g. --postprocess <preset>,score_thr=0.3), add images with objects, or pass --annotations',
    );
  }
  if (self !== undefined && !(self > 0))
    throw new PrunedetError(
      'E_IMAGES',
      `the full model's detections score ${self} against themselves (degenerate boxes?), so fidelity is undefined`,
      'check the box units and preprocessing',
    );
}

/**
 * The score search gives detections (COCO results in photo pixels) under `metric`: COCO mAP@[.5:.95], or fidelity
 * (mAP / divisor, capped at 1). verify uses this to reproduce a front point's number. `prepared` = the metric's
 * ground truth prepared once, when scoring many results.
 */
export function scoreDetections(
  metric: MetricSpec,
  dets: readonly CocoDetection[],
  prepared: PreparedGroundTruth = prepareGroundTruth(metric.gt),
): number {
  const raw = prepared.evaluate(dets).map;
  return metric.kind === 'fidelity' ? Math.min(1, raw / metric.divisor) : raw;
}
