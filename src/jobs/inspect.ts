// `prunedet inspect`: what a model is (I/O, opsets, ops, parameters, MACs); the detector view is added by
// src/detector once the head is analysed.
import { describeHeadQuantization, type HeadQuantization } from '../quant/head';
import { dtypeName } from '../ir/dtype';
import type { Model, Value } from '../ir/graph';
import { loadModelWithInfo } from '../onnx/load';
import { declaredType } from '../onnx/value-info';
import { inferShapes, type ShapeResult } from '../shape/infer';
import { analyzeDetector } from '../detector/analyze';
import { inputShapeOverride } from '../detector/index';
import { loadHeadSpec } from '../detector/head-spec';
import { detectorJson, type DetectorSpec } from '../detector/spec';
import { isPrunedetError } from '../errors';
import { anchorTableDifference, generatedAnchors } from '../postprocess/for-model';
import { yoloAnchorSizesFor, yoloRowOutputs } from '../postprocess/yolo';
import { baselineFromMmdetConfig } from '../anchors/config/index';
import { summarizeCost } from '../cost/macs';
import { fmtBytes, fmtInt, fmtSi, table } from '../format/table';
import { fmtHW, fmtNum, fmtStride, levelName } from '../format/levels';
import { anchorRows, type AnchorRow, type AnchorSizeSource } from '../detector/anchor-rows';
import type { AnchorSet } from '../anchors/types';

export interface IoInfo {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
}

export interface InspectReport {
  file: string;
  bytes: number;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  inputs: IoInfo[];
  outputs: IoInfo[];
  nodes: number;
  ops: Record<string, number>;
  params: number;
  totalMacs: number;
  /** Nodes whose MACs are unknown (shapes hidden by an op shape inference cannot follow). */
  macsUnknownAt: string[];
  shapeFailures: string[];
  /** The detector view (levels, boxes, headMacs, classes, postprocessInGraph, ...), or null with the reason. */
  detector: Record<string, unknown> | null;
  detectorError?: string;
  /** For detectors, the keys scripts read, also at the top level (see detectorJson). */
  levels?: unknown;
  boxes?: number;
  headMacs?: number;
  classes?: number;
  scoreActivation?: string;
  postprocessInGraph?: string[];
  anchorTable?: unknown;
  /** One row per base anchor in the numbering `--remove` takes: level, index in the level, w, h, ratio (h / w). */
  anchors?: AnchorRow[];
  /** Where the anchor sizes come from (the graph's table, --baseline-config, a preset's generator), or null. */
  anchorSizes?: string | null;
}

function io(v: Value, shapes: ShapeResult): IoInfo {
  const inferred = shapes.get(v);
  const declared = declaredType(v);
  return {
    name: v.name,
    dtype: dtypeName(inferred?.dtype ?? declared?.dtype ?? 0),
    shape: inferred?.shape ?? declared?.shape ?? null,
  };
}

export function describeModel(model: Model, file: string, bytes: number, shapes: ShapeResult): InspectReport {
  const g = model.graph;
  const ops: Record<string, number> = {};
  for (const n of g.nodes) {
    const key = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  const cost = summarizeCost(g, shapes);
  const opsets = model.opsets();
  return {
    file,
    bytes,
    irVersion: model.irVersion,
    opsets,
    producer: model.producer,
    inputs: g.inputs.filter((v) => !v.initializer).map((v) => io(v, shapes)),
    outputs: g.outputs.map((v) => io(v, shapes)),
    nodes: g.nodes.length,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    params: cost.params,
    totalMacs: cost.totalMacs,
    macsUnknownAt: cost.unknown.map((n) => n.label()),
    shapeFailures: shapes.failures.map((f) => `${f.node.label()}: ${f.reason}`),
    detector: null,
  };
}

export interface InspectOptions {
  inputShape?: number[];
  headSpec?: string;
  /** Cross-check the embedded anchor table against this preset's generator (or --baseline-config). */
  postprocess?: string;
  baselineConfig?: string;
}

/**
 * Describe any ONNX model; for detectors add the detector view. Analysis failures do not fail inspect: they are
 * reported in `detectorError` (commands that need the head fail with them instead).
 */
export function inspectModel(path: string, opts: InspectOptions = {}): InspectReport {
  const { model, byteLength, source } = loadModelWithInfo(path);
  const shapes = inferShapes(model, inputShapeOverride(model, opts.inputShape));
  const report = describeModel(model, path, byteLength, shapes);
  let spec: DetectorSpec | undefined;
  try {
    spec = analyzeDetector(model, shapes, {
      label: source,
      ...(opts.headSpec ? { headSpec: loadHeadSpec(opts.headSpec) } : {}),
    });
  } catch (e) {
    if (!isPrunedetError(e) || e.code === 'E_FILE_NOT_FOUND' || e.code === 'E_HEAD_SPEC') throw e;
    report.detectorError = e.oneLine().replace(/^prunedet: /, '');
  }
  if (!spec) return report;
  const det = detectorJson(spec);
  report.detector = det;
  const baseline = opts.baselineConfig ? baselineFromMmdetConfig(opts.baselineConfig).set : undefined;
  if (spec.anchorTable && (opts.postprocess || opts.baselineConfig)) {
    const all = spec.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i));
    const gen = generatedAnchors(
      spec,
      (opts.postprocess ?? '').split(',')[0]!.trim(),
      spec.levels.map((l) => l.featureMap),
      all,
      baseline,
    );
    (det.anchorTable as Record<string, unknown>).check = {
      generator: gen.source,
      maxDifference: anchorTableDifference(spec, gen),
    };
  }
  const sizes = anchorSizeSource(spec, opts, baseline);
  det.anchors = anchorRows(spec, sizes);
  det.anchorSizes = sizes?.source ?? null;
  // The keys scripts read sit at the top level too (`levels`, `boxes`, `headMacs`, `classes`, `postprocessInGraph`).
  return Object.assign(report, {
    levels: det.levels,
    boxes: det.boxes as number,
    headMacs: det.headMacs as number,
    classes: det.classes as number,
    scoreActivation: det.scoreActivation as string,
    postprocessInGraph: det.postprocessInGraph as string[],
    anchorTable: det.anchorTable,
    anchors: det.anchors as AnchorRow[],
    anchorSizes: det.anchorSizes as string | null,
  });
}

/** Anchor sizes for the per-anchor rows: the graph's own table, else --baseline-config, else the preset's generator. */
function anchorSizeSource(
  spec: DetectorSpec,
  opts: InspectOptions,
  baseline: AnchorSet | undefined,
): AnchorSizeSource | undefined {
  if (spec.anchorTable)
    return {
      kind: 'table',
      xyxy: spec.anchorTable.xyxy,
      normalized: spec.anchorTable.normalized,
      source: `the graph's anchor table (${spec.anchorTable.constants.slice(0, 3).join(', ')}${spec.anchorTable.constants.length > 3 ? ', ...' : ''})`,
    };
  if (spec.yoloAnchors) return { kind: 'sizes', sizes: spec.yoloAnchors.sizes, source: spec.yoloAnchors.source };
  if (baseline) return { kind: 'set', set: baseline, source: opts.baselineConfig! };
  if (!opts.postprocess) return undefined;
  if (yoloRowOutputs(spec)) {
    try {
      const all = spec.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i));
      const y = yoloAnchorSizesFor(spec, opts.postprocess.split(',')[0]!.trim(), all);
      return { kind: 'sizes', sizes: y.sizes, source: y.source };
    } catch (e) {
      if (isPrunedetError(e)) return undefined;
      throw e;
    }
  }
  try {
    const all = spec.levels.map((l) => Array.from({ length: l.anchorsPerLocation }, (_, i) => i));
    const gen = generatedAnchors(
      spec,
      opts.postprocess.split(',')[0]!.trim(),
      spec.levels.map((l) => l.featureMap),
      all,
    );
    return { kind: 'table', xyxy: gen.xyxy, normalized: false, source: gen.source };
  } catch (e) {
    if (isPrunedetError(e)) return undefined;
    throw e;
  }
}

export function formatInspect(r: InspectReport): string {
  const shape = (s: IoInfo['shape']) => (s ? `[${s.join(', ')}]` : '?');
  const lines = [
    `${r.file}: ${fmtBytes(r.bytes)}, IR ${r.irVersion}, opset ${r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}${r.producer ? `, from ${r.producer}` : ''}`,
    '',
    table(
      ['', 'name', 'type', 'shape'],
      [
        ...r.inputs.map((v) => ['input', v.name, v.dtype, shape(v.shape)]),
        ...r.outputs.map((v) => ['output', v.name, v.dtype, shape(v.shape)]),
      ],
    ),
    '',
    `${fmtInt(r.nodes)} nodes: ${Object.entries(r.ops)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `parameters ${fmtInt(r.params)} · MACs ${fmtInt(r.totalMacs)} (${fmtSi(r.totalMacs)})${r.macsUnknownAt.length ? ` + unknown at ${r.macsUnknownAt.length} nodes (${r.macsUnknownAt.slice(0, 3).join(', ')})` : ''}`,
  ];
  if (r.shapeFailures.length) lines.push(`shape inference stopped at: ${r.shapeFailures.slice(0, 5).join('; ')}`);
  lines.push('', r.detector ? formatDetector(r.detector) : `detector: ${r.detectorError}`);
  return lines.join('\n');
}

interface LevelJson {
  level: number;
  featureMap: [number, number];
  stride: [number, number];
  anchorsPerLocation: number;
  boxes: number;
  headMacs: number;
}
interface OutputJson {
  name: string;
  kind: string;
  role: string;
  columns: { role: string; offset: number; size: number }[];
  evidence: string[];
  valuesPerRow: number;
  levels: number[];
  graphOutput: boolean;
}

function formatDetector(d: Record<string, unknown>): string {
  const levels = d.levels as LevelJson[];
  const at = d.anchorTable as {
    constants: string[];
    normalized: boolean;
    output: string;
    check?: { generator: string; maxDifference: number };
  } | null;
  const rows = levels.map((l) => [
    levelName(l.level),
    fmtHW(l.featureMap[0], l.featureMap[1]),
    fmtStride(l.stride),
    l.anchorsPerLocation,
    fmtInt(l.boxes),
    fmtInt(l.headMacs),
  ]);
  rows.push(['total', '', '', '', fmtInt(d.boxes as number), fmtInt(d.headMacs as number)]);
  const pp = (d.postprocessInGraph as string[]).join(' + ') || 'none (raw head outputs)';
  const roles = d.roles as { complete: boolean; missing?: string };
  const outs = (d.outputs as OutputJson[]).map((o) => [
    o.name + (o.graphOutput ? '' : ' (in graph)'),
    o.kind === 'map'
      ? `map of ${levelName(o.levels[0]!)}`
      : `rows, ${o.levels.length === levels.length ? 'all levels' : o.levels.map(levelName).join(', ')}`,
    o.valuesPerRow,
    o.columns
      .map((c) => (o.columns.length > 1 ? `${c.role} ${c.offset}..${c.offset + c.size - 1}` : c.role))
      .join(', '),
    o.evidence.join('; '),
  ]);
  const anchors = (d.anchors as AnchorRow[]) ?? [];
  const sized = anchors.some((a) => a.w !== null);
  const anchorTable = table(
    ['index', 'level', 'anchor', 'w', 'h', 'ratio h/w'],
    anchors.map((a) => [
      a.index,
      levelName(a.level),
      a.anchor,
      a.w === null ? '?' : fmtNum(a.w),
      a.h === null ? '?' : fmtNum(a.h),
      a.ratio === null ? '?' : fmtNum(a.ratio, 3),
    ]),
  );
  return [
    `detector: ${levels.length} levels, ${d.classes} score columns (${d.scoreActivation}), post-processing in graph: ${pp}`,
    table(['level', 'feature map', 'stride', 'anchors/loc', 'boxes', 'head MACs'], rows),
    '',
    table(['head output', 'carries', 'K', 'holds', 'evidence'], outs),
    ...(d.quantization ? [describeHeadQuantization(d.quantization as HeadQuantization)] : []),
    ...(roles.complete
      ? []
      : [
          `roles incomplete: ${roles.missing}; pruning works, post-processing needs --head-spec {"outputs": {"<name>": "scores" | "boxes" | "boxes+landmarks" | ...}}`,
        ]),
    '',
    at
      ? `anchor table: embedded in ${at.constants.join(', ')} (${at.normalized ? 'normalized' : 'pixel'} corners, read off ${at.output})`
      : d.yoloAnchors
        ? 'anchor table: none (YOLO grid decode in the graph: anchor sizes per level from its anchor_grid, below)'
        : 'anchor table: not in the graph (give a baseline config or preset for decoding)',
    ...(at?.check
      ? [`anchor table vs ${at.check.generator}: max difference ${at.check.maxDifference.toExponential(2)}`]
      : []),
    '',
    `anchors (the numbers --remove takes; sizes in input pixels ${sized ? `from ${d.anchorSizes}` : 'unknown: pass --baseline-config or --postprocess'}):`,
    anchorTable,
  ].join('\n');
}
