// --anchors runtime: the emitted anchor_at() gives every anchor of every generator prunedet reproduces bit for bit
// the row the compiled-in table holds (dumped from both C builds: -O2, and ASan/UBSan with -DPD_PORTABLE), and a
// module with runtime anchors gives the table module's detections (and the reference's) on bench's loads.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { emitPostprocessC, layoutPlan, type EmitPlan } from '../../src/emit/c';
import { allGridAnchors, encodeAnchors, keepAnchors, mmdetAnchors, preciseAnchors } from '../../src/anchors/generate';
import { ssdMinSizePriors, torchvisionAnchors, torchvisionDefaultBoxes } from '../../src/anchors/generate';
import { torchvisionRetinaSizes } from '../../src/anchors/generate';
import type { AnchorEncoding } from '../../src/anchors/grid';
import type { AnchorSet, FeatureMap } from '../../src/anchors/types';
import { runtimeAnchorsOf } from '../../src/anchors/runtime';
import { baselineFromMmdetConfig, resolveMmdetConfig } from '../../src/anchors/config/mmdet-config';
import { PRESETS } from '../../src/postprocess/presets';
import { loadHeadOutputs, SYNTHETIC_LOADS } from '../../src/postprocess/loads';
import { postprocess } from '../../src/postprocess/reference';
import { compiledPostprocess, emitPlanFor } from '../../src/artefacts/compiled-postprocess';
import { loadDetector } from '../../src/detector/index';
import { buildFixture } from '../../fixtures/index';
import { compileTemp, saveTemp } from '../_support/compile';
import { compile, O2_FLAGS, run, SANITIZE_FLAGS, tempDir, writeFiles, hasGcc } from '../_support/gcc';
import { contextOf, inputOf } from './fixtures';
import { buildModule, expectSameDetections, type BuiltModule } from './harness';

const SSD300_MAPS: FeatureMap[] = [
  [38, 38],
  [19, 19],
  [10, 10],
  [5, 5],
  [3, 3],
  [1, 1],
];
const RETINA_MAPS_512: FeatureMap[] = [
  [64, 64],
  [32, 32],
  [16, 16],
  [8, 8],
  [4, 4],
];

/** A table plan and its runtime twin for `set` (kept anchors) over `maps`, encoded as `enc`. */
function plans(
  name: string,
  preset: string,
  numClasses: number,
  set: AnchorSet,
  maps: FeatureMap[],
  enc: AnchorEncoding,
) {
  const spec = { ...structuredClone(PRESETS[preset]!), anchorFormat: enc.format };
  const table: EmitPlan = {
    name,
    banner: { version: '0.1.0', modelFile: 'gen.onnx', modelSha256: '0123456789ab', config: name },
    spec,
    input: 'concat',
    levels: maps.map(([h, w], i) => ({
      h,
      w,
      anchorsPerLocation: set.levels[i]!.base.length,
      stride: [set.levels[i]!.stride[1], set.levels[i]!.stride[0]],
    })),
    numClasses,
    anchors: encodeAnchors(allGridAnchors(set, maps), enc),
    candidateCap: 4096,
  };
  return { table, runtime: { ...table, runtimeAnchors: runtimeAnchorsOf(set, maps, enc) } };
}

const ssdBase = baselineFromMmdetConfig('configs/ssd300/baseline.py');
const retinaBase = baselineFromMmdetConfig('configs/retinanet/baseline.py');
const ssdB = keepAnchors(ssdBase.set, resolveMmdetConfig('configs/ssd300/config_b.py', ssdBase).kept);
const retinaPruned = keepAnchors(retinaBase.set, resolveMmdetConfig('configs/retinanet/pruned.py', retinaBase).kept);
const ultra = ssdMinSizePriors({
  imageSize: [320, 240],
  strides: [8, 16, 32, 64],
  minBoxes: [
    [10, 16, 24],
    [32, 48],
    [64, 96],
    [128, 192, 256],
  ],
});
const XYXY: AnchorEncoding = { format: 'xyxy' };

const GENERATORS = [
  {
    what: 'mmdet SSDAnchorGenerator, SSD300 baseline',
    ...plans('ssdbase', 'mmdet-ssd300', 81, ssdBase.set, SSD300_MAPS, XYXY),
  },
  {
    what: 'mmdet SSDAnchorGenerator, SSD300 configuration B',
    ...plans('ssdb', 'mmdet-ssd300', 81, ssdB, SSD300_MAPS, XYXY),
  },
  {
    what: 'mmdet AnchorGenerator, RetinaNet baseline (512)',
    ...plans('retbase', 'mmdet-retinanet', 80, retinaBase.set, RETINA_MAPS_512, XYXY),
  },
  {
    what: 'mmdet AnchorGenerator, RetinaNet pruned (512)',
    ...plans('retpruned', 'mmdet-retinanet', 80, retinaPruned, RETINA_MAPS_512, XYXY),
  },
  {
    what: 'mmdet AnchorGenerator, explicit scales and centre offset 0.5 (non-integer centres)',
    ...plans(
      'mmoff',
      'mmdet-retinanet',
      80,
      mmdetAnchors({ strides: [8, 16, 32, 64, 128], ratios: [0.5, 1, 2], scales: [1.3, 2.7], centerOffset: 0.5 }),
      RETINA_MAPS_512,
      XYXY,
    ),
  },
  {
    what: 'PreciseAnchorGenerator (the paper), normalised and clamped xyxy',
    ...plans(
      'precise',
      'mmdet-retinanet',
      80,
      preciseAnchors({
        strides: [8, 16, 32, 64, 100, 300],
        baseSize: 300,
        scaleRatios: SSD300_MAPS.map((_, l) => [
          { scale: 0.07 + 0.11 * l, ratio: 1 },
          { scale: 0.1 + 0.13 * l, ratio: 1 / 3 },
          { scale: 0.05 + 0.17 * l, ratio: 2 },
        ]),
        centerOffset: 0.5,
      }),
      SSD300_MAPS,
      { format: 'xyxy', normalizeBy: [300, 300], clamp: true },
    ),
  },
  {
    what: 'torchvision AnchorGenerator (RetinaNet sizes, 512)',
    ...plans(
      'tvret',
      'mmdet-retinanet',
      80,
      torchvisionAnchors({
        sizes: torchvisionRetinaSizes(),
        aspectRatios: [0.5, 1, 2],
        strides: [8, 16, 32, 64, 128],
      }),
      RETINA_MAPS_512,
      XYXY,
    ),
  },
  {
    what: 'torchvision DefaultBoxGenerator (SSD300), centre-size normalised',
    ...plans(
      'tvssd',
      'ultraface',
      2,
      torchvisionDefaultBoxes({
        aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        imageSize: [300, 300],
        featureMaps: SSD300_MAPS,
      }),
      SSD300_MAPS,
      { format: 'cxcywh', normalizeBy: [300, 300], clamp: false },
    ),
  },
  {
    what: 'Ultra-Light min-size priors (320x240: non-integer strides), centre-size normalised and clamped',
    ...plans('ultra', 'ultraface', 2, ultra.set, ultra.featureMaps, {
      format: 'cxcywh',
      normalizeBy: [320, 240],
      clamp: true,
    }),
  },
];

/** The bits of every anchor row the module holds (table) or generates (runtime), dumped by a harness built with `flags`. */
function dumpAnchors(plan: EmitPlan, flags: string[]): string[] {
  const L = layoutPlan(plan);
  const loc = L.names.local;
  const t = tempDir('pd-anchors-');
  try {
    const { files } = emitPostprocessC(plan);
    const read = plan.runtimeAnchors ? `${loc.anchor_at}(n, c);` : `memcpy(c, ${loc.anchors}[n], sizeof c);`;
    const dump = [
      '#include <stdio.h>',
      '#include <string.h>',
      '#include "postprocess.c"',
      'int main(void) {',
      '  uint32_t n, j, u;',
      '  float c[4];',
      `  for (n = 0u; n < ${L.numAnchors}u; ++n) {`,
      `    ${read}`,
      '    for (j = 0u; j < 4u; ++j) { memcpy(&u, &c[j], 4); printf("%08x\\n", (unsigned)u); }',
      '  }',
      '  return 0;',
      '}',
      '',
    ].join('\n');
    writeFiles(t.dir, [...files, { name: 'dump.c', text: dump }]);
    const exe = compile(t.dir, ['dump.c'], 'dump', [...flags, '-Wno-unused-function']);
    return run(exe, []).trim().split('\n');
  } finally {
    t.dispose();
  }
}

function bitsOf(a: Float32Array): string[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (u) => u.toString(16).padStart(8, '0'));
}

describe.skipIf(!hasGcc)('--anchors runtime', () => {
  for (const g of GENERATORS) {
    it(`${g.what}: anchor_at() is the table, bit for bit, over every anchor (-O2; ASan/UBSan -DPD_PORTABLE)`, () => {
      const want = bitsOf(layoutPlan(g.table).centers!);
      expect(want.length).toBeGreaterThan(0);
      const table = dumpAnchors(g.table, O2_FLAGS);
      expect(table).toEqual(want);
      expect(dumpAnchors(g.runtime, O2_FLAGS)).toEqual(want);
      expect(dumpAnchors(g.runtime, [...SANITIZE_FLAGS, '-DPD_PORTABLE'])).toEqual(want);
    });
  }

  it('the runtime module compiles in no anchor table, only the per-level parameters', () => {
    const g = GENERATORS[3]!;
    const src = (p: EmitPlan) => emitPostprocessC(p).files.find((f) => f.name === 'postprocess.c')!.text;
    const L = layoutPlan(g.runtime);
    expect(src(g.table)).toContain(`static const float ${L.names.local.anchors}[`);
    expect(src(g.runtime)).not.toContain(`static const float ${L.names.local.anchors}[`);
    expect(src(g.runtime)).toContain(`static const double ${L.names.local.anchor_base}[`);
  });

  it('refuses parameters that do not give the table (exit 2, use --anchors table)', () => {
    const g = GENERATORS[3]!;
    const r = structuredClone(g.runtime.runtimeAnchors!);
    r.levels[2]!.base[0]![1] += 1e-3; // one base anchor a thousandth of a pixel off
    expect(() => layoutPlan({ ...g.runtime, runtimeAnchors: r })).toThrow(/generated at run time differs/);
    r.levels[2]!.base.pop();
    expect(() => layoutPlan({ ...g.runtime, runtimeAnchors: r })).toThrow(/do not match the plan/);
  });
});

const built: BuiltModule[] = [];
afterAll(() => built.forEach((b) => b.dispose()));

describe.skipIf(!hasGcc)('--anchors runtime on compiled fixtures: the same detections as the table module', () => {
  const CASES = [
    {
      what: 'SSD300 configuration B',
      kind: 'ssd300' as const,
      config: 'configs/ssd300/config_b.py',
      preset: 'mmdet-ssd300',
      opts: {},
    },
    {
      what: 'RetinaNet pruned (its graph embeds the table: the generator must give it bit for bit)',
      kind: 'retinanet' as const,
      config: 'configs/retinanet/pruned.py',
      preset: 'mmdet-retinanet',
      opts: { inputSize: [256, 384] as [number, number] },
    },
  ];
  for (const c of CASES) {
    it(`${c.what}: compile --anchors runtime, light to heavy loads`, async () => {
      const model = saveTemp(buildFixture(c.kind, { outputs: 'concat', ...c.opts }));
      const { outDir, report } = await compileTemp(model, {
        config: c.config,
        emit: ['c'],
        postprocess: c.preset,
        anchors: 'runtime',
      });
      expect(report.postprocess).toMatchObject({ anchorMode: 'runtime' });
      // issue 16's bar: the footprint report (compiled with host gcc, and arm-none-eabi-gcc Cortex-M4F when installed)
      // shows at most 8 KB of read-only data; the table the runtime module replaces is N x 16 B
      const fp = report.postprocess!.footprint!;
      expect(fp.map((f) => f.target)).toContain('host');
      const anchors = report.after.boxes;
      expect(anchors * 16).toBeGreaterThan(8192);
      for (const f of fp) expect(f.rodataBytes, f.target).toBeLessThanOrEqual(8192);
      const header = readFileSync(join(outDir, report.postprocess!.cFiles!.header), 'utf8');
      expect(header).toMatch(/#define PD_\w+_FLASH_BYTES \d+u/);
      expect(header).toMatch(/#define PD_\w+_RAM_BYTES \(PD_\w+_WORKSPACE_SIZE \+ \d+u\)/);
      const det = loadDetector(join(outDir, 'model.onnx'));
      const pp = compiledPostprocess(
        { spec: det.spec, baselineSet: undefined, featureMaps: report.featureMaps },
        c.preset,
        report.config.kept,
      );
      const banner = { version: '0', modelFile: 'model.onnx', modelSha256: '0', config: c.config };
      const table = emitPlanFor(pp, 'tab', banner, 'concat', det.spec.imageSize);
      const runtime = emitPlanFor(pp, 'rt', banner, 'concat', det.spec.imageSize, 'runtime');
      expect(runtime.runtimeAnchors).toBeDefined();
      const mt = buildModule(table);
      const mr = buildModule(runtime);
      built.push(mt, mr);
      let kept = 0;
      for (const load of SYNTHETIC_LOADS) {
        const out = loadHeadOutputs(load, table.spec, table.numClasses, table.anchors);
        const want = postprocess(table.spec, inputOf(table, out), contextOf(table));
        const gt = mt.run(out);
        const gr = mr.run(out);
        expect(gr.status).toBe(0);
        expect(gr.detections).toEqual(gt.detections);
        expectSameDetections(gr.detections, want);
        kept += want.length;
      }
      expect(kept).toBeGreaterThan(0);
    });
  }
});

describe('--anchors: usage', () => {
  it('refuses an unknown mode, --anchors without --emit c, and runtime anchors for boxes decoded in the graph', async () => {
    const model = saveTemp(buildFixture('ssd300', { outputs: 'decoded' }));
    const base = { config: 'configs/ssd300/config_b.py', postprocess: 'mmdet-ssd300' };
    await expect(compileTemp(model, { ...base, emit: ['c'], anchors: 'rom' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: 'unknown --anchors rom',
    });
    await expect(compileTemp(model, { ...base, emit: ['onnx-nms'], anchors: 'runtime' })).rejects.toMatchObject({
      code: 'E_USAGE',
      hint: 'add --emit c',
    });
    await expect(compileTemp(model, { ...base, emit: ['c'], anchors: 'runtime' })).rejects.toThrow(
      /decodes its boxes in the graph/,
    );
  });
});
