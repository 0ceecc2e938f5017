import fc, { type Parameters } from 'fast-check';
import { loadTestConfig } from '../test/config.js';

/**
 * The one seed every property-based test starts from, so a run is repeatable: a failure prints the
 * seed and the path of the counterexample, and `PROPERTY_SEED=<seed>` replays it (`test/config.ts`).
 */
export const propertySeed = loadTestConfig().propertySeed;

/**
 * `fc.assert` parameters: the shared seed, `numRuns` cases, and a time bound under the 30 s a
 * property may take (cases not reached by then are left out, and the run still fails on any
 * counterexample found before).
 */
export function propertyRuns<T>(numRuns: number, timeLimitMs = 25_000): Parameters<T> {
  return { seed: propertySeed, numRuns, plugins: [fc.interruptAfterTimeLimit(timeLimitMs)] };
}
