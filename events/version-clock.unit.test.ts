import { describe, expect, it } from 'vitest';
import { snowflakeEpochMs, versionAt, versionTimeMs } from './version-clock.js';

describe('the shared version clock', () => {
  it('puts a millisecond in the high bits, as X does in a post id', () => {
    // 1212092628029698048 >> 22 = 288985402114 ms after X's epoch (1288834974657): 1577820376771.
    expect(new Date(versionTimeMs(1212092628029698048n)).toISOString()).toBe('2019-12-31T19:26:16.771Z');
    expect(versionAt(Date.parse('2019-12-31T19:26:16.771Z'))).toBe((1212092628029698048n >> 22n) << 22n);
  });

  it('orders versions by time: any version of a later millisecond is above every version of an earlier one', () => {
    const ms = Date.parse('2026-12-06T10:00:00.000Z');
    expect(versionAt(ms + 1)).toBeGreaterThan(versionAt(ms) + (1n << 22n) - 1n);
    expect(versionTimeMs(versionAt(ms) + (1n << 22n) - 1n)).toBe(ms);
  });

  it('reads the small versions of older releases as X\'s epoch, and never goes below 0', () => {
    expect(versionTimeMs(42n)).toBe(snowflakeEpochMs);
    expect(versionAt(0)).toBe(0n);
  });
});
