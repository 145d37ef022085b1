// pd_expf: the emitted C exp and the reference's expF must agree bit for bit (so the module does not depend on the
// target's libm), and stay within the accuracy the prefilter bounds assume.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expF, floatBits, bitsFloat, nextUpF } from '../../src/postprocess/float32';
import { emitPostprocessC } from '../../src/emit/c/index';
import { makePlan } from './fixtures';
import { compile, hasGcc, O2_FLAGS, run, tempDir } from '../_support/gcc';
import { mulberry32 } from '../_support/prng';

/** Values covering the whole range, the cut-offs, specials and random floats. */
function probes(): Float32Array {
  const r = mulberry32(17);
  const v: number[] = [
    0,
    -0,
    1,
    -1,
    0.5,
    88.72283935546875,
    88.7228,
    -87.33654,
    -87.3366,
    -104,
    89,
    1e-8,
    -1e-8,
    Infinity,
    -Infinity,
    NaN,
  ];
  for (let x = -90; x <= 90; x += 0.37) v.push(Math.fround(x));
  for (let i = 0; i < 20000; i++) v.push(Math.fround((r() * 2 - 1) * 95));
  for (let i = 0; i < 2000; i++) v.push(bitsFloat(Math.floor(r() * 0xffffffff)));
  return Float32Array.from(v);
}

describe('expF (the reference exp)', () => {
  it('is within 1.2 ulp of the true exp over the normal range', () => {
    let worst = 0;
    for (let bits = 0; bits < 0x100000000; bits += 7919 * 4) {
      const x = bitsFloat(bits);
      if (!(x >= -87.3 && x <= 88.7)) continue;
      const e = Math.exp(x);
      const ulp = nextUpF(Math.fround(e)) - Math.fround(e);
      worst = Math.max(worst, Math.abs(expF(x) - e) / ulp);
    }
    expect(worst).toBeLessThan(1.2);
    expect(expF(0)).toBe(1);
    expect(expF(-Infinity)).toBe(0);
    expect(expF(Infinity)).toBe(Infinity);
    expect(expF(NaN)).toBeNaN();
  });
});

describe.skipIf(!hasGcc)('pd_expf and pd_expf_neg in the emitted C', () => {
  it('pd_expf equals expF bit for bit; pd_expf_neg equals it on x <= 0 and -Inf, also vectorized (-O2, and -march=native)', () => {
    const { files } = emitPostprocessC(
      makePlan({ spec: 'mmdet-ssd300', levels: [{ h: 2, w: 2, a: 1, stride: 8 }], numClasses: 5 }),
    );
    const src = files.find((f) => f.name === 'postprocess.c')!.text;
    const grab = (head: string) => {
      const start = src.indexOf(head);
      if (start < 0) throw new Error(`no ${head} in the emitted source`);
      return src.slice(start, src.indexOf('\n}\n', start) + 3);
    };
    const t = tempDir();
    try {
      const x = probes();
      const neg = x.filter((v) => v <= 0 || v === -Infinity);
      expect(neg.length).toBeGreaterThan(10000);
      writeFileSync(join(t.dir, 'in.bin'), new Uint8Array(x.buffer));
      writeFileSync(
        join(t.dir, 'exp.c'),
        `#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
${grab('static float pd_test_expf(float x)')}
${grab('static inline float pd_test_expf_neg(float x)')}
/* a loop gcc vectorizes, as the softmax rows do */
static void neg_row(const float *restrict v, float *restrict o, size_t n) {
    size_t i;
    for (i = 0; i < n; ++i) o[i] = pd_test_expf_neg(v[i]);
}
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    float *v = malloc(1u << 20), *o = malloc(1u << 20);
    size_t n, i;
    (void)argc;
    n = fread(v, sizeof(float), (1u << 20) / sizeof(float), f);
    for (i = 0; i < n; ++i) {
        float s = pd_test_expf(v[i]);
        uint32_t a;
        memcpy(&a, &s, 4);
        printf("%u\\n", a);
    }
    /* pd_expf_neg on its domain, in blocks of 16 (what the module's row loops look like) */
    for (i = 0; i < n; ++i) if (!(v[i] <= 0.0f)) v[i] = -1.0f;
    for (i = 0; i + 16 <= n; i += 16) neg_row(v + i, o + i, 16);
    for (; i < n; ++i) o[i] = pd_test_expf_neg(v[i]);
    for (i = 0; i < n; ++i) {
        uint32_t a, b;
        float s = pd_test_expf(v[i]);
        memcpy(&a, &s, 4);
        memcpy(&b, &o[i], 4);
        if (a != b) printf("neg mismatch at %lu\\n", (unsigned long)i);
    }
    return 0;
}
`,
      );
      for (const extra of [[], ['-march=native']]) {
        const exe = compile(t.dir, ['exp.c'], 'exp', [...O2_FLAGS.filter((f) => f !== '-pedantic'), ...extra]);
        const lines = run(exe, [join(t.dir, 'in.bin')])
          .trim()
          .split('\n');
        expect(lines.filter((l) => l.startsWith('neg mismatch')).slice(0, 3), extra.join(' ')).toEqual([]);
        expect(lines.length).toBe(x.length);
        let mismatches = 0;
        lines.forEach((line, i) => {
          const want = expF(x[i]!);
          const got = Number(line);
          if (Number.isNaN(want) ? !Number.isNaN(bitsFloat(got)) : got !== floatBits(want)) mismatches++;
        });
        expect(mismatches).toBe(0);
      }
    } finally {
      t.dispose();
    }
  });
});
