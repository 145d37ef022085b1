// The pass registry: one ordered array literal, no registration by side effect. DEFAULT_PIPELINE is what `compile`
// runs; `--passes a,b,c` picks from PASSES by name.
import type { Pass } from '../src/pipeline';
import { PrunedetError } from '../src/errors';
import { pruneAnchors } from './prune-anchors';
import { eliminateDead } from './eliminate-dead';
import { foldConstants } from './fold-constants';
import { removeIdentity } from './remove-identity';
import { foldBatchnorm } from './fold-batchnorm';
import { dropInitializerInputs } from './drop-initializer-inputs';

export const PASSES: readonly Pass<never>[] = [pruneAnchors, eliminateDead, foldConstants, removeIdentity, foldBatchnorm, dropInitializerInputs] as Pass<never>[];

export const DEFAULT_PIPELINE: readonly string[] = ['drop-initializer-inputs', 'prune-anchors', 'eliminate-dead', 'fold-constants', 'remove-identity', 'fold-batchnorm'];

/** Passes by name, in the given order; unknown names are a usage error listing the known ones. */
export function passesByName(names: readonly string[]): Pass<never>[] {
  return names.map((n) => {
    const p = PASSES.find((x) => x.name === n);
    if (!p) throw new PrunedetError('E_USAGE', `unknown pass "${n}"`, `choose from ${PASSES.map((x) => x.name).join(', ')}`);
    return p;
  });
}
