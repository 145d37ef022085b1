// Text form of a bench result: per load and anchor set the median of every peer next to the floor, the ratios that
// matter (C over the floor, every peer over the C), the spread of each measurement, and the model latency split.
import { ALL_PEERS, PEER_DOC, type BenchResult, type LoadResult } from './index';
import { LOAD_DEFS } from '../../postprocess/loads';
import { fmtInt, fmtSi, table } from '../../format/table';

export const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);
const x = (v: number | undefined) => (v === undefined ? '' : `${v >= 10 ? v.toFixed(0) : v.toFixed(2)}x`);
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(2)}%`;

function peersIn(r: BenchResult): string[] {
  return ALL_PEERS.filter((p) => r.results.some((l) => l.timings.some((t) => t.peer === p)));
}

function loadLabel(l: LoadResult): string {
  return l.inputs > 1 ? `${l.load} (${l.inputs} images)` : l.load;
}

/** One row per load and anchor set: pairs above the threshold, the floor, each peer's median. */
export function medianTable(r: BenchResult): string {
  const peers = peersIn(r);
  return table(
    ['load', 'anchors', 'pairs > thr', 'floor', ...peers],
    r.results.map((l) => [
      loadLabel(l),
      l.anchors,
      `${fmtInt(l.candidates)} (${pct(l.candidates, l.pairs)})`,
      l.floor.runs ? us(l.floor.medianUs) : '',
      ...peers.map((p) => {
        const t = l.timings.find((v) => v.peer === p);
        return t ? us(t.medianUs) : '';
      }),
    ]),
  );
}

/** C over the floor and every peer over the C, from the medians. */
export function ratioTable(r: BenchResult): string {
  const peers = peersIn(r).filter((p) => p !== 'c');
  const extra = ['onnx-nms/ort-mmdeploy', 'onnx-nms-exact/ort-mmdeploy'].filter((k) =>
    r.results.some((l) => l.ratios[k] !== undefined),
  );
  return table(
    ['load', 'anchors', 'C / floor', ...peers.map((p) => `${p} / C`), ...extra.map((k) => k.replace('/', ' / '))],
    r.results.map((l) => [
      loadLabel(l),
      l.anchors,
      x(l.ratios['c/floor']),
      ...peers.map((p) => x(l.ratios[`${p}/c`])),
      ...extra.map((k) => x(l.ratios[k])),
    ]),
  );
}

export function formatBench(r: BenchResult): string {
  const peers = peersIn(r);
  const spread = r.results.flatMap((l) => [
    [
      loadLabel(l),
      l.anchors,
      'floor',
      l.floor.runs,
      us(l.floor.minUs),
      us(l.floor.medianUs),
      us(l.floor.p90Us),
      us(l.floor.p99Us),
      '',
    ],
    ...l.timings.map((t) => [
      loadLabel(l),
      l.anchors,
      t.peer,
      t.runs,
      us(t.minUs),
      us(t.medianUs),
      us(t.p90Us),
      us(t.p99Us),
      t.detections,
    ]),
  ]);
  const loads = [...new Set(r.results.map((l) => l.load))];
  const lines = [
    `post-processing (${r.preset}): ${fmtInt(r.boxes.original)} -> ${fmtInt(r.boxes.pruned)} boxes; every peer on the same head outputs, round by round in one loop`,
    `(${r.runs} rounds after warm-up; the TypeScript reference and the bit-exact graph up to ${r.slowRuns} runs; onnxruntime on ${r.ortThreads} thread)`,
    '',
    'loads:',
    ...loads.map(
      (l) =>
        `  ${l.padEnd(7)}${l === 'photos' ? "the original model's head outputs on the given images, cycled" : LOAD_DEFS[l].describe}`,
    ),
    'peers:',
    '  floor  memcpy of the score tensor (reading the scores once costs at least this)',
    ...peers.map(
      (p) => `  ${p.padEnd(Math.max(13, ...peers.map((q) => q.length + 2)))}${PEER_DOC[p as keyof typeof PEER_DOC]}`,
    ),
    `  C flags: c = ${r.cFlags.c}; c-portable = ${r.cFlags['c-portable']}`,
    '',
    'median latency',
    medianTable(r),
    '',
    'ratios of medians (peer / C > 1: the C is that many times faster)',
    ratioTable(r),
    '',
    'spread',
    table(['load', 'anchors', 'impl', 'runs', 'min', 'median', 'p90', 'p99', 'detections'], spread),
  ];
  const m = r.model;
  if (m) {
    const row = (name: string, s: { minUs: number; medianUs: number; p90Us: number } | null, note: string) =>
      s ? [name, us(s.medianUs), us(s.minUs), us(s.p90Us), note] : [name, '', '', '', note];
    lines.push(
      '',
      `model latency in onnxruntime (${m.runs} runs each, interleaved)`,
      table(
        ['model', 'median', 'min', 'p90', ''],
        [
          row('original', m.original, ''),
          row(
            'cleaned-up',
            m.cleaned,
            m.cleaned ? 'the graph passes alone, every anchor kept' : `unavailable: ${m.cleanedError ?? ''}`,
          ),
          row(
            'compiled',
            m.compiled,
            `head MACs ${fmtSi(m.headMacs.original)} -> ${fmtSi(m.headMacs.compiled)} (${(m.headMacs.original / m.headMacs.compiled).toFixed(2)}x fewer)`,
          ),
        ],
      ),
      m.speedup.cleanUp !== null && m.speedup.head !== null
        ? `speed-up ${x(m.speedup.total)} = ${x(m.speedup.cleanUp)} from graph clean-up x ${x(m.speedup.head)} from the pruned head`
        : `speed-up ${x(m.speedup.total)}`,
    );
  }
  return lines.join('\n');
}
