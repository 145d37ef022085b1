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

  indent(): this {
    this.depth++;
    return this;
  }

  dedent(): this {
    if (this.depth === 0) throw new Error('CodeWriter: dedent below zero');
    this.depth--;
    return this;
  }

  /** `head {` ... `}tail`, with the body indented (a bare `{` for an empty head: a scope of its own). */
  block(head: string, body: () => void, tail = ''): this {
    this.line(head === '' ? '{' : `${head} {`);
    this.indent();
    body();
    this.dedent();
    this.line(`}${tail}`);
    return this;
  }

  /** A `/* ... *\/` comment block, one ` * ` line per entry (entries may contain newlines). */
  comment(...texts: string[]): this {
    return this.commentBlock('/*', texts);
  }

  /** A `/** ... *\/` doc comment. */
  doc(...texts: string[]): this {
    return this.commentBlock('/**', texts);
  }

  /** The text on one line between `opener` and the closer, or `opener`, one ` * ` line per line of text, the closer. */
  private commentBlock(opener: string, texts: string[]): this {
    const body = texts.flatMap((t) => t.split('\n'));
    if (body.length === 1) return this.line(`${opener} ${body[0]} */`);
    this.line(opener);
    for (const l of body) this.line(l === '' ? ' *' : ` * ${l}`);
    return this.line(' */');
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}
