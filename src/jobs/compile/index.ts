// `prunedet compile`: resolve a pruned-anchor configuration against the model, run the pass pipeline, and write
// OUTDIR/model.onnx + report.json (and, asked for, the fused C post-processing) atomically.
import { parseInputType } from './input-type';
import { createHash } from 'node:crypto';
import { basename, extname, join } from 'node:path';
import type { Model } from '../../ir/graph';
import { loadModelWithInfo } from '../../onnx/load';
import { saveModel, modelToBytes } from '../../onnx/save';
import { stampProvenance } from '../../onnx/provenance';
import { analyzeModel } from '../../detector/index';
import { loadHeadSpec } from '../../detector/head-spec';
import type { DetectorSpec } from '../../detector/spec';
import { summarizeCost } from '../../cost/macs';
import type { ShapeResult } from '../../shape/infer';
import { optimizeModel } from '../../optimize';
import {
  EMIT_KINDS,
  PRUNEDET_VERSION,
  type CompileOptions,
  type CompileReport,
  type ModelStats,
} from '../../artefacts/report';
import { DEFAULT_PIPELINE } from '../../../passes/index';
import { InternalError, PrunedetError } from '../../errors';
import { checkOutput, writeFileAtomic, writeOutputDir, type CheckOutputOptions } from '../../fs';
import {
  baselineFromMmdetConfig,
  removeListOf,
  resolveConfig,
  type BaselineAnchors,
  type ResolvedConfig,
} from '../../anchors/config/index';
import type { AnchorSet } from '../../anchors/types';
import { configFiles, localBases } from '../../anchors/config/py-config';
import { PRESETS } from '../../postprocess/presets';

function stats(
  model: Model,
  shapes: ShapeResult,
  spec: DetectorSpec,
  anchorsPerLevel: number[],
  bytes: number,
): ModelStats {
  const cost = summarizeCost(model.graph, shapes);
  return {
    headMacs: spec.headMacs,
    totalMacs: cost.totalMacs,
    boxes: spec.boxes,
    anchorsPerLevel,
    params: cost.params,
    bytes,
  };
}

/** The `_base_` config a .py config inherits from, when it is a single existing file in the config's folder. */
function baseOf(configPath: string): string | undefined {
  if (extname(configPath) !== '.py') return undefined;
  const bases = localBases(configPath);
  return bases.length === 1 ? bases[0] : undefined;
}

/** The baseline anchors configs are resolved against: --baseline-config, the config's _base_, or the model itself. */
export function resolveBaseline(
  spec: DetectorSpec,
  o: { config?: string; baselineConfig?: string },
): { baseline: BaselineAnchors; set?: AnchorSet } {
  const counts = spec.levels.map((l) => l.anchorsPerLocation);
  const file = o.baselineConfig ?? (o.config ? baseOf(o.config) : undefined);
  if (!file) return { baseline: { counts, source: 'the model' } };
  const b = baselineFromMmdetConfig(file);
  if (b.counts.length !== counts.length || b.counts.some((c, i) => c !== counts[i])) {
    throw new PrunedetError(
      'E_CONFIG_MISMATCH',
      `baseline ${file} has ${b.counts.join(',')} anchors per level, the model ${counts.join(',')}`,
      'give the baseline config the model was trained with (--baseline-config)',
    );
  }
  return { baseline: b, set: b.set };
}

/** --emit and --postprocess, checked before any work: known kinds, and the semantics any emitter needs. */
function checkEmitOptions(o: CompileOptions): void {
  const emit = o.emit ?? [];
  for (const e of emit) {
    if (!(EMIT_KINDS as readonly string[]).includes(e))
      throw new PrunedetError('E_USAGE', `unknown --emit ${e}`, `choose from ${EMIT_KINDS.join(', ')}`);
  }
  if (emit.includes('onnx-nms') && emit.includes('onnx-nms-exact')) {
    throw new PrunedetError(
      'E_USAGE',
      '--emit onnx-nms and onnx-nms-exact both write postprocess.onnx',
      "choose one: onnx-nms (the runtime's Softmax/Exp, fast) or onnx-nms-exact (bit-exact with the reference)",
    );
  }
  if (o.name !== undefined) checkModuleName(o.name, emit);
  if (o.anchors !== undefined) {
    if (o.anchors !== 'table' && o.anchors !== 'runtime')
      throw new PrunedetError('E_USAGE', `unknown --anchors ${o.anchors}`, 'choose table or runtime');
    if (!emit.includes('c'))
      throw new PrunedetError('E_USAGE', '--anchors chooses how the C module gets its anchors', 'add --emit c');
  }
  for (const [flag, v] of [
    ['--input-type', o.inputType],
    ['--input-layout', o.inputLayout],
  ] as const) {
    if (v !== undefined && !emit.includes('c'))
      throw new PrunedetError('E_USAGE', `${flag} sets the C module's inputs`, 'add --emit c');
  }
  // the syntax now, before any work; parameters taken from the model are looked up when the module is emitted
  if (o.inputType !== undefined) parseInputType(o.inputType);
  if (o.inputLayout !== undefined && o.inputLayout !== 'nchw' && o.inputLayout !== 'nhwc')
    throw new PrunedetError('E_USAGE', `unknown --input-layout ${o.inputLayout}`, 'choose nchw or nhwc');
  if (emit.length > 0 && !o.postprocess) {
    throw new PrunedetError(
      'E_USAGE',
      `--emit ${emit.join(',')} needs the post-processing semantics`,
      `pass --postprocess with a preset (${Object.keys(PRESETS).join(', ')}), e.g. --postprocess mmdet-ssd300`,
    );
  }
}

/** Longest --name: C99 only promises 31 significant characters of external names; 48 keeps pd_<name>_workspace_size sane. */
export const MAX_MODULE_NAME = 48;

/** --name: a C identifier of letters, digits and single underscores, starting with a letter, for a module that is emitted. */
function checkModuleName(name: string, emit: readonly string[]): void {
  if (!/^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/.test(name) || name.length > MAX_MODULE_NAME) {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name);
    throw new PrunedetError(
      'E_USAGE',
      `--name ${shown} is not a C identifier prunedet can name a module by`,
      `use letters, digits and single underscores, starting with a letter, at most ${MAX_MODULE_NAME} characters, e.g. --name face_det`,
    );
  }
  if (!emit.includes('c'))
    throw new PrunedetError(
      'E_USAGE',
      `--name ${name} names the emitted C module, and none is emitted`,
      'add --emit c (or drop --name)',
    );
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function compile(o: CompileOptions): Promise<CompileReport> {
  checkEmitOptions(o);
  // The output rule, checked twice before anything is written: with the paths named on the command line (cheap, before
  // the model is read), then with every file actually read (the model's external data, the configs' bases).
  const named = [o.model, o.config, o.baselineConfig, o.headSpec];
  const rule = (inputs: (string | undefined)[]): CheckOutputOptions => ({
    command: 'compile',
    kind: 'dir',
    inputs,
    ...(o.force ? { force: true } : {}),
  });
  checkOutput(o.outDir, rule(named));
  const loaded = loadModelWithInfo(o.model);
  const headSpec = o.headSpec ? loadHeadSpec(o.headSpec) : undefined;
  const { shapes, spec } = analyzeModel(
    loaded.model,
    { ...(o.inputShape ? { inputShape: o.inputShape } : {}), ...(headSpec ? { headSpec } : {}) },
    loaded.source,
  );
  const { baseline, set } = resolveBaseline(spec, o);
  const resolved: ResolvedConfig = resolveConfig({
    ...(o.config ? { config: o.config } : {}),
    ...(o.remove !== undefined ? { remove: o.remove } : {}),
    baseline,
  });
  const target = checkOutput(
    o.outDir,
    rule([...named, ...loaded.files, ...configFiles(o.config), ...configFiles(o.baselineConfig)]),
  );
  const counts = spec.levels.map((l) => l.anchorsPerLocation);
  const before = stats(loaded.model, shapes, spec, counts, loaded.byteLength);
  const featureMaps = spec.levels.map((l) => l.featureMap);

  const names = o.passes ?? DEFAULT_PIPELINE;
  const model = loaded.model;
  const after = await optimizeModel(model, {
    kept: resolved.kept,
    passes: names,
    ...(o.inputShape ? { inputShape: o.inputShape } : {}),
    ...(headSpec ? { headSpec } : {}),
    label: loaded.source,
    initial: { shapes, spec },
    ...(o.check ? { check: checkInOrt } : {}),
  });
  const keptCounts = resolved.kept.map((k) => k.length);
  const wantBoxes = featureMaps.reduce((s, [h, w], i) => s + h * w * keptCounts[i]!, 0);
  const pruned = names.includes('prune-anchors');
  if (pruned && after.spec.boxes !== wantBoxes) {
    throw new PrunedetError(
      'E_HEAD_AMBIGUOUS',
      `the compiled model has ${after.spec.boxes} boxes, the config asks for ${wantBoxes}`,
      'pass --head-spec; this is likely an unusual head layout',
    );
  }
  const report: CompileReport = {
    tool: `prunedet ${PRUNEDET_VERSION}`,
    model: { file: o.model, sha256: sha256(loaded.bytes) },
    config: {
      name: resolved.name,
      source: o.config ?? (o.remove !== undefined ? `--remove ${o.remove}` : 'none'),
      kept: resolved.kept,
      removed: removeListOf(resolved.kept, baseline),
      baseline: baseline.source ?? 'the model',
    },
    before,
    after: stats(model, after.shapes, after.spec, pruned ? keptCounts : counts, 0),
    featureMaps,
    levels: spec.levels.map((l, i) => ({
      level: i,
      featureMap: l.featureMap,
      stride: l.stride,
      anchors: l.anchorsPerLocation,
      kept: resolved.kept[i] ?? [],
    })),
    passes: after.passes,
    files: ['model.onnx', 'report.json'],
  };
  if (after.spec.quantization) report.quantization = after.spec.quantization;
  if (o.cutHead) {
    const { cutAtHead } = await import('../../detector/cut-head');
    report.cutHead = cutAtHead(model, after.spec, after.shapes);
  }
  stampProvenance(model, 'prunedet', PRUNEDET_VERSION, provenance(report, loaded.model.producer));
  await writeOutputDir(target, async (stage) => {
    report.after.bytes = saveModel(model, join(stage, 'model.onnx'));
    const { emitArtefacts } = await import('./emit');
    const extra = await emitArtefacts(stage, {
      options: o,
      report,
      model,
      spec: after.spec,
      baselineSet: set,
      featureMaps,
    });
    report.files.push(...extra.files);
    if (extra.postprocess) report.postprocess = extra.postprocess;
    for (const f of report.files.filter((x) => x.endsWith('.onnx')))
      await opensInOrt(join(stage, f), o.model, loaded.source);
    writeFileAtomic(join(stage, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  });
  return report;
}

/**
 * metadata_props of the compiled model: what it was compiled from and with (prunedet.* keys; the source's own are kept).
 * The configuration is recorded by content (kept and removed anchors), not by the file or flag that gave it, so the
 * same configuration as a .py, a JSON or a --remove list gives the same bytes (report.json names the file).
 */
function provenance(report: CompileReport, sourceProducer: string): Record<string, string> {
  return {
    'prunedet.source': basename(report.model.file),
    'prunedet.source_sha256': report.model.sha256,
    ...(sourceProducer ? { 'prunedet.source_producer': sourceProducer } : {}),
    'prunedet.config': JSON.stringify({ kept: report.config.kept, removed: report.config.removed }),
    'prunedet.passes': report.passes.map((p) => p.pass).join(','),
    ...(report.cutHead ? { 'prunedet.cut_head': report.cutHead.join(',') } : {}),
  };
}

/** The first line of onnxruntime's refusal to open `src`, or undefined when it opens. */
async function ortRefusal(src: string): Promise<string | undefined> {
  const ort = await import('onnxruntime-node');
  try {
    const s = await ort.InferenceSession.create(src, { logSeverityLevel: 3, graphOptimizationLevel: 'disabled' });
    await s.release();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!.replace(/^Load model from \S+ failed:\s*/, '');
  }
}

/**
 * Every model compile writes opens in onnxruntime. When one does not, the input decides whose fault it is: an input
 * onnxruntime cannot open either is the user's (exit 2, nothing written); otherwise it is a bug in prunedet.
 */
async function opensInOrt(written: string, input: string, label: string): Promise<void> {
  const refusal = await ortRefusal(written);
  if (refusal === undefined) return;
  const inputRefusal = await ortRefusal(input);
  if (inputRefusal !== undefined) {
    throw new PrunedetError(
      'E_ONNX_INVALID',
      `onnxruntime cannot open ${label} itself (${inputRefusal}), and prunedet writes only models onnxruntime opens`,
      'fix the model (onnx.checker.check_model names the problem) or re-export it',
    );
  }
  throw new InternalError(
    `the compiled ${basename(written)} does not open in onnxruntime although ${label} does: ${refusal}`,
  );
}

async function checkInOrt(model: Model, afterPass: string): Promise<void> {
  const ort = await import('onnxruntime-node');
  try {
    await ort.InferenceSession.create(modelToBytes(model), { logSeverityLevel: 3 });
  } catch (e) {
    throw new PrunedetError(
      'E_ONNX_INVALID',
      `onnxruntime rejects the model after pass ${afterPass}: ${(e as Error).message.split('\n')[0]}`,
      'report this with the model; rerun without --check to get the output anyway',
    );
  }
}
