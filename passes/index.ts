// The pass registry: one ordered array literal, no registration by side effect. DEFAULT_PIPELINE is what `compile`
// runs; `--passes a,b,c` picks from PASSES by name.
import { noOptions, registerPass, type RegisteredPass } from '../src/pipeline';
import { PrunedetError } from '../src/errors';
import { pruneAnchors } from './prune-anchors';
import { eliminateDead } from './eliminate-dead';
import { foldConstants } from './fold-constants';
import { removeIdentity } from './remove-identity';
import { foldBatchnorm } from './fold-batchnorm';
import { dropInitializerInputs } from './drop-initializer-inputs';

/** Every pass, with how its options follow from the compile's settings (typed: a wrong option shape does not compile). */
export const PASSES: readonly RegisteredPass[] = [
  registerPass(pruneAnchors, (s) => ({ kept: s.kept })),
  registerPass(eliminateDead, noOptions),
  registerPass(foldConstants, noOptions),
  registerPass(removeIdentity, noOptions),
  registerPass(foldBatchnorm, noOptions),
  registerPass(dropInitializerInputs, noOptions),
];

export const DEFAULT_PIPELINE: readonly string[] = [
  'drop-initializer-inputs',
  'prune-anchors',
  'eliminate-dead',
  'fold-constants',
  'remove-identity',
  'fold-batchnorm',
];

/** Passes by name, in the given order; unknown names are a usage error listing the known ones. */
export function passesByName(names: readonly string[]): RegisteredPass[] {
  return names.map((n) => {
    const p = PASSES.find((x) => x.name === n);
    if (!p)
      throw new PrunedetError('E_USAGE', `unknown pass "${n}"`, `choose from ${PASSES.map((x) => x.name).join(', ')}`);
    return p;
  });
}
