// The demo's table: every configuration compiled to the paper's head MACs and boxes. (The measuring stage runs in
// `npx prunedet demo`; here the compile part runs on the cheap backbone, which leaves the head unchanged.)
import { describe, expect, it } from 'vitest';
import { demo, formatDemo, PAPER_SSD300 } from '../../src/jobs/demo';
import { compile } from '../../src/jobs/compile/index';

describe('prunedet demo', () => {
  it("compiles the baseline and A-D to the paper's numbers and prints them", async () => {
    const steps: string[] = [];
    const r = await demo((m) => steps.push(m), { compile }, 'tiny');
    expect(r.rows.map((x) => [x.config, x.headMacs, x.boxes])).toEqual(
      PAPER_SSD300.map((p) => [p.config, p.headMacs, p.boxes]),
    );
    expect(r.rows.every((x) => x.match)).toBe(true);
    expect(r.rows.map((x) => x.anchorsPerLevel.join(','))).toEqual([
      '4,6,6,6,4,4',
      '4,4,5,3,2,1',
      '2,4,5,3,2,1',
      '1,3,5,3,2,1',
      '0,2,5,2,2,1',
    ]);
    expect(steps[0]).toMatch(/building the SSD300 fixture/);
    const text = formatDemo(r);
    expect(text).toMatch(/A\s+4,4,5,3,2,1\s+3,607,764,480\s+7,814\s+yes/);
    expect(text).toMatch(/D\s+0,2,5,2,2,1\s+774,938,880\s+1,291\s+yes/);
  });
});
