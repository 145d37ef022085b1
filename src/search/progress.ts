// Progress of search's long phases (filling the cache, evaluating candidates) as people and logs want it: on a
// terminal one line redrawn in place; otherwise (CI, nohup, a pipe) a plain line every `everySeconds` and one when the
// phase ends, each with the count, the rate and an ETA, so a log of a 5,000-photo run reads like a report. A phase
// shorter than that prints nothing (a quick run, or a bad input reported as its one line, stays quiet).
import { fmtInt } from '../format/table';

export interface ProgressOptions {
  /** Redraw one line in place (a terminal) instead of printing lines. */
  tty: boolean;
  write: (text: string) => void;
  /** Seconds between lines when not a terminal (default 10). */
  everySeconds?: number;
  /** Milliseconds clock (default performance.now). */
  now?: () => number;
}

/** One phase's state: a count against a total, with what to call the items. */
export interface ProgressUpdate {
  phase: string;
  done: number;
  total: number;
  unit: string;
  /** Appended after the rate, e.g. `(12 computed)`. */
  detail?: string;
  /** The total is a cap the phase may stop before (the candidate budget): the ETA is then an upper bound. */
  cap?: boolean;
}

export class ProgressReporter {
  private phase = '';
  private start = 0;
  private startDone = 0;
  private lastLine = 0;
  /** A line of this phase was printed (so its end gets one too). */
  private printed = false;
  private last = '';
  private written = '';
  private shown = false;
  private readonly now: () => number;
  private readonly every: number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? (() => performance.now());
    this.every = 1000 * (o.everySeconds ?? 10);
  }

  update(u: ProgressUpdate): void {
    const t = this.now();
    if (u.phase !== this.phase) {
      this.phase = u.phase;
      this.start = t;
      this.startDone = u.done;
      this.lastLine = t;
      this.printed = false;
    }
    const text = this.line(u, t);
    this.last = text;
    if (this.o.tty) {
      const width = 24;
      const fill = u.total > 0 ? Math.min(width, Math.round((u.done / u.total) * width)) : 0;
      this.o.write(`\r[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${text}\x1b[K`);
      this.shown = true;
      return;
    }
    const finished = u.done >= u.total;
    if ((finished && this.printed) || (!finished && t - this.lastLine >= this.every)) {
      this.o.write(`${text}\n`);
      this.written = text;
      this.lastLine = finished ? Infinity : t;
      this.printed = !finished;
    }
  }

  /** Clear the terminal line; in plain lines, close a phase that printed lines with its last state. */
  end(): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K');
    if (!this.o.tty && this.printed && this.last !== this.written) this.o.write(`${this.last}\n`);
    this.shown = false;
    this.printed = false;
  }

  private line(u: ProgressUpdate, t: number): string {
    const pct = u.total > 0 ? ` (${Math.floor((100 * u.done) / u.total)}%)` : '';
    const seconds = (t - this.start) / 1000;
    const rate = seconds > 0.5 && u.done > this.startDone ? (u.done - this.startDone) / seconds : undefined;
    const parts = [`search: ${u.phase} ${fmtInt(u.done)}/${fmtInt(u.total)} ${u.unit}${pct}`];
    if (rate !== undefined) {
      parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} ${u.unit}/s`);
      if (u.done < u.total) parts.push(`ETA ${u.cap ? '<= ' : ''}${duration((u.total - u.done) / rate)}`);
    }
    return parts.join(', ') + (u.detail ? ` ${u.detail}` : '');
  }
}

/** 75 -> 1m15s, 4000 -> 1h06m, 12 -> 12s. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
