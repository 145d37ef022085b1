// What a search leaves in OUTDIR: one JSON anchor config per front point (the form `prunedet compile --config`
// resolves: {"levels": [{"keep": [...]}, ...]}), pareto.json and the self-contained report.html. Every file is written
// atomically; config files of an earlier, longer front are removed.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs';
import { renderParetoReport, type ParetoLevel, type ParetoPoint, type ParetoReport } from '../report/pareto-html';
import type { Evaluated } from './strategies';

export const CONFIG_DIR = 'configs';

/** The reference detections per level (the full model's on the photos) and the minimum below which a level is weak. */
export interface LevelEvidence {
  referenceDetections: number[];
  minDetections: number;
}

export interface ParetoFile {
  points: ParetoPoint[];
  stats: { candidates: number; seconds: number };
  evidence: LevelEvidence;
}

/** Levels (0-based) that `removed` (global base-anchor indices) takes anchors from and that are weak evidence. */
export function lowEvidenceLevels(counts: readonly number[], removed: readonly number[], e: LevelEvidence): number[] {
  const out: number[] = [];
  let base = 0;
  counts.forEach((n, l) => {
    if (e.referenceDetections[l]! < e.minDetections && removed.some((g) => g >= base && g < base + n)) out.push(l);
    base += n;
  });
  return out;
}

/** Kept anchor indices per level of a removed set. */
export function keptOf(counts: readonly number[], removed: readonly number[]): number[][] {
  const gone = new Set(removed);
  let o = 0;
  return counts.map((n) => {
    const k: number[] = [];
    for (let a = 0; a < n; a++) if (!gone.has(o + a)) k.push(a);
    o += n;
    return k;
  });
}

export function configName(i: number): string {
  return `point-${String(i).padStart(3, '0')}`;
}

/** The JSON config of one point. */
export function configJson(counts: readonly number[], p: Evaluated, name: string, metric: string): string {
  const removed = p.removed.length ? `{${p.removed.join(', ')}}` : 'none';
  const doc = {
    name,
    comment: `prunedet search: removed base anchors ${removed}; ${metric} ${p.map.toFixed(6)}; head MACs ${p.headMacs}; boxes ${p.boxes}`,
    levels: keptOf(counts, p.removed).map((keep) => ({ keep })),
  };
  return `${JSON.stringify(doc, null, 2).replace(/\[\s+([\d,\s]*?)\s+\]/g, (_, body: string) => `[${body.split(/,\s*/).join(', ')}]`)}\n`;
}

export interface WriteOptions {
  outDir: string;
  counts: readonly number[];
  /** points[0] = the full model, then the front by decreasing head MACs. */
  points: Evaluated[];
  stats: { candidates: number; seconds: number };
  evidence: LevelEvidence;
  report: Omit<ParetoReport, 'points' | 'stats' | 'evidence'>;
}

export function writeSearchOutputs(o: WriteOptions): ParetoFile {
  const metric = o.report.metric === 'coco-map' ? 'COCO mAP' : 'fidelity';
  const dir = join(o.outDir, CONFIG_DIR);
  mkdirSync(dir, { recursive: true });
  const points: ParetoPoint[] = o.points.map((p, i) => {
    const name = configName(i);
    writeFileAtomic(join(dir, `${name}.json`), configJson(o.counts, p, name, metric));
    return {
      removed: p.removed,
      keptPerLevel: p.keptPerLevel,
      map: p.map,
      headMacs: p.headMacs,
      boxes: p.boxes,
      config: `${CONFIG_DIR}/${name}.json`,
      lowEvidence: lowEvidenceLevels(o.counts, p.removed, o.evidence),
    };
  });
  const current = new Set(points.map((p) => p.config.slice(CONFIG_DIR.length + 1)));
  for (const f of readdirSync(dir))
    if (/^point-\d+\.json$/.test(f) && !current.has(f)) rmSync(join(dir, f), { force: true });
  const file: ParetoFile = { points, stats: o.stats, evidence: o.evidence };
  writeFileAtomic(join(o.outDir, 'pareto.json'), `${JSON.stringify(file, null, 2)}\n`);
  writeFileAtomic(
    join(o.outDir, 'report.html'),
    renderParetoReport({ ...o.report, points, stats: o.stats, evidence: o.evidence }),
  );
  return file;
}

export type { ParetoLevel };
