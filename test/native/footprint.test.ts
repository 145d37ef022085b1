// The footprint measurement (src/native/footprint.ts): section sizes read from the ELF objects gcc (and
// arm-none-eabi-gcc, when installed) writes for a C file whose sizes are known, the deepest stack through a call chain
// of known frames, and the figures compile --emit c puts into report.json and the header.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deepestStack, elfSections, measureFootprint, FOOTPRINT_TARGETS } from '../../src/native/footprint';
import { hasGcc, tempDir, writeFiles } from '../_support/gcc';

const KNOWN = `
#include <stddef.h>
const float table[1000] = { 1.0f, 2.0f };
static int counter[100];
int seed = 7;
static __attribute__((noinline)) int leaf(int x) { volatile char buf[2000]; buf[x & 1023] = (char)x; return buf[(x + 1) & 1023]; }
static __attribute__((noinline)) int mid(int x) { volatile char buf[600]; buf[x & 511] = (char)leaf(x); return buf[3]; }
int entry(int x) { counter[x & 63] += mid(x) + seed; return counter[1] + (int)table[x & 511]; }
`;

describe.skipIf(!hasGcc)('footprint', () => {
  it('reads .text, .rodata, .data and .bss from the objects and the deepest stack from the call graph', async () => {
    const t = tempDir();
    try {
      writeFiles(t.dir, [{ name: 'known.c', text: KNOWN }]);
      const fp = await measureFootprint(t.dir, 'known.c', 'entry');
      expect(fp.map((f) => f.target)).toContain('host');
      for (const f of fp) {
        expect(f.rodataBytes, f.target).toBeGreaterThanOrEqual(4000);
        expect(f.rodataBytes, f.target).toBeLessThan(4200);
        expect(f.bssBytes, f.target).toBe(400);
        expect(f.dataBytes, f.target).toBe(4);
        expect(f.textBytes, f.target).toBeGreaterThan(20);
        expect(f.flashBytes).toBe(f.textBytes + f.rodataBytes + f.dataBytes);
        // entry -> mid (600 B) -> leaf (2000 B, less x86-64's 128 B red zone): the frames add up along the chain
        expect(f.stackBytes, f.target).toBeGreaterThanOrEqual(2400);
        expect(f.stackBytes, f.target).toBeLessThan(2900);
      }
    } finally {
      t.dispose();
    }
  });

  it('a missing compiler leaves its target out; a source that does not build is an error', async () => {
    const t = tempDir();
    try {
      writeFiles(t.dir, [{ name: 'bad.c', text: 'int f(void) { return nope; }\n' }]);
      const none = [{ target: 'nowhere', compiler: 'prunedet-no-such-cc', flags: [] }];
      expect(await measureFootprint(t.dir, 'bad.c', 'f', none)).toEqual([]);
      await expect(measureFootprint(t.dir, 'bad.c', 'f', [FOOTPRINT_TARGETS[0]!])).rejects.toThrow(/could not build/);
    } finally {
      t.dispose();
    }
  });
});

describe('footprint parsers', () => {
  it('deepestStack: the deepest chain; null for recursion or an unbounded frame', () => {
    const node = (t: string, n: number, kind = 'static') =>
      `node: { title: "${t}" label: "${t}\\nf.c:1:1\\n${n} bytes (${kind})" }`;
    const edge = (a: string, b: string) => `edge: { sourcename: "${a}" targetname: "${b}" label: "f.c:2:2" }`;
    const g = [node('run', 100), node('f.c:a', 10), node('f.c:b.avx2', 50), node('f.c:b.default', 40)];
    const vcg = [...g, edge('run', 'f.c:a'), edge('run', 'f.c:b'), edge('f.c:a', 'memcpy')].join('\n');
    expect(deepestStack(vcg, 'run')).toBe(150);
    expect(deepestStack(`${vcg}\n${edge('f.c:a', 'run')}`, 'run')).toBeNull();
    expect(deepestStack(vcg.replace('10 bytes (static)', '10 bytes (dynamic)'), 'run')).toBeNull();
    expect(deepestStack(vcg, 'absent')).toBeNull();
  });

  it('elfSections refuses what is not a little-endian ELF object', () => {
    expect(() => elfSections(new Uint8Array(64))).toThrow(/not an ELF/);
    const self = readFileSync(join(__dirname, 'footprint.test.ts'));
    expect(() => elfSections(self)).toThrow(/not an ELF/);
  });
});
