import { defaultMaxVersionAheadMs } from '../../events/version-clock.js';
import { wholeNumber, type EnvReader } from './env-reader.js';

/**
 * VERSION_MAX_AHEAD_MS, read the same way by the publisher (which refuses such a version at its HTTP
 * door), the consumer (which dead-letters it) and the demo.
 */
export function readMaxVersionAheadMs(reader: EnvReader): number {
  return reader.read('VERSION_MAX_AHEAD_MS', wholeNumber(1_000, 31_536_000_000), defaultMaxVersionAheadMs, 'milliseconds a version may stand past the clock, 1000 (a second) to 31536000000 (a year)');
}
