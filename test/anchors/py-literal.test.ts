// The Python-literal subset: what it reads (values, f-strings, arithmetic, _base_ and its merge) and what it refuses,
// with the file:line:col of the refusal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PrunedetError } from '../../src/errors';
import { loadPyConfig } from '../../src/anchors/config/py-config';
import { parsePyConfig, parsePyExpression, toPlain } from '../../src/anchors/config/py-literal';

function vars(text: string): Record<string, unknown> {
  return Object.fromEntries([...parsePyConfig(text, 'x.py').vars].map(([k, v]) => [k, toPlain(v)]));
}

function parseFails(text: string): PrunedetError {
  try {
    parsePyConfig(text, 'cfg.py');
  } catch (e) {
    expect(e).toBeInstanceOf(PrunedetError);
    expect((e as PrunedetError).code).toBe('E_CONFIG_PARSE');
    return e as PrunedetError;
  }
  throw new Error(`expected a parse error for: ${text}`);
}

describe('values', () => {
  it('numbers, strings, constants, containers', () => {
    expect(
      vars(`a = 1\nb = -2.5\nc = 1e-3\nd = .5\ne = 1_000\nf = 0x10\ns = 'x'\nt = "y"\nu = True\nv = False\nw = None\n`),
    ).toEqual({ a: 1, b: -2.5, c: 0.001, d: 0.5, e: 1000, f: 16, s: 'x', t: 'y', u: true, v: false, w: null });
    expect(
      vars(`a = ()\nb = (1,)\nc = (1)\nd = [1, 2,]\ne = {'k': (1, 2), "j": []}\nf = dict(x=1, y=dict(z=[]),)\n`),
    ).toEqual({ a: [], b: [1], c: 1, d: [1, 2], e: { k: [1, 2], j: [] }, f: { x: 1, y: { z: [] } } });
  });

  it('tuples stay tuples, one-element parentheses do not', () => {
    const m = parsePyConfig('a = (1,)\nb = (1)\nc = ()\n', 'x.py');
    expect(m.vars.get('a')!.kind).toBe('tuple');
    expect(m.vars.get('b')!.kind).toBe('num');
    expect(m.vars.get('c')!.kind).toBe('tuple');
  });

  it('arithmetic on numbers, names of earlier assignments, string and list concatenation', () => {
    expect(vars('a = 1 / 3\nb = 2 ** -1\nc = -2 ** 2\nd = 7 // 2\ne = -7 % 3\nf = (1 + 2) * 3\ng = a * 3\n')).toEqual({
      a: 1 / 3,
      b: 0.5,
      c: -4,
      d: 3,
      e: 2,
      f: 9,
      g: 1,
    });
    expect(vars("root = 'data/'\np = root + 'x.json'\nl = [1] + [2]\nr = [0] * 3\n")).toEqual({
      root: 'data/',
      p: 'data/x.json',
      l: [1, 2],
      r: [0, 0, 0],
    });
  });

  it('strings: triple quotes, escapes, raw, implicit concatenation, docstrings', () => {
    expect(
      vars(`"""module doc"""\na = '''one\ntwo'''\nb = 'tab\\tq\\'x'\nc = r'\\d+'\nd = ('ab'\n     "cd")\n`),
    ).toEqual({ a: 'one\ntwo', b: "tab\tq'x", c: '\\d+', d: 'abcd' });
  });

  it('f-strings interpolate earlier names the way Python prints them', () => {
    expect(vars("root = '/m'\nn = 3\nx = 1.0\ny = 1e-05\np = f'{root}/ssd/{n}_{x}_{y}{{}}'\n")).toMatchObject({
      p: '/m/ssd/3_1.0_1e-05{}',
    });
  });

  it('comments, blank lines, line continuations and ** unpacking in dicts', () => {
    expect(
      vars("# top\n\nnorm = dict(mean=[1], std=[2])  # trailing\nx = 1 + \\\n    2\nt = dict(type='N', **norm)\n"),
    ).toEqual({ norm: { mean: [1], std: [2] }, x: 3, t: { type: 'N', mean: [1], std: [2] } });
  });

  it('records _base_ without loading it', () => {
    const m = parsePyConfig("_base_ = ['../a.py', './b.py']\nx = 1\n", 'x.py');
    expect(m.bases.map((b) => b.path)).toEqual(['../a.py', './b.py']);
    expect(m.vars.has('_base_')).toBe(false);
  });

  it('reads JSON as one expression', () => {
    expect(
      toPlain(parsePyExpression('{"a": [1, 2.5, true, null], "b": {"c": "d"}}', 'x.json', { jsonNames: true })),
    ).toEqual({ a: [1, 2.5, true, null], b: { c: 'd' } });
  });
});

describe('refusals name file:line:col and what was found', () => {
  it.each([
    ['import os\n', /cfg\.py:1:1: import statement/],
    ['x = 1\ny = range(3)\n', /cfg\.py:2:5: call to range\(\)/],
    ['x = dict(a=1)\ny = x.a\n', /cfg\.py:2:6: attribute access \.a/],
    ['f = lambda x: x\n', /cfg\.py:1:5: lambda/],
    ['x = [i for i in (1, 2)]\n', /cfg\.py:1:8: comprehension/],
    ['x = {k: 1 for k in ()}\n', /cfg\.py:1:11: comprehension/],
    ['x = y\n', /cfg\.py:1:5: name y is not assigned above this line/],
    ['x = 1 if 2 else 3\n', /cfg\.py:1:7: conditional expression/],
    ['x = [1, 2][0]\n', /cfg\.py:1:11: subscript/],
    ['if True:\n    x = 1\n', /cfg\.py:1:1: 'if' statement/],
    ['x = 1\n  y = 2\n', /cfg\.py:2:3: unexpected indent/],
    ['x = (1,\n', /file ends inside an open bracket/],
    ["x = 'abc\n", /cfg\.py:1:5: string runs past the end of its line/],
    ["x = f'{a.b}'\n", /f-string field \{a\.b\}/],
    ['x = 1 / 0\n', /cfg\.py:1:7: division by zero/],
    ["x = 'a' + 1\n", /operator \+ between a str and a num/],
    ['x += 1\n', /augmented assignment/],
    ['x = {1, 2}\n', /set literal/],
  ])('%j', (text, re) => {
    expect(parseFails(text).message).toMatch(re);
  });

  it('prints one line with the fix', () => {
    expect(parseFails('x = 1\ny = range(3)\n').oneLine()).toBe(
      'prunedet: cfg.py:2:5: call to range() is refused; prunedet reads only literal assignments (numbers, strings, lists, tuples, dicts, dict(...)) and never runs Python; write the value out literally',
    );
  });
});

describe('_base_ inheritance (only with baseDir)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prunedet-py-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'base.py'),
    "model = dict(head=dict(gen=dict(type='A', strides=[8, 16], extra=1)), other=dict(k=1))\nlr = 0.1\n",
  );
  writeFileSync(join(dir, 'child.py'), "_base_ = ['./base.py']\nmodel = dict(head=dict(gen=dict(strides=[32])))\n");
  writeFileSync(
    join(dir, 'del.py'),
    "_base_ = './base.py'\nmodel = dict(head=dict(gen=dict(_delete_=True, type='B')))\n",
  );
  writeFileSync(join(dir, 'bad.py'), "_base_ = ['./base.py']\nmodel = dict(other=dict(k=dict(x=1)))\n");
  writeFileSync(join(dir, 'missing.py'), "_base_ = ['./nope.py']\nx = 1\n");
  writeFileSync(join(dir, 'loop.py'), "_base_ = ['./loop.py']\n");
  const plain = (f: string) =>
    Object.fromEntries([...loadPyConfig(join(dir, f), { baseDir: dir }).vars].map(([k, v]) => [k, toPlain(v)]));

  it('merges dicts key by key; other values replace', () => {
    expect(plain('child.py')).toEqual({
      model: { head: { gen: { type: 'A', strides: [32], extra: 1 } }, other: { k: 1 } },
      lr: 0.1,
    });
  });
  it('_delete_=True replaces the whole dict', () => {
    expect(plain('del.py')).toEqual({ model: { head: { gen: { type: 'B' } }, other: { k: 1 } }, lr: 0.1 });
  });
  it('without baseDir nothing is loaded', () => {
    expect(Object.fromEntries([...loadPyConfig(join(dir, 'child.py')).vars].map(([k, v]) => [k, toPlain(v)]))).toEqual({
      model: { head: { gen: { strides: [32] } } },
    });
  });
  it('errors: dict over a non-dict, missing base, circular base', () => {
    expect(() => plain('bad.py')).toThrow(/bad\.py:2:\d+: model\.other\.k is a dict here but a num in the _base_ file/);
    expect(() => plain('missing.py')).toThrow(/missing\.py:1:11: _base_ file \.\/nope\.py not found/);
    expect(() => plain('loop.py')).toThrow(/includes itself/);
  });
});
