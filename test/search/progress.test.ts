// search's progress: plain lines when stderr is not a terminal (a line every N seconds with the rate and an ETA, one
// at the end of a phase that printed, nothing for a phase shorter than N seconds), one line redrawn on a terminal.
import { describe, expect, it } from 'vitest';
import { duration, ProgressReporter } from '../../src/search/progress';

function clock(): { now: () => number; advance: (s: number) => void } {
  let t = 0;
  return { now: () => t, advance: (s) => (t += 1000 * s) };
}

describe('ProgressReporter', () => {
  it('not a terminal: a line every N seconds with rate and ETA, and the end', () => {
    const out: string[] = [];
    const c = clock();
    const p = new ProgressReporter({ tty: false, write: (s) => out.push(s), everySeconds: 10, now: c.now });
    p.update({ phase: 'cache', done: 0, total: 5000, unit: 'photos' });
    for (let done = 100; done <= 5000; done += 100) {
      c.advance(4);
      p.update({ phase: 'cache', done, total: 5000, unit: 'photos', detail: `(${done} run through the model)` });
    }
    p.end();
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    // 200 s of work at a line every 10 s (updates every 4 s: at 12, 24, 36, ...), and the end
    expect(out.length).toBe(17);
    expect(out[0]).toBe('search: cache 300/5,000 photos (6%), 25 photos/s, ETA 3m08s (300 run through the model)\n');
    expect(out[out.length - 1]).toBe(
      'search: cache 5,000/5,000 photos (100%), 25 photos/s (5000 run through the model)\n',
    );
  });

  it('not a terminal: a phase shorter than the interval prints nothing', () => {
    const out: string[] = [];
    const c = clock();
    const p = new ProgressReporter({ tty: false, write: (s) => out.push(s), everySeconds: 10, now: c.now });
    for (let done = 0; done <= 6; done++) {
      c.advance(1);
      p.update({ phase: 'cache', done, total: 6, unit: 'photos' });
    }
    p.end();
    expect(out).toEqual([]);
  });

  it('a capped total gives an upper-bound ETA; a new phase starts its own rate', () => {
    const out: string[] = [];
    const c = clock();
    const p = new ProgressReporter({ tty: false, write: (s) => out.push(s), everySeconds: 5, now: c.now });
    p.update({ phase: 'cache', done: 0, total: 10, unit: 'photos' });
    c.advance(60);
    p.update({ phase: 'evaluation', done: 8, total: 2000, unit: 'candidates', cap: true });
    c.advance(6);
    p.update({ phase: 'evaluation', done: 20, total: 2000, unit: 'candidates', cap: true });
    c.advance(2);
    p.update({ phase: 'evaluation', done: 28, total: 2000, unit: 'candidates', cap: true });
    p.end(); // the search ended below its budget: its last state closes the phase
    expect(out).toEqual([
      'search: evaluation 20/2,000 candidates (1%), 2.0 candidates/s, ETA <= 16m30s\n',
      'search: evaluation 28/2,000 candidates (1%), 2.5 candidates/s, ETA <= 13m09s\n',
    ]);
  });

  it('a terminal: one line redrawn in place, cleared at the end', () => {
    const out: string[] = [];
    const c = clock();
    const p = new ProgressReporter({ tty: true, write: (s) => out.push(s), now: c.now });
    p.update({ phase: 'cache', done: 0, total: 4, unit: 'photos' });
    c.advance(1);
    p.update({ phase: 'cache', done: 2, total: 4, unit: 'photos' });
    p.end();
    expect(out[1]).toBe('\r[############------------] search: cache 2/4 photos (50%), 2.0 photos/s, ETA 1s\x1b[K');
    expect(out[out.length - 1]).toBe('\r\x1b[K');
  });

  it('formats durations', () => {
    expect([duration(12), duration(75), duration(4000), duration(-3)]).toEqual(['12s', '1m15s', '1h06m', '0s']);
  });
});
