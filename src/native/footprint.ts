// The footprint of an emitted C module, measured by compiling it: code (.text), read-only data (.rodata, constants),
// writable data (.data, .bss: 0 for prunedet's modules, which have no writable globals) and the deepest stack the run
// function can reach, for the host gcc and, when installed, arm-none-eabi-gcc for a Cortex-M4F. Sections come from the
// object's ELF section headers (read here, no binutils needed); the stack from gcc's -fcallgraph-info=su call graph.
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../cleanup';
import { PrunedetError } from '../errors';
import type { ModuleFootprint } from '../emit/c/footprint';

export type { ModuleFootprint } from '../emit/c/footprint';

export interface FootprintTarget {
  /** `host` (the machine's gcc) or `cortex-m4f`. */
  target: string;
  compiler: string;
  flags: string[];
}

export const FOOTPRINT_TARGETS: readonly FootprintTarget[] = [
  { target: 'host', compiler: 'gcc', flags: ['-std=c99', '-Os', '-ffp-contract=off'] },
  {
    target: 'cortex-m4f',
    compiler: 'arm-none-eabi-gcc',
    flags: [
      '-std=c99',
      '-Os',
      '-ffp-contract=off',
      '-mcpu=cortex-m4',
      '-mthumb',
      '-mfloat-abi=hard',
      '-mfpu=fpv4-sp-d16',
    ],
  },
];

export interface ElfSections {
  text: number;
  rodata: number;
  data: number;
  bss: number;
  unwind: number;
}

/** Sum the allocated sections of an ELF relocatable object (32 or 64 bit, little-endian) by kind. */
export function elfSections(bytes: Uint8Array): ElfSections {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 52 || v.getUint32(0) !== 0x7f454c46) throw new Error('not an ELF object');
  const is64 = bytes[4] === 2;
  if (bytes[5] !== 1) throw new Error('big-endian ELF objects are not read');
  const u = (o: number, wide: boolean) => (wide ? Number(v.getBigUint64(o, true)) : v.getUint32(o, true));
  const shoff = u(is64 ? 0x28 : 0x20, is64);
  const shentsize = v.getUint16(is64 ? 0x3a : 0x2e, true);
  const shnum = v.getUint16(is64 ? 0x3c : 0x30, true);
  const shstrndx = v.getUint16(is64 ? 0x3e : 0x32, true);
  const sec = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: v.getUint32(o, true),
      type: v.getUint32(o + 4, true),
      flags: u(o + 8, is64),
      offset: u(o + (is64 ? 0x18 : 0x10), is64),
      size: u(o + (is64 ? 0x20 : 0x14), is64),
    };
  };
  const strtab = sec(shstrndx);
  const nameOf = (off: number) => {
    let e = strtab.offset + off;
    while (bytes[e] !== 0) e++;
    return Buffer.from(bytes.subarray(strtab.offset + off, e)).toString('latin1');
  };
  const out: ElfSections = { text: 0, rodata: 0, data: 0, bss: 0, unwind: 0 };
  for (let i = 1; i < shnum; i++) {
    const s = sec(i);
    if ((s.flags & 0x2) === 0) continue; // SHF_ALLOC
    const name = nameOf(s.name);
    if (s.type === 8)
      out.bss += s.size; // SHT_NOBITS
    else if (s.flags & 0x4)
      out.text += s.size; // SHF_EXECINSTR
    else if (s.flags & 0x1)
      out.data += s.size; // SHF_WRITE
    else if (/^\.(eh_frame|ARM\.ex)/.test(name)) out.unwind += s.size;
    else out.rodata += s.size;
  }
  return out;
}

/**
 * The deepest stack from `root` in gcc's -fcallgraph-info=su graph (VCG text): the root's frame plus the deepest of its
 * callees', recursively (emitted modules do not recurse; a cycle or a frame gcc calls unbounded gives null). Calls to
 * functions outside the file (memcpy, libm) count 0. target_clones variants (`f.avx2`, `f.default`): the largest.
 */
export function deepestStack(vcg: string, root: string): number | null {
  const frames = new Map<string, { bytes: number; bounded: boolean }>();
  const calls = new Map<string, string[]>();
  for (const m of vcg.matchAll(/node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?\\n(\d+) bytes \(([^)]*)\)"/g)) {
    const kind = m[3]!;
    frames.set(m[1]!, { bytes: Number(m[2]), bounded: !/dynamic/.test(kind) || /bounded/.test(kind) });
  }
  for (const m of vcg.matchAll(/edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"/g)) {
    const list = calls.get(m[1]!) ?? [];
    list.push(m[2]!);
    calls.set(m[1]!, list);
  }
  const variants = (t: string) => [...frames.keys()].filter((k) => k === t || k.startsWith(`${t}.`));
  const onPath = new Set<string>();
  const memo = new Map<string, number | null>();
  const depth = (t: string): number | null => {
    if (memo.has(t)) return memo.get(t)!;
    if (onPath.has(t)) return null;
    const f = frames.get(t);
    if (!f) return 0;
    if (!f.bounded) return null;
    onPath.add(t);
    let deepest = 0;
    for (const c of calls.get(t) ?? []) {
      for (const v of variants(c).length > 0 ? variants(c) : [c]) {
        const d = depth(v);
        if (d === null) {
          onPath.delete(t);
          memo.set(t, null);
          return null;
        }
        deepest = Math.max(deepest, d);
      }
    }
    onPath.delete(t);
    memo.set(t, f.bytes + deepest);
    return f.bytes + deepest;
  };
  const roots = [...frames.keys()].filter((k) => k === root || k.endsWith(`:${root}`));
  if (roots.length === 0) return null;
  let worst = 0;
  for (const r of roots) {
    const d = depth(r);
    if (d === null) return null;
    worst = Math.max(worst, d);
  }
  return worst;
}

function runTool(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    let out = '';
    let child;
    try {
      child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      resolve({ status: null, out: '' });
      return;
    }
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolve({ status: null, out }));
    child.on('close', (status) => resolve({ status, out }));
  });
}

/**
 * Compile `source` (in `dir`, beside its header) for each target whose compiler is installed, all at once, and measure
 * it. Targets without a compiler are left out; a compile that fails is an error (the module is ours: it must build).
 */
export async function measureFootprint(
  dir: string,
  source: string,
  runSymbol: string,
  targets: readonly FootprintTarget[] = FOOTPRINT_TARGETS,
): Promise<ModuleFootprint[]> {
  // removed on every exit path, an interrupt included
  const { dir: tmp, release } = makeTempDir('footprint');
  try {
    const results = await Promise.all(
      targets.map(async (t, i): Promise<ModuleFootprint | undefined> => {
        const version = await runTool(t.compiler, ['--version'], dir);
        if (version.status !== 0) return undefined;
        const obj = join(tmp, `m${i}.o`);
        const ci = join(tmp, `m${i}.ci`);
        const r = await runTool(t.compiler, [...t.flags, '-fcallgraph-info=su', '-c', source, '-o', obj], dir);
        if (r.status !== 0 || !existsSync(obj))
          throw new PrunedetError(
            'E_TOOLCHAIN',
            `${t.compiler} could not build ${source} to measure its footprint: ${r.out.split('\n').find((l) => /error/.test(l)) ?? `exit ${r.status}`}`,
            'report it: an emitted module must compile',
          );
        const s = elfSections(readFileSync(obj));
        const stack = existsSync(ci) ? deepestStack(readFileSync(ci, 'utf8'), runSymbol) : null;
        return {
          target: t.target,
          compiler: version.out.split('\n')[0]!.trim(),
          flags: [...t.flags],
          textBytes: s.text,
          rodataBytes: s.rodata,
          dataBytes: s.data,
          bssBytes: s.bss,
          stackBytes: stack,
          flashBytes: s.text + s.rodata + s.data,
        };
      }),
    );
    return results.filter((r): r is ModuleFootprint => r !== undefined);
  } finally {
    release();
  }
}
