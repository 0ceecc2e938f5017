import { describe, expect, it } from 'vitest';
import { compareSnowflakes, createSnowflakeGenerator, snowflakeTime } from './snowflake.js';

describe('snowflake ids', () => {
  it('strictly increase within one millisecond, even past 4096 ids', () => {
    const at = new Date('2026-03-01T12:00:00.000Z');
    const next = createSnowflakeGenerator({ now: () => at });
    const ids = Array.from({ length: 5000 }, () => BigInt(next()));
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('keep increasing when the clock steps back', () => {
    let ms = Date.parse('2026-03-01T12:00:00.000Z');
    const next = createSnowflakeGenerator({ now: () => new Date(ms) });
    const first = next();
    ms -= 60_000;
    expect(compareSnowflakes(next(), first)).toBeGreaterThan(0);
  });

  it('encode the millisecond they were minted in', () => {
    const at = new Date('2026-03-01T12:00:00.123Z');
    const id = createSnowflakeGenerator({ now: () => at })();
    expect(id).toMatch(/^[1-9][0-9]{17,19}$/);
    expect(snowflakeTime(id).toISOString()).toBe(at.toISOString());
  });

  it('compare numerically, not as text', () => {
    expect(compareSnowflakes('999', '1000')).toBeLessThan(0);
    expect(compareSnowflakes('1000', '1000')).toBe(0);
  });
});
