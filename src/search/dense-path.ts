// The dense evaluation path of search (SearchOptions.evaluation 'dense'): the model runs on every photo again (no
// cache), every pair above the threshold of every photo goes into shared in-memory tables (oracle.ts candidate lists,
// evaluator.ts), and the metric is built from whole-set COCO results (metric.ts). It is what search did before the
// sparse cache, kept as the reference the streamed path is proven against (test/search/dense-sparse.test.ts): both
// must give every candidate the same mAP and fingerprint, bit for bit. Memory grows with the photos.
import { InternalError } from '../errors';
import type { ResizeGeometry } from '../image/preprocess';
import type { Detection } from '../postprocess/spec';
import { CandidateEvaluator, packTables, type EvaluatorData, type MetricSpec } from './evaluator';
import { forEachHeadOutput } from './infer';
import { toImageXywh, type BoxUnits } from '../image/inputs';
import { cocoMetric, fidelityMetric } from '../eval/metric';
import { buildCandidateList, oracleDetections, oracleModel, selectParams, type CandidateList } from './oracle';
import type { SearchInputs } from './search-inputs';

export async function denseEvaluatorData(inp: SearchInputs): Promise<EvaluatorData & { metric: MetricSpec }> {
  const { pp, det } = inp;
  const spec = det.spec;
  const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses };
  const om = oracleModel(pp.spec, ctx);
  const lists: CandidateList[] = new Array(inp.images.length);
  const coco: Float64Array[] = new Array(inp.images.length);
  let check: Detection[] | undefined;
  await forEachHeadOutput(
    {
      modelPath: inp.modelPath,
      model: det.model,
      det: spec,
      images: inp.images,
      preprocess: inp.preprocess,
      ...(inp.yolo ? { toInput: inp.yolo.toInput } : {}),
    },
    (img) => {
      const list = buildCandidateList(om, img.input);
      lists[img.index] = list;
      coco[img.index] = cocoBoxes(list, inp.units, img.geometry);
      if (img.index === 0) check = oracleDetections(pp.spec, img.input, ctx, []);
    },
  );
  const data: EvaluatorData = {
    tables: packTables(lists, coco),
    select: selectParams(pp.spec, spec.levels.length),
    totalBase: inp.counts.reduce((a, b) => a + b, 0),
  };
  const probe = new CandidateEvaluator(data);
  if (JSON.stringify(probe.detections([])[0]) !== JSON.stringify(check)) {
    throw new InternalError(
      'search: the candidate tables disagree with the post-processing reference on the full model',
    );
  }
  const metric: MetricSpec = inp.matched
    ? cocoMetric(inp.matched.gt, inp.imageIds, inp.foreground, inp.annotations!)
    : fidelityMetric(
        probe.cocoDetections(
          [],
          inp.imageIds,
          Array.from({ length: inp.foreground }, (_, k) => k + 1),
        ),
        inp.imageIds,
        inp.foreground,
      );
  return { ...data, metric };
}

/** COCO boxes (photo pixels) of a list's entries. */
function cocoBoxes(list: CandidateList, units: BoxUnits, g: ResizeGeometry): Float64Array {
  const n = list.anchor.length;
  const out = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) out.set(toImageXywh(list.box.subarray(4 * i, 4 * i + 4), units, g), 4 * i);
  return out;
}
