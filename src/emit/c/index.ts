// Entry point of the C emitter: EmitPlan -> the files of a post-processing module (postprocess.h, postprocess.c,
// Makefile, CMakeLists.txt). Deterministic: the same plan gives the same bytes.
import { emitHeader } from './header';
import { emitCMakeLists, emitMakefile } from './makefile';
import { layoutPlan, type EmitPlan, type PlanLayout } from './plan';
import { cFileNames } from './names';
import { emitSource } from './source';

export type { EmitPlan, PlanLayout } from './plan';
export { layoutPlan } from './plan';
export { emitHeader } from './header';
export type { ModuleFootprint } from './footprint';

export interface EmittedFile {
  name: string;
  text: string;
}

/**
 * Generate the module for `plan`, with the layout it was printed from (workspace size, symbol names); throws
 * PrunedetError E_POSTPROCESS for a plan that cannot be emitted.
 */
export function emitPostprocessC(plan: EmitPlan): { files: EmittedFile[]; layout: PlanLayout } {
  const layout = layoutPlan(plan);
  const files = cFileNames(plan.fileStem);
  return {
    layout,
    files: [
      { name: files.header, text: emitHeader(layout) },
      { name: files.source, text: emitSource(layout) },
      { name: 'Makefile', text: emitMakefile(layout) },
      { name: 'CMakeLists.txt', text: emitCMakeLists(layout) },
    ],
  };
}
