// Order statistics of repeated timings (microseconds): what bench reports for every measurement.

export interface Summary {
  runs: number;
  minUs: number;
  medianUs: number;
  p90Us: number;
  p99Us: number;
}

/** Nearest-rank percentile of sorted values (0 for none). */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(us: number[]): Summary {
  const s = [...us].sort((a, b) => a - b);
  return { runs: s.length, minUs: s[0] ?? 0, medianUs: pct(s, 50), p90Us: pct(s, 90), p99Us: pct(s, 99) };
}
