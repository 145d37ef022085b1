// The demo's per-configuration measurements: verify (tensors, the paper's oracle, the C module), post-processing
// latency of the fused C next to onnxruntime's NonMaxSuppression op and an mmdeploy-style graph (bench, light load),
// model latency in onnxruntime; and for configuration B the sweep of bench's loads from light to heavy. The demo is the
// one job made of other jobs; as jobs never import each other, the command wires them here and hands them to it.
import { compile } from '../../src/jobs/compile/index';
import { verify } from '../../src/jobs/verify/index';
import { bench, timeModel } from '../../src/jobs/bench/index';
import { SYNTHETIC_LOADS } from '../../src/postprocess/loads';
import { medianTable, ratioTable } from '../../src/jobs/bench/format';
import type { DemoStage } from '../../src/jobs/demo';

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);

export function demoStage(progress: (m: string) => void): DemoStage {
  return {
    compile,
    async measure(original, outDir, report) {
      progress('verifying against the original (tensors, oracle detections, C module)');
      const v = await verify({ original, outDir, samples: 1 });
      progress('benchmarking post-processing on the light load (C, onnxruntime NMS op, mmdeploy-style graph)');
      const baseline = report?.config.removed.length === 0;
      const b = await bench({
        outDir,
        original,
        runs: 200,
        loads: ['light'],
        peers: ['c', 'ort-nms-op', 'ort-mmdeploy'],
        sets: [baseline ? 'original' : 'pruned'],
        noModel: true,
      });
      const t = (peer: string) => b.results[0]!.timings.find((p) => p.peer === peer)!;
      const modelMs = await timeModel(`${outDir}/model.onnx`, [1, 3, 300, 300], 5);
      return {
        verified: v.status === 'equivalent' ? 'yes' : v.status === 'mismatch' ? 'NO' : 'inconclusive',
        'model (ort)': `${modelMs.toFixed(0)} ms`,
        'post C': us(t('c').medianUs),
        'ort NMS op': us(t('ort-nms-op').medianUs),
        'mmdeploy graph': us(t('ort-mmdeploy').medianUs),
      };
    },
    async sweep(original, outDir) {
      progress('post-processing sweep for configuration B: loads light to heavy');
      const b = await bench({
        outDir,
        original,
        runs: 200,
        slowRuns: 5,
        loads: [...SYNTHETIC_LOADS],
        peers: ['c', 'c-portable', 'ort-nms-op', 'ort-mmdeploy', 'onnx-nms'],
        sets: ['pruned'],
        noModel: true,
      });
      return [
        medianTable(b),
        '',
        'ratios of medians (peer / C > 1: the C is that many times faster)',
        ratioTable(b),
      ].join('\n');
    },
  };
}
