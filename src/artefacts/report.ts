// The compile report: what `prunedet compile` leaves in OUTDIR for verify and bench (typed, versioned, with the
// source's sha256 and the post-processing actually emitted), its reader and validator (field by field, since verify and
// bench act on it), the baseline anchors it names, and the check that an ORIGINAL is the model that was compiled.
import type { HeadQuantization } from '../quant/head';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PrunedetError } from '../errors';
import type { StepReport } from '../pipeline';
import type { AnchorSet } from '../anchors/types';
import { baselineFromMmdetConfig } from '../anchors/config/index';

export interface CompileOptions {
  model: string;
  config?: string;
  remove?: string;
  baselineConfig?: string;
  headSpec?: string;
  inputShape?: number[];
  outDir: string;
  /** Replace an existing non-empty OUTDIR that prunedet did not make. */
  force?: boolean;
  passes?: string[];
  /** Open the model in onnxruntime after every pass. */
  check?: boolean;
  /** Extra artefacts (EMIT_KINDS), written by the compile job's emitters. */
  emit?: string[];
  postprocess?: string;
  cutHead?: boolean;
  /** --name: the C module's name (symbols pd_<name>_, files <name>.c/.h); default: from the model's file name, postprocess.c/.h. */
  name?: string;
  /** --anchors (with --emit c): table (default) compiles every anchor in; runtime generates them from the generator's parameters. */
  anchors?: string;
  /**
   * --input-type (with --emit c): the C module's input element types, `scores:int8:SCALE:ZP,boxes:uint8:SCALE:ZP`
   * (scale and zero point per tensor; left out: from the model's DequantizeLinear).
   */
  inputType?: string;
  /** --input-layout (with --emit c, per-level form): nchw (default) or nhwc maps. */
  inputLayout?: string;
}

export interface ModelStats {
  headMacs: number;
  totalMacs: number;
  boxes: number;
  anchorsPerLevel: number[];
  params: number;
  bytes: number;
}

export interface CompileReport {
  tool: string;
  model: { file: string; sha256: string };
  config: { name: string; source: string; kept: number[][]; removed: number[]; baseline: string };
  before: ModelStats;
  after: ModelStats;
  featureMaps: [number, number][];
  /** Per level (numbered from 0, finest first), as inspect shows it: map and stride [h, w], anchors before and kept. */
  levels: { level: number; featureMap: [number, number]; stride: [number, number]; anchors: number; kept: number[] }[];
  passes: StepReport[];
  files: string[];
  /** The post-processing actually emitted (--emit): what was asked, what was used, and the C module's contract. */
  postprocess?: PostprocessRecord;
  /** With --cut-head: the per-level head outputs the compiled model ends at. */
  cutHead?: string[];
  /**
   * A quantized head (QDQ / QLinearConv), as the compiled model has it; `quantization.outputs[name]` gives, for each
   * output DequantizeLinear computes from an int8/uint8 tensor, that tensor's type, scale and zero point (per tensor).
   */
  quantization?: HeadQuantization;
}

export { PRUNEDET_VERSION } from '../version';
import type { ModuleFootprint } from '../emit/c/footprint';
import type { InputQuant } from '../postprocess/quant';

/** report.json's `postprocess`: the preset as asked and as resolved, where the anchors came from, and (--emit c) the C module's contract. */
export interface PostprocessRecord {
  /** The --postprocess text as given. */
  requested: string;
  /** The resolved preset with every field (formatPostprocess). */
  preset: string;
  /** Where the anchor table came from (generated, the graph's constants, decoded in the graph). */
  anchors: string;
  /** --emit c: the run function's input form. */
  input?: 'concat' | 'per-level' | 'yolo';
  /** --emit c: candidates the workspace holds. */
  candidateCap?: number;
  /** --emit c: bytes of the caller's workspace. */
  workspaceBytes?: number;
  /** --emit c: how the module gets its anchors (--anchors): the compiled-in table, or generated at run time. */
  anchorMode?: 'table' | 'runtime';
  /** --emit c: the symbol prefix (`pd_<name>_`). */
  symbolPrefix?: string;
  /** --emit c: the module's header and source file names (compile --name sets them). */
  cFiles?: { header: string; source: string };
  /**
   * --emit c: the module's bytes measured by compiling it, per target (host gcc; arm-none-eabi-gcc Cortex-M4F when
   * installed): code, read-only data, data, bss, the deepest stack of a run, and the flash they add up to.
   */
  footprint?: ModuleFootprint[];
  /** --emit c: quantized inputs (--input-type): per role its type, scale and zero point; absent roles are float32. */
  inputQuant?: InputQuant;
  /** --emit c, per-level form: the maps' layout (--input-layout). */
  inputLayout?: 'nchw' | 'nhwc';
  /** --emit onnx-nms: the standalone graph and the model with it appended (null when the model's opset is too old). */
  onnxNms?: { standalone: string; appended: string | null };
  /** What the user should know about what was (not) emitted. */
  notes?: string[];
}

/** What --emit can write (the compile job's emitters). */
export const EMIT_KINDS = ['c', 'onnx-nms', 'onnx-nms-exact'] as const;

const RECOMPILE = 'recompile with prunedet compile (report.json is its record of what it did)';

type Json = unknown;

/** A JSON type check: the reason `v` is not of the expected kind, or undefined when it is. */
type Check = (v: Json) => string | undefined;

const kindOf = (v: Json): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;
const str: Check = (v) => (typeof v === 'string' ? undefined : `is ${kindOf(v)}, not a string`);
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `is ${kindOf(v)}, not true/false`);
const num: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `is ${kindOf(v)}, not a number`);
const count =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min
      ? undefined
      : `is ${kindOf(v)}, not a whole number >= ${min}`;
const hex64: Check = (v) =>
  typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? undefined : `is ${kindOf(v)}, not a sha256 (64 hex digits)`;
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `is ${kindOf(v)}, not one of ${values.join(', ')}`;

/** Walks a parsed report, throwing one E_REPORT line naming the first field that is missing or ill-typed. */
class ReportReader {
  constructor(private readonly path: string) {}

  /** `field` '' is the whole file. */
  fail(field: string, why: string): never {
    throw new PrunedetError('E_REPORT', field ? `${this.path}: ${field} ${why}` : `${this.path} ${why}`, RECOMPILE);
  }

  object(v: Json, field: string): Record<string, Json> {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      this.fail(
        field,
        v === undefined ? 'is missing' : `is ${kindOf(v)}, not ${field ? 'an object' : 'a compile report (an object)'}`,
      );
    return v as Record<string, Json>;
  }

  array(v: Json, field: string): Json[] {
    if (!Array.isArray(v)) this.fail(field, v === undefined ? 'is missing' : `is ${kindOf(v)}, not an array`);
    return v;
  }

  field(o: Record<string, Json>, key: string, prefix: string, check: Check, optional = false): void {
    const v = o[key];
    if (v === undefined) {
      if (optional) return;
      this.fail(`${prefix}${key}`, 'is missing');
    }
    const why = check(v);
    if (why) this.fail(`${prefix}${key}`, why);
  }

  list(o: Record<string, Json>, key: string, prefix: string, item: Check, optional = false): Json[] | undefined {
    if (o[key] === undefined && optional) return undefined;
    const a = this.array(o[key], `${prefix}${key}`);
    a.forEach((v, i) => {
      const why = item(v);
      if (why) this.fail(`${prefix}${key}[${i}]`, why);
    });
    return a;
  }
}

/** Field-by-field check of a parsed report.json against CompileReport; returns it typed. */
export function validateCompileReport(json: Json, path: string): CompileReport {
  const r = new ReportReader(path);
  const root = r.object(json, '');
  r.field(root, 'tool', '', str);
  const model = r.object(root.model, 'model');
  r.field(model, 'file', 'model.', str);
  r.field(model, 'sha256', 'model.', hex64);
  const config = r.object(root.config, 'config');
  for (const k of ['name', 'source', 'baseline']) r.field(config, k, 'config.', str);
  const kept = r.array(config.kept, 'config.kept');
  kept.forEach((l, i) => {
    const lv = r.array(l, `config.kept[${i}]`);
    lv.forEach((a, j) => {
      const why = count(0)(a);
      if (why) r.fail(`config.kept[${i}][${j}]`, why);
      if (j > 0 && (a as number) <= (lv[j - 1] as number)) r.fail(`config.kept[${i}]`, 'is not in ascending order');
    });
  });
  if (kept.length === 0) r.fail('config.kept', 'is empty (no levels)');
  r.list(config, 'removed', 'config.', count(0));
  for (const side of ['before', 'after']) {
    const s = r.object(root[side], side);
    for (const k of ['headMacs', 'totalMacs', 'boxes', 'params', 'bytes']) r.field(s, k, `${side}.`, num);
    r.list(s, 'anchorsPerLevel', `${side}.`, count(0));
  }
  const maps = r.array(root.featureMaps, 'featureMaps');
  maps.forEach((m, i) => {
    const hw = r.array(m, `featureMaps[${i}]`);
    if (hw.length !== 2 || hw.some((d) => count(1)(d) !== undefined))
      r.fail(`featureMaps[${i}]`, `is ${JSON.stringify(m)}, not [height, width]`);
  });
  if (maps.length !== kept.length)
    r.fail('featureMaps', `has ${maps.length} levels but config.kept has ${kept.length}`);
  r.array(root.passes, 'passes').forEach((p, i) => {
    const step = r.object(p, `passes[${i}]`);
    r.field(step, 'pass', `passes[${i}].`, str);
    r.field(step, 'changed', `passes[${i}].`, bool);
    r.object(step.stats, `passes[${i}].stats`);
    r.list(step, 'rounding', `passes[${i}].`, () => undefined, true)?.forEach((c, j) => {
      const at = `passes[${i}].rounding[${j}].`;
      const o = r.object(c, at.slice(0, -1));
      r.field(o, 'value', at, str);
      r.field(o, 'how', at, oneOf(['batchnorm-folded', 'constant-folded']));
    });
  });
  r.list(root, 'files', '', str);
  if (root.postprocess !== undefined) {
    const pp = r.object(root.postprocess, 'postprocess');
    r.field(pp, 'preset', 'postprocess.', str);
    r.field(pp, 'requested', 'postprocess.', str, true);
    r.field(pp, 'input', 'postprocess.', oneOf(['concat', 'per-level', 'yolo']), true);
    r.field(pp, 'candidateCap', 'postprocess.', count(1), true);
    r.field(
      pp,
      'symbolPrefix',
      'postprocess.',
      (v) =>
        typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : `is ${kindOf(v)}, not a C identifier`,
      true,
    );
    const files = root.files as string[];
    if (pp.cFiles !== undefined) {
      const f = r.object(pp.cFiles, 'postprocess.cFiles');
      // plain file names compile listed in files: never a path that leaves OUTDIR
      const listed = (v: Json) =>
        typeof v === 'string' && /^[A-Za-z0-9_]+\.[ch]$/.test(v) && files.includes(v)
          ? undefined
          : `is ${kindOf(v)}, not a .c/.h file name listed in files`;
      r.field(f, 'header', 'postprocess.cFiles.', listed);
      r.field(f, 'source', 'postprocess.cFiles.', listed);
    }
    if (files.includes('postprocess.c') || pp.cFiles !== undefined) {
      r.field(pp, 'input', 'postprocess.', oneOf(['concat', 'per-level', 'yolo']));
      r.field(pp, 'symbolPrefix', 'postprocess.', str);
    }
    r.field(pp, 'inputLayout', 'postprocess.', oneOf(['nchw', 'nhwc']), true);
    if (pp.inputQuant !== undefined) {
      const q = r.object(pp.inputQuant, 'postprocess.inputQuant');
      for (const role of ['scores', 'boxes']) {
        if (q[role] === undefined) continue;
        const at = `postprocess.inputQuant.${role}.`;
        const o = r.object(q[role], at.slice(0, -1));
        r.field(o, 'type', at, oneOf(['int8', 'uint8']));
        r.field(o, 'scale', at, (v) =>
          typeof v === 'number' && v > 0 && Number.isFinite(v) ? undefined : `is ${kindOf(v)}, not a positive scale`,
        );
        r.field(o, 'zeroPoint', at, (v) =>
          Number.isInteger(v) && Math.abs(v as number) <= 255 ? undefined : `is ${kindOf(v)}, not a zero point`,
        );
      }
    }
  }
  r.list(root, 'cutHead', '', str, true);
  if (root.quantization !== undefined) r.object(root.quantization, 'quantization');
  return json as CompileReport;
}

/** The emitted C module's header and source in OUTDIR (compile --name names them; else postprocess.h/.c), or undefined when compile emitted none. */
export function cModuleFiles(report: CompileReport): { header: string; source: string } | undefined {
  const named = report.postprocess?.cFiles as { header: string; source: string } | undefined;
  if (named) return named;
  return report.files.includes('postprocess.c') ? { header: 'postprocess.h', source: 'postprocess.c' } : undefined;
}

/** `outDir`/report.json, validated; throws E_FILE_NOT_FOUND when it is missing and E_REPORT when it is not a report. */
export function readCompileReport(outDir: string): CompileReport {
  const path = join(outDir, 'report.json');
  if (!existsSync(path))
    throw new PrunedetError('E_FILE_NOT_FOUND', `${path} does not exist`, 'pass the folder prunedet compile wrote');
  let json: Json;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PrunedetError('E_REPORT', `${path} is not valid JSON (${(e as Error).message})`, RECOMPILE);
  }
  return validateCompileReport(json, path);
}

/** sha256 of a file, read in 1 MiB chunks (a model can be larger than the memory one should spend on hashing it). */
export function sha256OfFile(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Refuse an ORIGINAL that is not the model OUTDIR was compiled from (E_REPORT, both hashes shown): verifying or
 * benchmarking against another model would compare the wrong things without a word.
 */
export function checkOriginal(report: CompileReport, original: string, outDir: string): void {
  if (!existsSync(original))
    throw new PrunedetError(
      'E_FILE_NOT_FOUND',
      `the original model ${original} does not exist`,
      'pass the model OUTDIR was compiled from',
    );
  const got = sha256OfFile(original);
  if (got !== report.model.sha256) {
    throw new PrunedetError(
      'E_REPORT',
      `${original} has sha256 ${got}, but ${join(outDir, 'report.json')} was compiled from ${report.model.file} with sha256 ${report.model.sha256}`,
      'pass the model OUTDIR was compiled from, or recompile from this one',
    );
  }
}

/** The baseline anchor set the report's config was resolved against, when that config file is still there. */
export function reportBaselineSet(report: CompileReport): AnchorSet | undefined {
  return report.config.baseline && existsSync(report.config.baseline)
    ? baselineFromMmdetConfig(report.config.baseline).set
    : undefined;
}
