// The measured footprint of a module (src/native/footprint.ts measures it by compiling) as the header documents it:
// a table per target and the macros for the flash and RAM a caller must provide.
import type { CNames } from './names';
import type { CodeWriter } from './writer';

/** Bytes of one module compiled for one target. */
export interface ModuleFootprint {
  target: string;
  /** The compiler's first --version line. */
  compiler: string;
  flags: string[];
  /** Executable sections (.text, clones and resolvers included). */
  textBytes: number;
  /** Allocated read-only sections (.rodata and its constant pools; unwind tables not counted). */
  rodataBytes: number;
  /** Writable initialised data (.data) and zero-initialised (.bss): RAM the module holds by itself. */
  dataBytes: number;
  bssBytes: number;
  /** The deepest stack from the run function through its static callees (gcc -fcallgraph-info=su); null if unbounded. */
  stackBytes: number | null;
  /** Flash the module needs: text + rodata + data. */
  flashBytes: number;
}

/** The target whose figures the header's FLASH/RAM macros give: the embedded one when measured, else the host. */
export function macroTarget(fp: readonly ModuleFootprint[]): ModuleFootprint | undefined {
  return fp.find((f) => f.target !== 'host') ?? fp[0];
}

/** The header's footprint section: one line per target, then the CODE/RODATA/STACK/FLASH/RAM macros. */
export function emitFootprint(w: CodeWriter, N: CNames, fp: readonly ModuleFootprint[]): void {
  const m = macroTarget(fp);
  if (!m) return;
  const stack = (f: ModuleFootprint) => (f.stackBytes === null ? 'unbounded' : `${f.stackBytes}`);
  w.doc(
    'Footprint, measured by compiling this module (bytes; no writable globals, so RAM = the workspace + the stack):',
    ...fp.map(
      (f) =>
        `  ${f.target}: code ${f.textBytes}, read-only data ${f.rodataBytes}, data ${f.dataBytes}, bss ${f.bssBytes}, stack ${stack(f)} (${f.compiler}; ${f.flags.join(' ')})`,
    ),
    `The macros below give the ${m.target} figures: FLASH = code + read-only data + data; RAM = ${N.workspaceMacro}`,
    '+ the deepest stack of a run + data + bss. Other compilers, flags and link-time garbage collection change them.',
  );
  w.line(`#define ${N.macro}CODE_BYTES ${m.textBytes}u`);
  w.line(`#define ${N.macro}RODATA_BYTES ${m.rodataBytes}u`);
  if (m.stackBytes !== null) w.line(`#define ${N.macro}STACK_BYTES ${m.stackBytes}u`);
  w.line(`#define ${N.macro}FLASH_BYTES ${m.flashBytes}u`);
  if (m.stackBytes !== null)
    w.line(`#define ${N.macro}RAM_BYTES (${N.workspaceMacro} + ${m.stackBytes + m.dataBytes + m.bssBytes}u)`);
  w.line();
}
