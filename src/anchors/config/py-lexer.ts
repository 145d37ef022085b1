// Tokenizer for the literal subset of Python that mmdetection config files use: names, numbers, strings (all quote
// styles, r/u/f prefixes), operators, comments, line joining inside brackets and after a backslash. It never runs code.
import { PrunedetError } from '../../errors';
import { LIMITS } from '../../limits';

export interface PyLoc {
  file: string;
  line: number;
  col: number;
}

export type TokenKind = 'name' | 'number' | 'string' | 'op' | 'newline' | 'indent' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  loc: PyLoc;
  /** number: its value and whether Python would make it a float. */
  num?: number;
  isFloat?: boolean;
  /** string: decoded contents; fstring when it had an f prefix (contents are then the raw template). */
  str?: string;
  fstring?: boolean;
}

/** `file:line:col`, the way every config message names a place. */
export function formatLoc(loc: PyLoc): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

const SUBSET_HINT =
  'prunedet reads only literal assignments (numbers, strings, lists, tuples, dicts, dict(...)) and never runs Python; write the value out literally';

export function parseError(loc: PyLoc, what: string, hint = SUBSET_HINT): PrunedetError {
  return new PrunedetError('E_CONFIG_PARSE', `${formatLoc(loc)}: ${what}`, hint);
}

/** A Python construct outside the subset: `cfg.py:2:5: call to range() is refused`. */
export function refused(loc: PyLoc, construct: string): PrunedetError {
  return parseError(loc, `${construct} is refused`);
}

const OPS = [
  '**',
  '//',
  '->',
  '==',
  '!=',
  '<=',
  '>=',
  ':=',
  '+=',
  '-=',
  '*=',
  '/=',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '.',
  ';',
  '@',
  '<',
  '>',
  '&',
  '|',
  '^',
  '~',
];
const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

export function tokenize(text: string, file: string): Token[] {
  const toks: Token[] = [];
  let i = 0,
    line = 1,
    lineStart = 0,
    depth = 0;
  let atLineStart = true;
  const loc = (at = i): PyLoc => ({ file, line, col: at - lineStart + 1 });
  const newline = () => {
    line++;
    lineStart = i;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (depth === 0 && !atLineStart) toks.push({ kind: 'newline', text: '\n', loc: loc() });
      i++;
      newline();
      atLineStart = depth === 0;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\f') {
      if (atLineStart && depth === 0) {
        let j = i;
        while (j < text.length && ' \t\f'.includes(text[j]!)) j++;
        if (
          j < text.length &&
          !'\r\n#'.includes(text[j]!) &&
          !(text[j] === '\\' && '\r\n'.includes(text[j + 1] ?? ''))
        ) {
          toks.push({ kind: 'indent', text: text.slice(i, j), loc: loc(j) }); // the parser refuses it where it stands
        }
        i = j;
        continue;
      }
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (c === '\\') {
      const n = text[i + 1];
      if (n === '\n' || n === '\r') {
        i += n === '\r' && text[i + 2] === '\n' ? 3 : 2;
        newline();
        continue;
      }
      throw parseError(loc(), 'stray backslash');
    }
    atLineStart = false;
    const start = loc();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 256))?.[0];
    if (word !== undefined) {
      const q = text[i + word.length];
      if ((q === "'" || q === '"') && /^(r|u|f|b|rb|br|fr|rf)$/i.test(word)) {
        if (/b/i.test(word)) throw refused(start, `bytes literal ${word}${q}...${q}`);
        i += word.length;
        toks.push(readString(/r/i.test(word), /f/i.test(word), start));
        continue;
      }
      toks.push({ kind: 'name', text: word, loc: start });
      i += word.length;
      continue;
    }
    if (c === "'" || c === '"') {
      toks.push(readString(false, false, start));
      continue;
    }
    const num =
      /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?/.exec(
        text.slice(i, i + 64),
      )?.[0];
    if (num !== undefined && /^\.?\d/.test(text.slice(i, i + 2))) {
      if (/[jJ]$/.test(num)) throw refused(start, `complex number ${num}`);
      const clean = num.replace(/_/g, '');
      const isFloat = !/^0[xXoObB]/.test(clean) && /[.eE]/.test(clean);
      const value = /^0[oO]/.test(clean)
        ? parseInt(clean.slice(2), 8)
        : /^0[bB]/.test(clean)
          ? parseInt(clean.slice(2), 2)
          : Number(clean);
      if (Number.isNaN(value)) throw parseError(start, `malformed number ${num}`);
      toks.push({ kind: 'number', text: num, loc: start, num: value, isFloat });
      i += num.length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw parseError(start, `unexpected character ${JSON.stringify(c)}`);
    if ('([{'.includes(op) && ++depth > LIMITS.configDepth)
      throw parseError(
        start,
        `brackets nested deeper than ${LIMITS.configDepth} levels`,
        'anchor configs nest a few levels; write the value out flat',
      );
    if (')]}'.includes(op)) depth = Math.max(0, depth - 1);
    toks.push({ kind: 'op', text: op, loc: start });
    i += op.length;
  }
  if (!atLineStart && depth === 0) toks.push({ kind: 'newline', text: '\n', loc: loc() });
  if (depth > 0) throw parseError(loc(), 'file ends inside an open bracket', 'close every (, [ and {');
  toks.push({ kind: 'eof', text: '', loc: loc() });
  return toks;

  function readString(raw: boolean, fstring: boolean, start: PyLoc): Token {
    const q = text[i]!;
    const triple = text.startsWith(q.repeat(3), i);
    const close = triple ? q.repeat(3) : q;
    const from = i;
    i += close.length;
    let out = '';
    for (;;) {
      if (i >= text.length) throw parseError(start, 'string never closed', `close the string with ${close}`);
      const ch = text[i]!;
      if (text.startsWith(close, i)) {
        i += close.length;
        break;
      }
      if (ch === '\n' || ch === '\r') {
        if (!triple) throw parseError(start, 'string runs past the end of its line', `close the string with ${close}`);
        out += '\n';
        i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
        newline();
        continue;
      }
      if (ch === '\\' && !raw) {
        const n = text[i + 1] ?? '';
        if (n === '\n' || n === '\r') {
          i += n === '\r' && text[i + 2] === '\n' ? 3 : 2;
          newline();
          continue;
        }
        const hex = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
        if (hex) {
          const digits = text.slice(i + 2, i + 2 + hex);
          if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== hex)
            throw parseError(loc(), `bad escape \\${n}${digits}`);
          out += String.fromCodePoint(parseInt(digits, 16));
          i += 2 + hex;
          continue;
        }
        out += ESCAPES[n] ?? `\\${n}`;
        i += 2;
        continue;
      }
      if (ch === '\\' && raw && i + 1 < text.length) {
        out += ch + text[i + 1];
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    return { kind: 'string', text: text.slice(from, i), loc: start, str: out, fstring };
  }
}
