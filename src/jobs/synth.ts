// `prunedet synth`: build one of the synthetic detectors and save it.
import { buildFixture, type FixtureKind, type SynthOptions } from '../../fixtures/index';
import { checkOutput } from '../fs';
import { producerOf } from '../onnx/producer';
import { saveModel } from '../onnx/save';
import { inferShapes } from '../shape/infer';
import { summarizeCost } from '../cost/macs';
import { fmtBytes, fmtInt } from '../format/table';

export interface SynthResult {
  kind: FixtureKind;
  output: string;
  bytes: number;
  nodes: number;
  params: number;
  totalMacs: number;
}

export function synth(kind: FixtureKind, output: string, opts: SynthOptions & { force?: boolean }): SynthResult {
  const target = checkOutput(output, {
    command: 'synth',
    kind: 'file',
    inputs: [],
    ownsFile: (p) => /^prunedet(-|$)/.test(producerOf(p) ?? ''),
    ...(opts.force ? { force: true } : {}),
  });
  const model = buildFixture(kind, opts);
  const bytes = saveModel(model, target.path, { externalData: 'inline' });
  const cost = summarizeCost(model.graph, inferShapes(model));
  return { kind, output, bytes, nodes: model.graph.nodes.length, params: cost.params, totalMacs: cost.totalMacs };
}

export function formatSynth(r: SynthResult): string {
  return `wrote ${r.output}: ${r.kind}, ${fmtBytes(r.bytes)}, ${fmtInt(r.nodes)} nodes, ${fmtInt(r.params)} parameters, ${fmtInt(r.totalMacs)} MACs`;
}
