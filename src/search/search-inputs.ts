// What a search works from once its inputs are read: the analysed model, its post-processing and preprocessing, the
// photos and annotations, the cache folder. Shared by the search job and the dense reference path (dense-path.ts).
import type { AnalyzedModel } from '../detector/index';
import type { ModelPostprocess } from '../postprocess/for-model';
import type { PostprocessInput } from '../postprocess/reference';
import type { PreprocessOptions } from '../image/preprocess';
import type { BoxUnits } from '../image/inputs';
import type { matchAnnotations } from '../eval/metric';

export interface SearchInputs {
  modelPath: string;
  det: AnalyzedModel;
  pp: ModelPostprocess;
  preprocess: PreprocessOptions;
  images: string[];
  /** COCO image id of each photo. */
  imageIds: number[];
  matched: ReturnType<typeof matchAnnotations> | undefined;
  annotations: string | undefined;
  annotationsSha256: string | null;
  units: BoxUnits;
  /** Base anchors per level. */
  counts: number[];
  foreground: number;
  cacheDir: string;
  /**
   * YOLO heads: search scores the YOLO post-processing as precomputed (scores, boxes) rows (yoloAsScoresAndBoxes):
   * `toInput` turns a run's YOLO rows into them, `cacheTag` keys the cache by the YOLO spec and anchors they depend on,
   * `anchorSizes` are the [w, h] per level for the report.
   */
  yolo?: {
    toInput: (x: PostprocessInput) => PostprocessInput;
    cacheTag: string;
    anchorSizes: [number, number][][];
    /** The YOLO post-processing, for the report (pp.spec is its scores-and-boxes equivalent). */
    postprocess: string;
  };
}
