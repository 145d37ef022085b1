// Compiling fixtures in tests: save a model to a temp folder, compile it, run both in onnxruntime.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model } from '../../src/ir/graph';
import { saveModel } from '../../src/onnx/save';
import { compile } from '../../src/jobs/compile/index';
import type { CompileOptions, CompileReport } from '../../src/artefacts/report';
import { analyzeModel } from '../../src/detector/index';
import { loadModel } from '../../src/onnx/load';
import { randomInput, run } from './ort';
import { maxRowsDiff } from './gather';

export function tempDir(tag = 'pd-'): string {
  return mkdtempSync(join(tmpdir(), tag));
}

export function saveTemp(model: Model, name = 'model.onnx'): string {
  const path = join(tempDir('pd-model-'), name);
  saveModel(model, path);
  return path;
}

export async function compileTemp(
  modelPath: string,
  o: Omit<CompileOptions, 'model' | 'outDir'>,
): Promise<{ report: CompileReport; outDir: string }> {
  const outDir = join(tempDir('pd-out-'), 'out');
  const report = await compile({ model: modelPath, outDir, ...o });
  return { report, outDir };
}

/** Max |compiled - original at kept anchors| on one seeded random input. */
export async function equivalence(
  modelPath: string,
  outDir: string,
  kept: number[][],
  dims: number[],
  seed = 5,
): Promise<number> {
  const { spec } = analyzeModel(loadModel(modelPath), { inputShape: dims });
  const feeds = { [spec.input.name]: { dims, data: randomInput(dims, seed) } };
  const [a, b] = [await run(modelPath, feeds), await run(join(outDir, 'model.onnx'), feeds)];
  return maxRowsDiff(spec, kept, a, b);
}
