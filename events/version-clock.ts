/**
 * One version space for every change (docs/design-notes.md, "One version space"). Versions are 64-bit
 * integers on X's snowflake scale: milliseconds since X's epoch in the high bits, shifted left by 22,
 * and a counter in the low 22 bits.
 * - A hand-typed post's version is its post id, which X builds exactly so.
 * - The capture triggers take a hybrid logical clock on the same scale (`tweetbus_next_version()`
 *   in sql/postgres/001_outbox.sql, and its Oracle twin).
 * - The publisher's callback versions (`publisher/ids.ts`) use it too.
 * So a database change and a post compare by when they were made, whoever made them.
 */

/** X's snowflake epoch, 2010-11-04T01:42:54.657Z, in Unix milliseconds. */
export const snowflakeEpochMs = 1_288_834_974_657;

/** Bits below the milliseconds: X's worker and sequence bits, the triggers' counter. */
export const counterBits = 22n;

/** The smallest version of the millisecond `ms` (Unix milliseconds); 0 before X's epoch. */
export function versionAt(ms: number): bigint {
  return BigInt(Math.max(0, Math.floor(ms - snowflakeEpochMs))) << counterBits;
}

/** The Unix milliseconds a version stands for. For the small versions of older releases: X's epoch. */
export function versionTimeMs(version: bigint): number {
  return Number(version >> counterBits) + snowflakeEpochMs;
}

/** How far past the clock a version may stand by default (VERSION_MAX_AHEAD_MS): one hour. */
export const defaultMaxVersionAheadMs = 3_600_000;

/**
 * Why a version stands too far in the future (`stands for <time>, more than <n> ms past …`), or
 * `undefined` when it stands at most `maxAheadMs` past `now`. A version further ahead would win
 * against every change to its key until that time comes.
 */
export function versionAheadProblem(version: bigint, now: Date, maxAheadMs: number): string | undefined {
  if (version < versionAt(now.getTime() + maxAheadMs + 1)) return undefined;
  const ms = versionTimeMs(version);
  const when = ms < 8.64e15 ? new Date(ms).toISOString() : 'beyond any date';
  return `stands for ${when}, more than ${String(maxAheadMs)} ms past`;
}

