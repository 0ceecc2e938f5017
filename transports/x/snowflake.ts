/**
 * X post ids are snowflakes: the top bits are milliseconds since X's epoch. That makes them
 * time-ordered, which the catch-up search uses to start a little before the last post handled.
 */
import { versionAt, versionTimeMs } from '../../events/version-clock.js';

const digits = /^\d{1,20}$/;

export function isPostId(value: string): boolean {
  return digits.test(value);
}

/** Milliseconds since the Unix epoch at which the post was created. */
export function snowflakeTimestampMs(id: string): number {
  return versionTimeMs(BigInt(id));
}

/** The smallest id X could have given a post created at `ms`: usable as `since_id`. Never below 1. */
export function snowflakeAt(ms: number): string {
  const id = versionAt(ms);
  return (id > 0n ? id : 1n).toString();
}

/** Compares ids numerically (they exceed 2^53, and string order fails for different lengths). */
export function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxId(a: string | undefined, b: string): string {
  return a === undefined || compareIds(b, a) > 0 ? b : a;
}
