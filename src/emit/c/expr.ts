// Folded C expressions and loops for the emitters: uint32 arithmetic on constants is computed, `+ 0u`, `* 1u`, `/ 1u`
// and `% 1u` never reach the text, and a loop of one iteration is its body with the index a constant. Only exact
// rewrites (integer identities); float folds that could change a result stay with the caller, who knows the values.
import type { CodeWriter } from './writer';

/** The value of a uint32 literal such as `12u`, else undefined. */
function constU(e: string): number | undefined {
  const m = /^(\d+)u$/.exec(e);
  return m ? Number(m[1]) : undefined;
}

export const u = (n: number): string => `${n}u`;

export function addU(a: string, b: string): string {
  const [x, y] = [constU(a), constU(b)];
  if (x !== undefined && y !== undefined) return u(x + y);
  if (x === 0) return b;
  if (y === 0) return a;
  return `${a} + ${b}`;
}

/** a * b; a non-constant operand with an operator in it is parenthesised. */
export function mulU(a: string, b: string): string {
  const [x, y] = [constU(a), constU(b)];
  if (x !== undefined && y !== undefined) return u(x * y);
  if (x === 0 || y === 0) return '0u';
  if (x === 1) return b;
  if (y === 1) return a;
  const p = (e: string) => (/[ ]/.test(e) && !/^\(.*\)$/.test(e) ? `(${e})` : e);
  return `${p(a)} * ${p(b)}`;
}

export function divU(a: string, b: string): string {
  return constU(b) === 1 ? a : `${a} / ${b}`;
}

export function modU(a: string, b: string): string {
  return constU(b) === 1 ? '0u' : `${a} % ${b}`;
}

/** Whether `for (j = from; j < to; ...)` needs its index variable (more than one iteration). */
export function loopUsesIndex(from: number, to: number): boolean {
  return to - from > 1;
}

/** `for (j = from; j < to; ++j) stmt(j)` on one line: nothing for no iteration, stmt(from) for one. */
export function emitForLine(w: CodeWriter, j: string, from: number, to: number, stmt: (j: string) => string): void {
  if (to <= from) return;
  if (to - from === 1) w.line(stmt(u(from)));
  else w.line(`for (${j} = ${from}u; ${j} < ${to}u; ++${j}) ${stmt(j)}`);
}

/**
 * `for (j = from; j < to; ++j) { head(j); if (!(cond(j))) continue; body(j) }`, folded: for one iteration the body
 * runs under `if (cond)` in a scope of its own, with j the constant.
 */
export function emitFilterFor(
  w: CodeWriter,
  j: string,
  from: number,
  to: number,
  cond: (j: string) => string,
  body: (j: string) => void,
  head?: (j: string) => void,
  note = '',
): void {
  if (to <= from) return;
  if (to - from === 1) {
    const k = u(from);
    const test = () => w.block(`if (${cond(k)})${note}`, () => body(k));
    if (head) {
      w.block('', () => {
        head(k);
        test();
      });
    } else {
      test();
    }
    return;
  }
  w.block(`for (${j} = ${from}u; ${j} < ${to}u; ++${j})`, () => {
    head?.(j);
    w.line(`if (!(${cond(j)})) continue;${note}`);
    body(j);
  });
}
