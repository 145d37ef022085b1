// Seeded, bounded fuzzing: byte flips, overwrites, deletions and truncations of a shared real model (Ultra-Light
// face detector) and of a synthetic fixture (SSDLite), biased towards the bytes that are not weights. Every case is
// loaded and inspected in-process, every 10th compiled in-process, a few through the CLI. The contract: each ends
// in success or a user error (PrunedetError: exit 2), never anything else (internal error, stack trace), and every
// model compile writes opens in onnxruntime. Reproduce a case with its seed and index from the failure message.
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildFixture } from '../fixtures/index';
import { inspectModel } from '../src/jobs/inspect';
import { compile } from '../src/jobs/compile/index';
import { isPrunedetError, systemError } from '../src/errors';
import { decodeMessage, type ProtoMessage } from '../src/onnx/codec';
import { modelToBytes } from '../src/onnx/save';
import { mulberry32 } from '../src/prng';
import { prunedet } from './_support/cli';
import { hasShared, ultraface } from './_support/shared';

const CASES_PER_MODEL = 150;
const COMPILE_EVERY = 10;
const CLI_CASES = 2;
const root = mkdtempSync(join(tmpdir(), 'pd-fuzz-'));

/** [start, end) of every initializer's raw_data in the file: the weights, which flips rarely make invalid. */
function weightRanges(bytes: Uint8Array): [number, number][] {
  const m = decodeMessage('onnx.ModelProto', bytes);
  return (((m.graph as ProtoMessage).initializer as ProtoMessage[] | undefined) ?? [])
    .map((t) => t.raw_data as Uint8Array | undefined)
    .filter((r): r is Uint8Array => r !== undefined && r.length > 0)
    .map((r) => [r.byteOffset - bytes.byteOffset, r.byteOffset - bytes.byteOffset + r.length] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

interface Mutant {
  what: string;
  bytes: Uint8Array;
}

/** Case `i` of a seeded sequence: 80% of edits land outside the weights (structure: names, dims, types, lengths). */
function mutants(base: Uint8Array, seed: number, count: number): Mutant[] {
  const rand = mulberry32(seed);
  const weights = weightRanges(base);
  const structural: [number, number][] = [];
  let at = 0;
  for (const [s, e] of weights) {
    if (s > at) structural.push([at, s]);
    at = e;
  }
  if (at < base.length) structural.push([at, base.length]);
  const structTotal = structural.reduce((s, [a, b]) => s + b - a, 0);
  const pick = (): number => {
    if (rand() < 0.2) return Math.floor(rand() * base.length);
    let k = Math.floor(rand() * structTotal);
    for (const [a, b] of structural) {
      if (k < b - a) return a + k;
      k -= b - a;
    }
    return 0;
  };
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 5;
    if (kind === 0 || kind === 1) {
      const b = Uint8Array.from(base);
      const edits = kind === 0 ? 1 : 1 + Math.floor(rand() * 4);
      const where: number[] = [];
      for (let e = 0; e < edits; e++) {
        const p = pick();
        b[p] = kind === 0 ? b[p]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
        where.push(p);
      }
      return { what: `${kind === 0 ? 'bit flip' : 'byte overwrite'} at ${where.join(',')}`, bytes: b };
    }
    if (kind === 2) {
      const len = Math.floor(rand() * base.length);
      return { what: `truncated to ${len} bytes`, bytes: base.subarray(0, len) };
    }
    const p = pick();
    const span = 1 + Math.floor(rand() * 16);
    if (kind === 3)
      return {
        what: `${span} bytes deleted at ${p}`,
        bytes: Buffer.concat([base.subarray(0, p), base.subarray(p + span)]),
      };
    return {
      what: `${span} bytes duplicated at ${p}`,
      bytes: Buffer.concat([base.subarray(0, p + span), base.subarray(p, p + span), base.subarray(p + span)]),
    };
  });
}

type Outcome = 'ok' | 'refused';

/** ok, or refused with a user error; anything else is returned as a failure text. */
async function outcome(f: () => unknown): Promise<Outcome | string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    if (isPrunedetError(e) || systemError(e)) {
      const line = isPrunedetError(e) ? e.oneLine() : systemError(e)!.oneLine();
      if (/\n/.test(line)) return `user error spanning lines: ${JSON.stringify(line)}`;
      return 'refused';
    }
    return `${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`.split('\n')[0]!;
  }
}

async function opensInOrt(path: string): Promise<string | undefined> {
  try {
    const s = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
    await s.release();
    return undefined;
  } catch (e) {
    return `onnxruntime rejects the compiled ${path}: ${(e as Error).message.split('\n')[0]}`;
  }
}

const bases: [string, () => Uint8Array, number][] = [
  ['ssdlite fixture', () => modelToBytes(buildFixture('ssdlite', { outputs: 'concat' })), 1101],
  ...(hasShared
    ? [
        [
          'ultraface RFB-320 (shared)',
          () => readFileSync(ultraface('version-RFB-320_without_postprocessing.onnx')),
          2202,
        ] as [string, () => Uint8Array, number],
      ]
    : []),
];

describe('fuzzed models end in success or one user-error line, never an internal error', () => {
  for (const [name, make, seed] of bases) {
    it(`${name}: ${CASES_PER_MODEL} seeded mutants (seed ${seed}) through load+inspect, every ${COMPILE_EVERY}th through compile`, async () => {
      const dir = join(root, String(seed));
      mkdirSync(dir, { recursive: true });
      const failures: string[] = [];
      const tally = { inspect: { ok: 0, refused: 0 }, compile: { ok: 0, refused: 0 } };
      const cases = mutants(make(), seed, CASES_PER_MODEL);
      for (const [i, m] of cases.entries()) {
        const path = join(dir, `case-${i}.onnx`);
        writeFileSync(path, m.bytes);
        const tag = `seed ${seed} case ${i} (${m.what})`;
        const inspected = await outcome(() => inspectModel(path));
        if (inspected === 'ok' || inspected === 'refused') tally.inspect[inspected]++;
        else failures.push(`inspect ${tag}: ${inspected}`);
        if (i % COMPILE_EVERY !== 0) continue;
        const outDir = join(dir, `out-${i}`);
        const compiled = await outcome(() => compile({ model: path, remove: '0', outDir }));
        if (compiled === 'ok') {
          tally.compile.ok++;
          const bad = await opensInOrt(join(outDir, 'model.onnx'));
          if (bad) failures.push(`compile ${tag}: ${bad}`);
        } else if (compiled === 'refused') {
          tally.compile.refused++;
        } else {
          failures.push(`compile ${tag}: ${compiled}`);
        }
      }
      expect(failures).toEqual([]);
      // the fuzzer reached both sides of the contract (a run where every case passed, or every case failed, tested little)
      expect(tally.inspect.ok, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.inspect.refused, JSON.stringify(tally)).toBeGreaterThan(CASES_PER_MODEL / 5);
      expect(tally.compile.ok + tally.compile.refused).toBe(CASES_PER_MODEL / COMPILE_EVERY);
    });
  }

  it(`${CLI_CASES} mutants per model through the CLI: exit 0 or 2, one line, no stack; exit 0 opens in onnxruntime`, async () => {
    for (const [, make, seed] of bases) {
      const dir = join(root, `cli-${seed}`);
      mkdirSync(dir, { recursive: true });
      const cases = mutants(make(), seed + 7, 5)
        .filter((_, i) => i % 5 === 1 || i % 5 === 2)
        .slice(0, CLI_CASES); // overwrite, truncate
      for (const [i, m] of cases.entries()) {
        const path = join(dir, `case-${i}.onnx`);
        writeFileSync(path, m.bytes);
        const out = join(dir, `out-${i}`);
        const r = prunedet(['compile', path, '--remove', '0', '-o', out]);
        const tag = `seed ${seed + 7} case ${i} (${m.what}): exit ${r.code} ${r.stderr.trim()}`;
        expect([0, 2], tag).toContain(r.code);
        expect(r.stderr, tag).not.toMatch(/internal error|\n\s+at /);
        if (r.code === 2) expect(r.stderr.trim().split('\n'), tag).toHaveLength(1);
        else expect(await opensInOrt(join(out, 'model.onnx')), tag).toBeUndefined();
      }
    }
  });
});
