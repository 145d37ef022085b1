// `prunedet demo`: the README's first command. Builds the SSD300 fixture (full VGG16, seeded weights), compiles the
// paper's configurations A-D, verifies each against the original, measures model and post-processing latency, and
// prints the paper's table with prunedet's own columns. No network, no arguments.
import { join } from 'node:path';
import { makeTempDir } from '../cleanup';
import { buildFixture } from '../../fixtures/index';
import { saveModel } from '../onnx/save';
import type { CompileOptions, CompileReport } from '../artefacts/report';
import { shippedConfig } from '../postprocess/for-model';
import { fmtInt, table } from '../format/table';

export interface DemoRow {
  config: string;
  anchorsPerLevel: number[];
  headMacs: number;
  paperHeadMacs: number;
  boxes: number;
  paperBoxes: number;
  match: boolean;
  extra: Record<string, string>;
}

export interface DemoResult {
  rows: DemoRow[];
  /** The post-processing sweep (bench's loads) for configuration B, as text. */
  sweep?: string;
  seconds: number;
}

/** The paper's Table (SSD300, COCO): head MACs and boxes per configuration. */
export const PAPER_SSD300 = [
  { config: 'baseline', headMacs: 4_231_319_040, boxes: 8732 },
  { config: 'A', headMacs: 3_607_764_480, boxes: 7814 },
  { config: 'B', headMacs: 2_476_592_640, boxes: 4926 },
  { config: 'C', headMacs: 1_628_213_760, boxes: 3121 },
  { config: 'D', headMacs: 774_938_880, boxes: 1291 },
];

/**
 * The jobs the demo runs, given by its caller (bin/commands/demo.ts): a job never imports another, so the demo gets
 * compile, and its measuring stages (verify, bench), as functions.
 */
export interface DemoStage {
  /** The compile job. */
  compile(o: CompileOptions): Promise<CompileReport>;
  /** Extra per-configuration measurements (verify, latency), added by later stages of the demo. */
  measure?(original: string, outDir: string, report: CompileReport | undefined): Promise<Record<string, string>>;
  /** The post-processing sweep over bench's loads, run for configuration B. */
  sweep?(original: string, outDir: string): Promise<string>;
}

/** `backbone` is for tests (the demo itself always builds the full VGG16). */
export async function demo(
  progress: (msg: string) => void,
  stage: DemoStage,
  backbone: 'full' | 'tiny' = 'full',
): Promise<DemoResult> {
  const t0 = performance.now();
  const { dir, release } = makeTempDir('demo');
  try {
    progress('building the SSD300 fixture (VGG16 backbone, seeded random weights)');
    const original = join(dir, 'ssd300.onnx');
    saveModel(buildFixture('ssd300', { backbone, outputs: 'concat' }), original, { externalData: 'inline' });
    const rows: DemoRow[] = [];
    let sweep: string | undefined;
    for (const p of PAPER_SSD300) {
      const baseline = p.config === 'baseline';
      const name = p.config.toLowerCase();
      progress(
        baseline ? 'compiling the baseline (every anchor kept) for reference' : `compiling configuration ${p.config}`,
      );
      const outDir = join(dir, baseline ? 'baseline' : `config_${name}`);
      const report = await stage.compile({
        model: original,
        ...(baseline ? { remove: '' } : { config: shippedConfig(`configs/ssd300/config_${name}.py`) }),
        outDir,
        emit: ['c'],
        postprocess: 'mmdet-ssd300',
      });
      const extra = stage.measure ? await stage.measure(original, outDir, report) : {};
      if (p.config === 'B' && stage.sweep) sweep = await stage.sweep(original, outDir);
      const after = report.after;
      rows.push({
        config: p.config,
        anchorsPerLevel: after.anchorsPerLevel,
        headMacs: after.headMacs,
        paperHeadMacs: p.headMacs,
        boxes: after.boxes,
        paperBoxes: p.boxes,
        match: after.headMacs === p.headMacs && after.boxes === p.boxes,
        extra,
      });
    }
    return { rows, ...(sweep ? { sweep } : {}), seconds: (performance.now() - t0) / 1000 };
  } finally {
    release();
  }
}

export function formatDemo(r: DemoResult): string {
  const extraCols = [...new Set(r.rows.flatMap((x) => Object.keys(x.extra)))];
  const rows = r.rows.map((x) => [
    x.config,
    x.anchorsPerLevel.join(','),
    fmtInt(x.headMacs),
    fmtInt(x.boxes),
    x.match ? 'yes' : `NO (paper ${fmtInt(x.paperHeadMacs)} / ${fmtInt(x.paperBoxes)})`,
    ...extraCols.map((c) => x.extra[c] ?? ''),
  ]);
  return [
    "SSD300 (COCO, 81 classes) - the anchor-pruning paper's configurations, compiled by prunedet",
    '',
    table(['config', 'anchors/location', 'head MACs', 'boxes', 'equals paper', ...extraCols], rows),
    '',
    "post-processing (mmdet-ssd300): bench's light load (trained-like synthetic head outputs) of each anchor set, median of",
    '200 rounds side by side; model latency: the compiled model in onnxruntime-node, median of 5. Details: prunedet bench.',
    ...(r.sweep
      ? [
          '',
          "configuration B, post-processing on bench's loads (prunedet bench --load light,real,medium,heavy), medians",
          r.sweep,
        ]
      : []),
    `(${r.seconds.toFixed(1)} s; weights are random, so AP is not measured: the paper's AP needs trained COCO weights)`,
  ].join('\n');
}
