// `prunedet detect`: run a model (an ONNX detector or a folder compile wrote) on an image or a folder of images with a
// post-processing preset, and write OUT/detections.json, one PNG per image with the boxes drawn, and
// OUT/test_vectors.h: the head outputs of the first images in the C module's input layout with the detections the
// module must return, so a user can check the module on the device.
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PrunedetError } from '../../errors';
import { checkOutput, writeFileAtomic, writeOutputDir } from '../../fs';
import { loadDetector } from '../../detector/index';
import { decodeImage, listImages } from '../../image/decode';
import { drawBox, LABEL_COLOURS } from '../../image/draw';
import { encodePng } from '../../image/png-encode';
import { preprocess, resizeGeometry } from '../../image/preprocess';
import { asModuleReads, postprocessForModel, referenceInput, type ModelPostprocess } from '../../postprocess/for-model';
import { formatPostprocess } from '../../postprocess/presets';
import { postprocess, type PostprocessInput } from '../../postprocess/reference';
import {
  boxUnitsOf,
  describePreprocess,
  preprocessOptionsFor,
  toImageXywh,
  type PreprocessFlags,
} from '../../image/inputs';
import { sanitizeStem } from '../../emit/c/names';
import { candidateCapFor, compiledPostprocess } from '../../artefacts/compiled-postprocess';
import { flattenForC } from '../../native/c-inputs';
import { cModuleFiles, readCompileReport, reportBaselineSet, sha256OfFile } from '../../artefacts/report';
import { keptAnchorIndices } from '../../detector/kept-anchors';
import { keptAnchorTable } from '../../detector/anchor-table';
import type { DetectorSpec } from '../../detector/spec';
import type { CompileReport } from '../../artefacts/report';
import { RUN_SESSION_OPTIONS, runOnce } from '../../native/ort-session';
import { PRUNEDET_VERSION } from '../../version';
import { emitTestVectors, type TestVector } from './vectors';

export interface DetectOptions {
  /** An ONNX detector, or a folder prunedet compile wrote (its model.onnx, report.json and C module). */
  model: string;
  /** An image file or a folder of images. */
  images: string;
  outDir: string;
  /** Preset and overrides; default: the one report.json records (a compiled folder). */
  postprocess?: string;
  preprocess?: PreprocessFlags;
  inputShape?: number[];
  /** Images whose head outputs go into test_vectors.h (default 1; 0 = none). */
  vectors?: number;
  force?: boolean;
}

export interface DetectBox {
  label: number;
  score: number;
  anchor: number;
  /** x1, y1, x2, y2 in the original image's pixels (not clipped). */
  box: [number, number, number, number];
  /** x1, y1, x2, y2 as post-processing returns them (the anchors' units): what the C module returns. */
  modelBox: [number, number, number, number];
}

export interface DetectResult {
  schema: 'prunedet.detect/1';
  tool: string;
  model: string;
  /** A folder compile wrote (true) or a plain model. */
  compiled: boolean;
  postprocess: string;
  preprocess: string;
  boxUnits: 'normalized' | 'input-pixels';
  module: {
    prefix: string;
    header: string | null;
    input: 'concat' | 'per-level' | 'yolo';
    inputLength: number;
    candidateCap: number;
    vectors: number;
    /** Why no test vectors were written although none were refused (a module whose inputs they cannot hold). */
    noVectors?: string;
  };
  images: { file: string; width: number; height: number; png: string; detections: DetectBox[] }[];
  files: string[];
}

export const MAX_VECTORS = 64;
const VECTORS_FILE = 'test_vectors.h';

function usage(message: string, hint: string): never {
  throw new PrunedetError('E_USAGE', message, hint);
}

function kindOf(path: string, what: string, hint: string): 'file' | 'dir' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    throw new PrunedetError(what === 'model' ? 'E_FILE_NOT_FOUND' : 'E_IMAGES', `${what} ${path} does not exist`, hint);
  }
}

/** PNG names, one per image: the image's stem, or its whole name when two images share a stem. */
function pngNames(files: string[]): string[] {
  const stems = files.map((f) => basename(f, extname(f)));
  return files.map(
    (f, i) => `${stems.filter((s) => s === stems[i]).length > 1 ? basename(f).replace(/\./g, '_') : stems[i]}.png`,
  );
}

/**
 * A model cut at the head lost the anchor table its graph embedded; compile emitted the C module from the table of the
 * model before the cut: the original's at the kept anchors (as verify takes it). The original is the file report.json
 * names, when it is still there and is that model; otherwise the cut model's own analysis stands.
 */
function withOriginalTable(spec: DetectorSpec, report: CompileReport): DetectorSpec {
  if (spec.anchorTable || !existsSync(report.model.file) || sha256OfFile(report.model.file) !== report.model.sha256)
    return spec;
  const orig = loadDetector(report.model.file).spec;
  if (!orig.anchorTable) return spec;
  const counts = orig.levels.map((l) => l.anchorsPerLocation);
  return {
    ...spec,
    anchorTable: keptAnchorTable(orig.anchorTable, keptAnchorIndices(report.featureMaps, counts, report.config.kept)),
  };
}

interface Target {
  modelPath: string;
  compiled: boolean;
  preset: string;
  pp: ModelPostprocess;
  prefix: string;
  moduleHeader: string | undefined;
  input: 'concat' | 'per-level' | 'yolo';
  candidateCap: number;
  /** Why test_vectors.h cannot be written for this module (its inputs are not float32 rows or NCHW maps). */
  noVectors?: string;
}

/** What to run and how to post-process: from report.json for a compiled folder, from the preset for a plain model. */
function resolveTarget(
  o: DetectOptions,
  det: ReturnType<typeof loadDetector>,
  modelPath: string,
  isDir: boolean,
): Target {
  const report = isDir ? readCompileReport(o.model) : undefined;
  const recorded = report?.postprocess?.requested ?? report?.postprocess?.preset;
  const preset = o.postprocess ?? (typeof recorded === 'string' ? recorded : undefined);
  if (!preset)
    usage(
      `detect needs post-processing semantics for ${o.model}`,
      'pass --postprocess PRESET, e.g. --postprocess ultraface (a folder compiled with --emit c records its own)',
    );
  if (det.spec.postprocess && report?.cutHead === undefined) {
    throw new PrunedetError(
      'E_USAGE',
      `${modelPath} keeps its own post-processing (${det.spec.postprocess.ops.includes('NonMaxSuppression') ? 'NMS' : 'top-k'} in the graph), so its head outputs are not graph outputs`,
      'compile it with --cut-head and run detect on that folder',
    );
  }
  if (report) {
    const cut = report.cutHead !== undefined;
    const pp = compiledPostprocess(
      {
        spec: cut ? withOriginalTable(det.spec, report) : det.spec,
        baselineSet: reportBaselineSet(report),
        featureMaps: report.featureMaps,
      },
      preset,
      report.config.kept,
      cut,
    );
    const files = cModuleFiles(report);
    const rec = report.postprocess;
    const input =
      rec?.input ??
      (pp.spec.objectness ? 'yolo' : cut || det.spec.outputs.some((x) => x.kind === 'map') ? 'per-level' : 'concat');
    return {
      modelPath,
      compiled: true,
      preset,
      pp,
      input,
      prefix:
        rec?.symbolPrefix !== undefined
          ? rec.symbolPrefix
          : `pd_${sanitizeStem(basename(report.model.file).replace(/\.onnx$/i, ''))}_`,
      moduleHeader: files?.header,
      candidateCap: rec?.candidateCap ?? candidateCapFor(pp),
      ...(rec?.inputQuant
        ? { noVectors: 'the module reads int8/uint8 inputs (compile --input-type)' }
        : rec?.inputLayout === 'nhwc'
          ? { noVectors: 'the module reads NHWC maps (compile --input-layout nhwc)' }
          : {}),
    };
  }
  const pp = postprocessForModel(det.spec, preset);
  // the module compile --emit c would write for this model: its input form, prefix and workspace capacity
  return {
    modelPath,
    compiled: false,
    preset,
    pp,
    moduleHeader: undefined,
    input: pp.spec.objectness ? 'yolo' : det.spec.outputs.some((x) => x.kind === 'map') ? 'per-level' : 'concat',
    prefix: `pd_${sanitizeStem(basename(modelPath).replace(/\.onnx$/i, ''))}_`,
    candidateCap: candidateCapFor(pp),
  };
}

export async function detect(o: DetectOptions): Promise<DetectResult> {
  let nVectors = o.vectors ?? 1;
  if (!(Number.isInteger(nVectors) && nVectors >= 0 && nVectors <= MAX_VECTORS))
    usage(
      `--vectors ${String(o.vectors)} is not a whole number from 0 to ${MAX_VECTORS}`,
      'give how many images to write test vectors for, e.g. --vectors 1',
    );
  const isDir = kindOf(o.model, 'model', 'pass an ONNX detector or the folder prunedet compile wrote') === 'dir';
  const imageFiles =
    kindOf(o.images, 'image', 'pass an image file or a folder of .jpg/.jpeg/.png images') === 'dir'
      ? listImages(o.images)
      : [o.images];
  const modelPath = isDir ? join(o.model, 'model.onnx') : o.model;
  const target = checkOutput(o.outDir, {
    command: 'detect',
    kind: 'dir',
    inputs: [o.model, modelPath, o.images, ...imageFiles],
    ...(o.force ? { force: true } : {}),
  });
  const det = loadDetector(modelPath, o.inputShape ? { inputShape: o.inputShape } : {});
  const t = resolveTarget(o, det, modelPath, isDir);
  if (t.noVectors !== undefined) {
    // test vectors are float tables in the concatenated or NCHW layout: never write ones this module does not read
    if (o.vectors !== undefined && o.vectors > 0)
      usage(
        `--vectors ${o.vectors}: test_vectors.h is not written for this module yet: ${t.noVectors}`,
        'pass --vectors 0 (detections.json and the PNGs are still written)',
      );
    nVectors = 0;
  }
  const { pp } = t;
  const opts = preprocessOptionsFor(det.spec, t.preset, o.preprocess ?? {});
  // a model that resizes in the graph (a full export, also cut at the head) takes its own input size; the boxes are in
  // the size it resizes to (imageSize), which `opts` maps back to the photo
  const [inH, inW] = det.spec.input.shape.slice(-2) as [number, number];
  const feed =
    inH !== det.spec.imageSize[0] || inW !== det.spec.imageSize[1]
      ? { ...opts, size: [inW, inH] as [number, number] }
      : opts;
  const units = boxUnitsOf(det.spec, pp);
  const ctx = { anchors: pp.anchors, levels: pp.levels, numClasses: pp.numClasses, candidateCap: t.candidateCap };
  const pngs = pngNames(imageFiles);
  const session = await ort.InferenceSession.create(modelPath, RUN_SESSION_OPTIONS);
  const images: DetectResult['images'] = [];
  const vectors: TestVector[] = [];
  let inputLength = 0;
  try {
    return await writeOutputDir(target, async (stage) => {
      for (const [i, file] of imageFiles.entries()) {
        const img = decodeImage(file);
        const outs = await runOnce(session, det.spec.input.name, det.spec.input.shape, preprocess(img, feed));
        const flat = flattenForC(referenceInput(det.spec, outs, pp.levels));
        // what the module reads: the same floats in its own layout (a model's rows or maps, whichever it was emitted for)
        const moduleIn: PostprocessInput = asModuleReads(flat, t.input, pp);
        inputLength = flat.length;
        const dets = postprocess(pp.spec, moduleIn, ctx);
        const g = resizeGeometry(img.width, img.height, opts);
        const boxes = dets.map((d): DetectBox => {
          const [x, y, w, h] = toImageXywh(d.box, units, g);
          return { label: d.label, score: d.score, anchor: d.anchor, box: [x, y, x + w, y + h], modelBox: d.box };
        });
        const thickness = Math.max(2, Math.round(Math.min(img.width, img.height) / 200));
        for (const b of boxes) drawBox(img, b.box, LABEL_COLOURS[b.label % LABEL_COLOURS.length]!, thickness);
        writeFileAtomic(join(stage, pngs[i]!), encodePng(img));
        images.push({ file, width: img.width, height: img.height, png: pngs[i]!, detections: boxes });
        if (i < nVectors) vectors.push({ name: basename(file), input: flat, expected: dets });
      }
      const files = [...pngs, 'detections.json'];
      if (vectors.length > 0) {
        writeFileAtomic(
          join(stage, VECTORS_FILE),
          emitTestVectors({
            prefix: t.prefix,
            moduleHeader: t.moduleHeader ?? `the module prunedet compile --emit c writes for ${basename(modelPath)}`,
            input: t.input,
            levels: pp.levels,
            numClasses: pp.numClasses,
            banner: `prunedet ${PRUNEDET_VERSION} detect: ${basename(o.model)}, post-processing ${formatPostprocess(pp.spec)}.`,
            vectors,
          }),
        );
        files.push(VECTORS_FILE);
      }
      const result: DetectResult = {
        schema: 'prunedet.detect/1',
        tool: `prunedet ${PRUNEDET_VERSION}`,
        model: o.model,
        compiled: t.compiled,
        postprocess: formatPostprocess(pp.spec),
        preprocess: describePreprocess(opts),
        boxUnits: units,
        module: {
          prefix: t.prefix,
          header: t.moduleHeader ?? null,
          input: t.input,
          inputLength,
          candidateCap: t.candidateCap,
          vectors: vectors.length,
          ...(t.noVectors !== undefined ? { noVectors: t.noVectors } : {}),
        },
        images,
        files,
      };
      writeFileAtomic(join(stage, 'detections.json'), `${JSON.stringify(result, null, 2)}\n`);
      return result;
    });
  } finally {
    await session.release();
  }
}
