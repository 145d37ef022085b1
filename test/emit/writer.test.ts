import { describe, expect, it } from 'vitest';
import { CodeWriter } from '../../src/emit/c/writer';

describe('CodeWriter', () => {
  it('indents blocks, writes comments and never leaves trailing spaces', () => {
    const w = new CodeWriter();
    w.comment('one line');
    w.doc('first', '', 'third');
    w.block('int f(void)', () => {
      w.line('int x = 0;');
      w.line();
      w.block('if (x)', () => w.line('return 1;'));
      w.line('return x;');
    });
    w.block('typedef struct', () => w.line('int a;'), ' s_t;');
    expect(w.toString()).toBe(
      [
        '/* one line */',
        '/**',
        ' * first',
        ' *',
        ' * third',
        ' */',
        'int f(void) {',
        '    int x = 0;',
        '',
        '    if (x) {',
        '        return 1;',
        '    }',
        '    return x;',
        '}',
        'typedef struct {',
        '    int a;',
        '} s_t;',
        '',
      ].join('\n'),
    );
    expect(() => new CodeWriter().dedent()).toThrow(/dedent below zero/);
  });
});
