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
  const v: number[] = [0, -0, 1, -1, 0.5, 88.72283935546875, 88.7228, -87.33654, -87.3366, -104, 89, 1e-8, -1e-8, Infinity, -Infinity, NaN];
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

describe.skipIf(!hasGcc)('pd_expf in the emitted C', () => {
  it('equals expF bit for bit, also value by value in pd_expf_row (a row of 4 columns here)', () => {
    const { files } = emitPostprocessC(makePlan({ spec: 'mmdet-ssd300', levels: [{ h: 2, w: 2, a: 1, stride: 8 }], numClasses: 5 }));
    const src = files.find((f) => f.name === 'postprocess.c')!.text;
    const grab = (name: string) => {
      const start = src.indexOf(`static ${name === 'pd_expf' ? 'float' : 'void'} ${name}(`);
      if (start < 0) throw new Error(`no ${name} in the emitted source`);
      return src.slice(start, src.indexOf('\n}\n', start) + 3);
    };
    const t = tempDir();
    try {
      const x = probes();
      writeFileSync(join(t.dir, 'in.bin'), new Uint8Array(x.buffer));
      writeFileSync(join(t.dir, 'exp.c'), `#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
${grab('pd_expf')}
${grab('pd_expf_row')}
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    float v[4], o[4];
    size_t n, i;
    (void)argc;
    while ((n = fread(v, sizeof(float), 4, f)) == 4) {
        pd_expf_row(v, o);
        for (i = 0; i < 4; ++i) {
            float s = pd_expf(v[i]);
            uint32_t a, b;
            memcpy(&a, &s, 4);
            memcpy(&b, &o[i], 4);
            printf("%u %u\\n", a, b);
        }
    }
    return 0;
}
`);
      const exe = compile(t.dir, ['exp.c'], 'exp', O2_FLAGS.filter((f) => f !== '-pedantic'));
      const lines = run(exe, [join(t.dir, 'in.bin')]).trim().split('\n');
      expect(lines.length).toBe(x.length - (x.length % 4));
      let mismatches = 0;
      lines.forEach((line, i) => {
        const [scalar, lane] = line.split(' ').map(Number);
        const want = expF(x[i]!);
        const wantBits = Number.isNaN(want) ? null : floatBits(want);
        if (scalar !== lane) mismatches++;
        if (wantBits === null ? !Number.isNaN(bitsFloat(scalar!)) : scalar !== wantBits) mismatches++;
      });
      expect(mismatches).toBe(0);
    } finally {
      t.dispose();
    }
  });
});
