import fc, { type Parameters } from 'fast-check';

/**
 * The one seed every property-based test starts from, so a run is repeatable: a failure prints the
 * seed and the path of the counterexample, and `PROPERTY_SEED=<seed>` replays it. A fixed default
 * keeps CI deterministic; set `PROPERTY_SEED` to another number to explore new cases.
 */
export const propertySeed = ((): number => {
  const raw = process.env['PROPERTY_SEED'];
  if (raw === undefined || raw === '') return 20_261_206;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`PROPERTY_SEED should be an integer, not "${raw}"`);
  return seed;
})();

/**
 * `fc.assert` parameters: the shared seed, `numRuns` cases, and a time bound under the 30 s a
 * property may take (cases not reached by then are left out, and the run still fails on any
 * counterexample found before).
 */
export function propertyRuns<T>(numRuns: number, timeLimitMs = 25_000): Parameters<T> {
  return { seed: propertySeed, numRuns, plugins: [fc.interruptAfterTimeLimit(timeLimitMs)] };
}
