// Seeded pseudo-random numbers for reproducible test inputs: src/prng.ts, the generator the fixtures use too.
export { gaussian, mulberry32 } from '../../src/prng';
