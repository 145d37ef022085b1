// Python semantics the literal subset needs beyond parsing: arithmetic and concatenation with Python's int/float
// rules, and str() of scalars as f-strings print them. Used by py-literal.ts only.
import { parseError, refused, type Token } from './py-lexer';
import type { PyValue } from './py-literal';

/** Python's str() of a scalar, as an f-string prints it (1.0 stays "1.0", 1e-05 stays "1e-05"). */
export function pyStr(v: PyValue): string | undefined {
  switch (v.kind) {
    case 'str':
      return v.value;
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'num':
      return v.isFloat ? pyFloatRepr(v.value) : String(v.value);
    default:
      return undefined;
  }
}

function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace(/^-/, '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${whole}.${digits.slice(exp + 1) || '0'}`;
}

/** Charges `n` values built by an operator against the file's budget (throws past LIMITS.configValues). */
export type Spend = (n: number, at: Token) => void;

export function binary(op: Token, a: PyValue, b: PyValue, spend: Spend): PyValue {
  const loc = a.loc;
  if (a.kind === 'num' && b.kind === 'num') {
    const x = a.value,
      y = b.value;
    const bothInt = !a.isFloat && !b.isFloat;
    if (y === 0 && ['/', '//', '%'].includes(op.text)) throw parseError(op.loc, 'division by zero');
    switch (op.text) {
      case '+':
        return { kind: 'num', value: x + y, isFloat: !bothInt, loc };
      case '-':
        return { kind: 'num', value: x - y, isFloat: !bothInt, loc };
      case '*':
        return { kind: 'num', value: x * y, isFloat: !bothInt, loc };
      case '/':
        return { kind: 'num', value: x / y, isFloat: true, loc };
      case '//':
        return { kind: 'num', value: Math.floor(x / y), isFloat: !bothInt, loc };
      case '%':
        return { kind: 'num', value: x - y * Math.floor(x / y), isFloat: !bothInt, loc };
      case '**':
        return { kind: 'num', value: x ** y, isFloat: !bothInt || y < 0, loc };
    }
  }
  if (op.text === '+' && a.kind === 'str' && b.kind === 'str') {
    spend(a.value.length + b.value.length, op);
    return { kind: 'str', value: a.value + b.value, loc };
  }
  if (op.text === '+' && (a.kind === 'list' || a.kind === 'tuple') && b.kind === a.kind) {
    spend(a.items.length + b.items.length, op);
    return { kind: a.kind, items: [...a.items, ...b.items], loc };
  }
  if (op.text === '*') {
    const [seq, n] = a.kind === 'num' ? [b, a] : [a, b];
    if ((seq.kind === 'list' || seq.kind === 'tuple') && n.kind === 'num' && !n.isFloat) {
      const times = Math.max(0, n.value);
      spend(seq.items.length * times, op); // before anything is allocated: [0] * 10**9 stops here
      return { kind: seq.kind, items: Array.from({ length: times }, () => seq.items).flat(), loc };
    }
  }
  throw refused(op.loc, `operator ${op.text} between a ${a.kind} and a ${b.kind}`);
}
