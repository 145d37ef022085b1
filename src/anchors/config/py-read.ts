// Typed readers over parsed config values (PyValue from .py or .json files): each returns a plain number/list or
// throws E_CONFIG_PARSE naming file:line:col, the setting and what was found instead.
import { PrunedetError } from '../../errors';
import { formatLoc, type PyValue } from './py-literal';

export function typeError(v: PyValue, what: string, want: string): PrunedetError {
  return new PrunedetError(
    'E_CONFIG_PARSE',
    `${formatLoc(v.loc)}: ${what} must be ${want}, found ${shown(v)}`,
    `write ${what} as ${want}`,
  );
}

function shown(v: PyValue): string {
  switch (v.kind) {
    case 'num':
      return `the number ${v.value}`;
    case 'str':
      return `the string '${v.value.length > 30 ? `${v.value.slice(0, 30)}...` : v.value}'`;
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'list':
    case 'tuple':
      return `a ${v.kind} of ${v.items.length}`;
    case 'dict':
      return 'a dict';
  }
}

export function readNum(v: PyValue, what: string): number {
  if (v.kind !== 'num' || !Number.isFinite(v.value)) throw typeError(v, what, 'a number');
  return v.value;
}

export function readPositive(v: PyValue, what: string): number {
  const n = readNum(v, what);
  if (!(n > 0)) throw typeError(v, what, 'a positive number');
  return n;
}

export function readInt(v: PyValue, what: string): number {
  if (v.kind !== 'num' || v.isFloat || !Number.isInteger(v.value) || v.value < 0)
    throw typeError(v, what, 'a whole number >= 0');
  return v.value;
}

export function readBool(v: PyValue, what: string): boolean {
  if (v.kind !== 'bool') throw typeError(v, what, 'True or False');
  return v.value;
}

export function readStr(v: PyValue, what: string): string {
  if (v.kind !== 'str') throw typeError(v, what, 'a string');
  return v.value;
}

/** A list or tuple's items. */
export function readSeq(v: PyValue, what: string): PyValue[] {
  if (v.kind !== 'list' && v.kind !== 'tuple') throw typeError(v, what, 'a list or tuple');
  return v.items;
}

export function readNums(v: PyValue, what: string): number[] {
  return readSeq(v, what).map((x, i) => readNum(x, `${what}[${i}]`));
}

/** A 2-sequence of numbers, e.g. a (scale, ratio) pair or an (x, y) centre. */
export function readTwo(v: PyValue, what: string): [number, number] {
  const items = readSeq(v, what);
  if (items.length !== 2) throw typeError(v, what, 'a pair (a, b)');
  return [readNum(items[0]!, `${what}[0]`), readNum(items[1]!, `${what}[1]`)];
}

/** A stride: one number or (w, h). */
export function readStride(v: PyValue, what: string): number | [number, number] {
  return v.kind === 'num' ? readPositive(v, what) : readTwo(v, what);
}

/** Refuse keys a reader does not know (a misspelt `scale_ratio` must not be silently ignored). */
export function checkKeys(v: PyValue & { kind: 'dict' }, known: string[], what: string): void {
  for (const k of v.entries.keys()) {
    if (!known.includes(k)) {
      throw new PrunedetError(
        'E_CONFIG_PARSE',
        `${formatLoc(v.entries.get(k)!.loc)}: ${what} has no setting '${k}'`,
        `known settings: ${known.join(', ')}`,
      );
    }
  }
}
