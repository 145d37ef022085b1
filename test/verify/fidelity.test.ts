// The acceptance link between search and verify: compiling a front point's config and verifying on the same photos
// gives exactly that point's fidelity.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { search } from '../../src/jobs/search/index';
import { verify } from '../../src/jobs/verify/index';
import { compileTemp, tempDir } from '../_support/compile';
import { FACES, hasShared, ultraface } from '../_support/shared';

describe.skipIf(!hasShared)('search -> compile -> verify', () => {
  it("reproduces a front point's fidelity exactly on the real RFB-320 and the face photos", async () => {
    const model = ultraface('version-RFB-320.onnx');
    const outDir = join(tempDir('pd-search-'), 'search');
    const r = await search({ model, images: FACES, outDir, postprocess: 'ultraface', maxCandidates: 24, workers: 1 });
    expect(r.points[0]!.map).toBe(1);
    const points = r.points.filter((p) => p.removed.length > 0);
    expect(points.length).toBeGreaterThan(0);
    for (const p of [points[0]!, points[points.length - 1]!]) {
      const compiled = await compileTemp(model, { config: join(outDir, p.config) });
      expect(compiled.report.after.boxes).toBe(p.boxes);
      expect(compiled.report.after.headMacs).toBe(p.headMacs);
      const v = await verify({ original: model, outDir: compiled.outDir, images: FACES, postprocess: 'ultraface' });
      expect(v.status).toBe('equivalent');
      expect(v.fidelity).toBe(p.map);
    }
  });
});
