// Seeded pseudo-random numbers for reproducible test inputs; no dependency, same sequence everywhere. The generator
// itself (mulberry32) is the one fixtures/random.ts seeds the synthetic detectors' weights with.
import { prng } from '../../fixtures/random';

/** A generator of floats in [0, 1) from a 32-bit seed (mulberry32). */
export const mulberry32: (seed: number) => () => number = prng;

/** Standard normal samples (Box-Muller) from a uniform generator. */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
