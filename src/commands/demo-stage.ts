// The demo's per-configuration measurements: verify (tensors, the paper's oracle, the C module), post-processing
// latency of the fused C and of onnxruntime's NonMaxSuppression path (bench), and model latency in onnxruntime.
import { verify } from '../verify/index';
import { bench, timeModel } from '../bench/index';
import type { DemoStage } from './demo';

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);

export function demoStage(progress: (m: string) => void): DemoStage {
  return {
    async measure(original, outDir, report) {
      progress('verifying against the original (tensors, oracle detections, C module)');
      const v = await verify({ original, outDir, samples: 1 });
      progress('benchmarking post-processing (C, onnxruntime NMS, TypeScript) and the model');
      const baseline = report?.config.removed.length === 0;
      const b = await bench({ outDir, original, runs: 200, tsRuns: 3, sets: [baseline ? 'original' : 'pruned'], noModel: true });
      const t = (impl: string) => b.postprocess.find((p) => p.impl === impl)!;
      const modelMs = await timeModel(`${outDir}/model.onnx`, [1, 3, 300, 300], 5);
      return {
        verified: v.status === 'equivalent' ? 'yes' : v.status === 'mismatch' ? 'NO' : 'inconclusive',
        'model (ort)': `${modelMs.toFixed(0)} ms`,
        'post C': us(t('c').medianUs),
        'post ort NMS': us(t('ort').medianUs),
        'post TS ref': us(t('ts').medianUs),
      };
    },
  };
}
