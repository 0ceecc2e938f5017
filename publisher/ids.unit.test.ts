import { describe, expect, it } from 'vitest';
import { snowflakeEpochMs } from '../events/version-clock.js';
import { createSnowflakeVersions, newEventId } from './ids.js';

describe('event ids and versions', () => {
  it('makes 22-character base64url event ids', () => {
    const ids = new Set(Array.from({ length: 100 }, newEventId));

    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('makes versions that grow with time and within one millisecond', () => {
    let ms = snowflakeEpochMs + 1000;
    const next = createSnowflakeVersions(() => new Date(ms));

    const a = next();
    const b = next();
    ms += 1;
    const c = next();

    expect(a).toBe(1000n << 22n);
    expect(b).toBe(a + 1n);
    expect(c).toBe(1001n << 22n);
  });

  it('never goes down when the clock steps back', () => {
    let ms = Date.parse('2025-01-01T00:00:00Z');
    const next = createSnowflakeVersions(() => new Date(ms));

    const before = next();
    ms -= 60_000;

    expect(next()).toBeGreaterThan(before);
  });
});
