import { randomBytes } from 'node:crypto';
import { versionAt } from '../events/version-clock.js';

/**
 * A random event id: 128 bits as 22 characters of base64url, the same shape the capture trigger
 * makes. Short, because every event id travels inside a 280-character post.
 */
export function newEventId(): string {
  return randomBytes(16).toString('base64url');
}


/**
 * Versions for events that have no source version (the legacy `GET /order` callback): snowflake-like
 * bigints, `(ms since X's epoch) << 22 | counter`, strictly increasing within this process.
 *
 * Trade-offs, by design:
 * - They share X's epoch and layout, so they compare sensibly with the post ids that version
 *   hand-typed posts: whichever came later wins.
 * - Across processes they are ordered only by the clocks; two publishers with skewed clocks can
 *   order two callbacks for one key wrongly. Within one process a clock that steps back cannot
 *   make a version go down.
 * - They are far larger than the trigger's sequence values, so for one key a callback-made event
 *   always beats a trigger-made one. Use one way in per table.
 */
export function createSnowflakeVersions(now: () => Date = () => new Date()): () => bigint {
  let last = 0n;
  return () => {
    const candidate = versionAt(now().getTime());
    last = candidate > last ? candidate : last + 1n;
    return last;
  };
}
