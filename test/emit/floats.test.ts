import { describe, expect, it } from 'vitest';
import { cFloat, cFloatOrInf } from '../../src/emit/c/floats';
import { bitsFloat, floatBits } from '../../src/postprocess/float32';
import { compile, hasGcc, O2_FLAGS, run, tempDir, writeFiles } from '../_support/gcc';
import { mulberry32 } from '../_support/prng';

/** Awkward floats: subnormals, the extremes, powers of two, values whose shortest decimal sits near a rounding edge. */
function sampleFloats(): number[] {
  const rand = mulberry32(3);
  const special = [
    0,
    -0,
    1,
    -1,
    0.1,
    0.05,
    0.02,
    1e-8,
    300,
    3.4028234663852886e38,
    1.1754943508222875e-38,
    1.401298464324817e-45,
    2 ** -126 - 2 ** -149,
    2 ** 24,
    2 ** 24 + 2,
    16777217,
    4.135166556742356,
    0.45,
  ];
  const out = special.map(Math.fround);
  for (let i = 0; i < 400; i++) {
    const bits = Math.floor(rand() * 0x7f800000) | (rand() < 0.5 ? 0x80000000 : 0);
    out.push(bitsFloat(bits));
  }
  for (let i = 0; i < 100; i++) out.push(Math.fround((rand() - 0.5) * 1000));
  return out;
}

describe('cFloat', () => {
  it('prints short, valid C float literals', () => {
    expect(cFloat(0)).toBe('0.0f');
    expect(cFloat(-0)).toBe('-0.0f');
    expect(cFloat(300)).toBe('300.0f');
    expect(cFloat(Math.fround(0.05))).toBe('0.05f');
    expect(cFloat(Math.fround(-2.5))).toBe('-2.5f');
    expect(cFloat(Math.fround(1e-8))).toBe('1e-8f');
    expect(cFloat(Math.fround(4.135166556742356))).toBe('4.1351666f');
    expect(cFloat(2 ** 24 + 2)).toBe('16777218.0f');
    expect(cFloatOrInf(Infinity)).toBe('INFINITY');
    expect(cFloatOrInf(-Infinity)).toBe('-INFINITY');
  });

  it('refuses NaN, infinities and values that are not float32', () => {
    expect(() => cFloat(NaN, 'anchor 3 value 1')).toThrow(
      /anchor 3 value 1 is NaN; emitted C tables hold finite floats only/,
    );
    expect(() => cFloat(Infinity)).toThrow(/finite floats only/);
    expect(() => cFloat(0.1)).toThrow(/not a float32 value/);
  });

  it('literals read back in JS as the same float', () => {
    for (const x of sampleFloats()) {
      const lit = cFloat(x);
      expect(Math.fround(Number(lit.slice(0, -1))), lit).toBe(x);
    }
  });

  it.skipIf(!hasGcc)('literals read back in C (gcc) as the same bits', () => {
    const xs = sampleFloats();
    const t = tempDir();
    try {
      const src = `#include <stdio.h>
#include <string.h>
static const float v[] = { ${xs.map((x) => cFloat(x)).join(', ')} };
int main(void) {
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; ++i) { unsigned int b; memcpy(&b, &v[i], 4); printf("%u\\n", b); }
    return 0;
}
`;
      writeFiles(t.dir, [{ name: 'f.c', text: src }]);
      const out = run(compile(t.dir, ['f.c'], 'f', O2_FLAGS), [])
        .trim()
        .split('\n')
        .map(Number);
      expect(out).toEqual(xs.map(floatBits));
    } finally {
      t.dispose();
    }
  });
});
