// The demo's per-configuration measurements: the compiled model's latency in onnxruntime-node (median of runs).
import type { DemoStage } from './demo';

async function medianMs(modelPath: string, runs: number): Promise<number> {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(modelPath, { logSeverityLevel: 3, intraOpNumThreads: 2 });
  const input = new ort.Tensor('float32', new Float32Array(3 * 300 * 300).fill(0.1), [1, 3, 300, 300]);
  await s.run({ [s.inputNames[0]!]: input });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await s.run({ [s.inputNames[0]!]: input });
    times.push(performance.now() - t);
  }
  await s.release();
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

export function demoStage(progress: (m: string) => void): DemoStage {
  return {
    async measure(_original, outDir) {
      progress('timing the compiled model in onnxruntime');
      const ms = await medianMs(`${outDir}/model.onnx`, 5);
      return { 'model ms (ort)': ms.toFixed(0) };
    },
  };
}
