// Parser and evaluator for the literal subset of Python in mmdetection config files: top-level `name = expr`, dict(),
// {}, lists, tuples, numbers, strings (f-strings with {name}), True/False/None, + - * / // % ** and earlier names.
// Anything else (calls, imports, attributes, lambdas, comprehensions) is an E_CONFIG_PARSE error; nothing is executed.
import { parseError, refused, tokenize, type PyLoc, type Token } from './py-lexer';
import { binary, pyStr } from './py-ops';
import { LIMITS } from '../../limits';

export { formatLoc, type PyLoc } from './py-lexer';

export type PyValue =
  | { kind: 'num'; value: number; isFloat: boolean; loc: PyLoc }
  | { kind: 'str'; value: string; loc: PyLoc }
  | { kind: 'bool'; value: boolean; loc: PyLoc }
  | { kind: 'none'; loc: PyLoc }
  | { kind: 'list' | 'tuple'; items: PyValue[]; loc: PyLoc }
  | { kind: 'dict'; entries: Map<string, PyValue>; loc: PyLoc };

export interface PyModule {
  file: string;
  /** Top-level assignments in order (later assignments replace earlier ones, as in Python). */
  vars: Map<string, PyValue>;
  /** The `_base_` entries (one string or a list of strings), recorded, not loaded. */
  bases: { path: string; loc: PyLoc }[];
}

const KEYWORDS = new Set([
  'lambda',
  'for',
  'if',
  'else',
  'import',
  'from',
  'def',
  'class',
  'not',
  'and',
  'or',
  'in',
  'is',
  'await',
  'yield',
  'with',
  'while',
  'return',
  'del',
  'global',
  'assert',
  'raise',
  'try',
  'async',
  'pass',
]);

/** Parse a config file's text into its assignments. `file` only labels messages. */
export function parsePyConfig(text: string, file: string): PyModule {
  const p = new Parser(tokenize(text, file));
  const mod: PyModule = { file, vars: new Map(), bases: [] };
  while (p.peek().kind !== 'eof') p.statement(mod);
  return mod;
}

/**
 * Parse one expression spanning the whole text (a JSON document is one: pass `jsonNames` to read true/false/null).
 */
export function parsePyExpression(text: string, file: string, opts: { jsonNames?: boolean } = {}): PyValue {
  const p = new Parser(tokenize(text, file), opts.jsonNames);
  const v = p.expr();
  while (p.peek().kind === 'newline') p.next();
  const t = p.peek();
  if (t.kind !== 'eof') throw parseError(t.loc, `unexpected ${describe(t)} after the value`);
  return v;
}

/** The value as plain JS (numbers, strings, booleans, null, arrays, objects), for code that needs no locations. */
export function toPlain(v: PyValue): unknown {
  switch (v.kind) {
    case 'num':
    case 'str':
    case 'bool':
      return v.value;
    case 'none':
      return null;
    case 'list':
    case 'tuple':
      return v.items.map(toPlain);
    case 'dict':
      return Object.fromEntries([...v.entries].map(([k, x]) => [k, toPlain(x)]));
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  if (t.kind === 'newline') return 'end of line';
  return `'${t.text.length > 30 ? `${t.text.slice(0, 30)}...` : t.text}'`;
}

class Parser {
  private pos = 0;
  private names = new Map<string, PyValue>();
  /** Nesting of factor() (brackets, unary signs, ** chains), bounded by LIMITS.configDepth. */
  private depth = 0;
  /** Values operators may still build (LIMITS.configValues per file). */
  private budget: number = LIMITS.configValues;
  /** Nodes and depth of each container value built so far (names can nest values deeper than any one expression). */
  private readonly meta = new WeakMap<PyValue, { size: number; depth: number }>();

  /** Record a container's size and depth; refuse one nested deeper than LIMITS.configDepth. */
  private note(v: PyValue): PyValue {
    const items = v.kind === 'list' || v.kind === 'tuple' ? v.items : v.kind === 'dict' ? [...v.entries.values()] : [];
    let size = 1,
      depth = 1;
    for (const x of items) {
      const m = this.meta.get(x);
      size += m?.size ?? 1;
      depth = Math.max(depth, (m?.depth ?? 1) + 1);
    }
    if (depth > LIMITS.configDepth) {
      throw parseError(
        v.loc,
        `value nested deeper than ${LIMITS.configDepth} levels`,
        'anchor configs nest a few levels; write the value out flat',
      );
    }
    this.meta.set(v, { size, depth });
    return v;
  }

  private readonly spend = (n: number, at: Token): void => {
    this.budget -= n;
    if (!(this.budget >= 0)) {
      throw parseError(
        at.loc,
        `this expression builds ${Number.isFinite(n) ? n.toLocaleString('en-US') : 'unboundedly many'} values, taking the config past the ${LIMITS.configValues.toLocaleString('en-US')} values it may build`,
        'anchor configs hold a few hundred values; write the value out literally',
      );
    }
  };

  constructor(
    private readonly toks: Token[],
    private readonly jsonNames = false,
  ) {}

  peek(k = 0): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)]!;
  }

  next(): Token {
    return this.toks[this.pos++]!;
  }

  private isOp(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'op' && t.text === text;
  }

  statement(mod: PyModule): void {
    const t = this.peek();
    if (t.kind === 'newline') return void this.next();
    if (t.kind === 'indent') throw parseError(t.loc, 'unexpected indent (only top-level assignments are read)');
    if (t.kind === 'name' && (t.text === 'import' || t.text === 'from')) throw refused(t.loc, `${t.text} statement`);
    if (t.kind === 'string' && (this.peek(1).kind === 'newline' || this.peek(1).kind === 'eof')) {
      this.next(); // a docstring
      return;
    }
    if (t.kind !== 'name' || KEYWORDS.has(t.text) || !this.isOp('=', 1)) {
      if (t.kind === 'name' && KEYWORDS.has(t.text)) throw refused(t.loc, `'${t.text}' statement`);
      const after = this.peek(1);
      if (t.kind === 'name' && after.kind === 'op' && /^[+\-*/]=$/.test(after.text))
        throw refused(after.loc, `augmented assignment ${t.text} ${after.text}`);
      throw parseError(t.loc, `expected an assignment 'name = value', found ${describe(t)}`);
    }
    this.next();
    this.next();
    const value = this.expr();
    if (this.isOp('=')) throw refused(this.peek().loc, `chained assignment to ${t.text}`);
    if (this.isOp(',')) throw parseError(this.peek().loc, `unparenthesized tuple assigned to ${t.text}; write (a, b)`);
    const end = this.next();
    if (end.kind !== 'newline' && end.kind !== 'eof')
      throw parseError(end.loc, `unexpected ${describe(end)} after the value of ${t.text}`);
    this.names.set(t.text, value);
    if (t.text === '_base_') {
      const list = value.kind === 'list' || value.kind === 'tuple' ? value.items : [value];
      mod.bases = list.map((b) => {
        if (b.kind !== 'str')
          throw parseError(b.loc, '_base_ entries must be file names (strings)', "write _base_ = ['../base.py']");
        return { path: b.value, loc: b.loc };
      });
      return;
    }
    mod.vars.set(t.text, value);
  }

  expr(): PyValue {
    let left = this.term();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next();
      left = this.note(binary(op, left, this.term(), this.spend));
    }
    const t = this.peek();
    if (t.kind === 'name' && KEYWORDS.has(t.text)) {
      throw refused(
        t.loc,
        t.text === 'for' ? 'comprehension' : t.text === 'if' ? 'conditional expression' : `'${t.text}' expression`,
      );
    }
    if (t.kind === 'op' && ['==', '!=', '<', '>', '<=', '>=', '&', '|', '^', '@', ':='].includes(t.text))
      throw refused(t.loc, `operator ${t.text}`);
    return left;
  }

  private term(): PyValue {
    let left = this.factor();
    while (['*', '/', '//', '%'].some((o) => this.isOp(o))) {
      const op = this.next();
      left = this.note(binary(op, left, this.factor(), this.spend));
    }
    return left;
  }

  private factor(): PyValue {
    if (++this.depth > LIMITS.configDepth) {
      throw parseError(
        this.peek().loc,
        `expression nested deeper than ${LIMITS.configDepth} levels`,
        'anchor configs nest a few levels; write the value out flat',
      );
    }
    try {
      return this.factorInner();
    } finally {
      this.depth--;
    }
  }

  private factorInner(): PyValue {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.next();
      const v = this.factor();
      if (v.kind !== 'num') throw parseError(op.loc, `unary ${op.text} on a ${v.kind}`);
      return { ...v, value: op.text === '-' ? -v.value : v.value, loc: op.loc };
    }
    if (this.isOp('~')) throw refused(this.peek().loc, 'operator ~');
    const base = this.atom();
    if (this.isOp('**')) {
      const op = this.next();
      return this.note(binary(op, base, this.factor(), this.spend));
    }
    return base;
  }

  private atom(): PyValue {
    const v = this.primary();
    const t = this.peek();
    if (t.kind === 'op' && t.text === '.') throw refused(t.loc, `attribute access .${this.peek(1).text}`);
    if (t.kind === 'op' && t.text === '[') throw refused(t.loc, 'subscript [...]');
    if (t.kind === 'op' && t.text === '(') throw refused(t.loc, 'call of a value');
    return v;
  }

  private primary(): PyValue {
    const t = this.next();
    const loc = t.loc;
    if (t.kind === 'number') return { kind: 'num', value: t.num!, isFloat: t.isFloat!, loc };
    if (t.kind === 'string') {
      let s = this.stringValue(t);
      while (this.peek().kind === 'string') s += this.stringValue(this.next());
      return { kind: 'str', value: s, loc };
    }
    if (t.kind === 'op' && t.text === '(') return this.sequence(')', loc, true);
    if (t.kind === 'op' && t.text === '[') return this.sequence(']', loc, false);
    if (t.kind === 'op' && t.text === '{') return this.braces(loc);
    if (t.kind !== 'name') throw parseError(loc, `unexpected ${describe(t)}`);
    const literal: Record<string, PyValue> = this.jsonNames
      ? {
          true: { kind: 'bool', value: true, loc },
          false: { kind: 'bool', value: false, loc },
          null: { kind: 'none', loc },
        }
      : {
          True: { kind: 'bool', value: true, loc },
          False: { kind: 'bool', value: false, loc },
          None: { kind: 'none', loc },
        };
    if (literal[t.text]) return literal[t.text]!;
    if (KEYWORDS.has(t.text)) throw refused(loc, t.text === 'lambda' ? 'lambda' : `'${t.text}' expression`);
    if (this.isOp('(')) {
      if (t.text !== 'dict' || this.names.has('dict')) throw refused(loc, `call to ${t.text}()`);
      this.next();
      return this.dictCall(loc);
    }
    const v = this.names.get(t.text);
    if (!v)
      throw parseError(
        loc,
        `name ${t.text} is not assigned above this line`,
        'assign it earlier in the same file (names from _base_ files are not visible)',
      );
    this.spend(this.meta.get(v)?.size ?? 1, t); // a reference copies the whole value into the new one
    return v;
  }

  private stringValue(t: Token): string {
    if (!t.fstring) return t.str!;
    const s = this.fstring(t);
    this.spend(s.length, t);
    return s;
  }

  private fstring(t: Token): string {
    return t.str!.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (m, inner: string | undefined) => {
      if (m === '{{') return '{';
      if (m === '}}') return '}';
      const name = inner?.trim() ?? '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw refused(t.loc, `f-string field {${inner ?? ''}} (only {name} of an assigned name)`);
      const v = this.names.get(name);
      if (!v) throw parseError(t.loc, `f-string uses ${name}, which is not assigned above this line`);
      const s = pyStr(v);
      if (s === undefined)
        throw parseError(t.loc, `f-string field {${name}} holds a ${v.kind}, not a string or number`);
      return s;
    });
  }

  /** After '(' or '[': items up to `close`; `()` and `(x,)` are tuples, `(x)` is x. */
  private sequence(close: string, loc: PyLoc, paren: boolean): PyValue {
    this.refuseComprehension();
    const items: PyValue[] = [];
    let comma = false;
    while (!this.isOp(close)) {
      items.push(this.expr());
      if (this.isOp(',')) {
        this.next();
        comma = true;
      } else if (!this.isOp(close)) {
        const t = this.peek();
        throw t.kind === 'name' && t.text === 'for'
          ? refused(t.loc, 'comprehension')
          : parseError(t.loc, `expected ',' or '${close}', found ${describe(t)}`);
      }
    }
    this.next();
    if (paren && items.length === 1 && !comma) return items[0]!;
    return this.note({ kind: paren ? 'tuple' : 'list', items, loc });
  }

  private braces(loc: PyLoc): PyValue {
    this.refuseComprehension();
    const entries = new Map<string, PyValue>();
    while (!this.isOp('}')) {
      if (this.isOp('**')) {
        this.next();
        this.spread(entries, this.expr());
      } else {
        const key = this.expr();
        if (!this.isOp(':'))
          throw this.isOp(',') || this.isOp('}')
            ? refused(this.peek().loc, 'set literal')
            : parseError(this.peek().loc, `expected ':' after a dict key, found ${describe(this.peek())}`);
        this.next();
        if (key.kind !== 'str') throw refused(key.loc, `dict key of type ${key.kind} (only string keys)`);
        entries.set(key.value, this.expr());
      }
      if (this.isOp(',')) this.next();
      else if (!this.isOp('}'))
        throw parseError(this.peek().loc, `expected ',' or '}', found ${describe(this.peek())}`);
    }
    this.next();
    return this.note({ kind: 'dict', entries, loc });
  }

  private dictCall(loc: PyLoc): PyValue {
    const entries = new Map<string, PyValue>();
    while (!this.isOp(')')) {
      if (this.isOp('**')) {
        this.next();
        this.spread(entries, this.expr());
      } else {
        const k = this.next();
        if (k.kind !== 'name' || !this.isOp('='))
          throw parseError(k.loc, 'dict() takes only keyword arguments key=value here');
        this.next();
        if (entries.has(k.text)) throw parseError(k.loc, `dict() repeats keyword ${k.text}`);
        entries.set(k.text, this.expr());
      }
      if (this.isOp(',')) this.next();
      else if (!this.isOp(')'))
        throw parseError(this.peek().loc, `expected ',' or ')', found ${describe(this.peek())}`);
    }
    this.next();
    return this.note({ kind: 'dict', entries, loc });
  }

  /** `[x for x in y]` would otherwise fail on the unknown name x; name the real problem instead. */
  private refuseComprehension(): void {
    let depth = 0;
    for (let k = 0; ; k++) {
      const t = this.peek(k);
      if (t.kind === 'eof') return;
      if (t.kind === 'op' && '([{'.includes(t.text)) depth++;
      if (t.kind === 'op' && ')]}'.includes(t.text) && --depth < 0) return;
      if (depth === 0 && t.kind === 'name' && t.text === 'for') throw refused(t.loc, 'comprehension');
    }
  }

  private spread(entries: Map<string, PyValue>, v: PyValue): void {
    if (v.kind !== 'dict') throw refused(v.loc, `** unpacking of a ${v.kind}`);
    for (const [k, x] of v.entries) entries.set(k, x);
  }
}
