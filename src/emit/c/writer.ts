// CodeWriter: lines, indentation and braces for generated C. It knows nothing about post-processing; the emitters
// (header.ts, source.ts, ...) decide what to write.

export class CodeWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  constructor(private readonly indentUnit = '    ') {}

  /** One line at the current indentation (an empty string gives an empty line, never trailing spaces). */
  line(text = ''): this {
    this.lines.push(text === '' ? '' : this.indentUnit.repeat(this.depth) + text);
    return this;
  }

  /** Several lines; a multi-line string is split on newlines. */
  text(...texts: string[]): this {
    for (const t of texts) for (const l of t.split('\n')) this.line(l);
    return this;
  }

  indent(): this {
    this.depth++;
    return this;
  }

  dedent(): this {
    if (this.depth === 0) throw new Error('CodeWriter: dedent below zero');
    this.depth--;
    return this;
  }

  /** `head {` ... `}tail`, with the body indented. */
  block(head: string, body: () => void, tail = ''): this {
    this.line(`${head} {`);
    this.indent();
    body();
    this.dedent();
    this.line(`}${tail}`);
    return this;
  }

  /** A `/* ... *\/` comment block, one ` * ` line per entry (entries may contain newlines). */
  comment(...texts: string[]): this {
    const body = texts.flatMap((t) => t.split('\n'));
    if (body.length === 1) return this.line(`/* ${body[0]} */`);
    this.line('/*');
    for (const l of body) this.line(l === '' ? ' *' : ` * ${l}`);
    return this.line(' */');
  }

  /** A `/** ... *\/` doc comment. */
  doc(...texts: string[]): this {
    const body = texts.flatMap((t) => t.split('\n'));
    if (body.length === 1) return this.line(`/** ${body[0]} */`);
    this.line('/**');
    for (const l of body) this.line(l === '' ? ' *' : ` * ${l}`);
    return this.line(' */');
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
