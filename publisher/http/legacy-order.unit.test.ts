import { describe, expect, it } from 'vitest';
import { parseLegacyTimestamp } from './legacy-order.js';

describe('legacy callback timestamps', () => {
  it.each([
    ['05-DEC-18 10.33.55.123456 AM', '2018-12-05T10:33:55.123Z'],
    ['05-DEC-18 12.00.00.000000 AM', '2018-12-05T00:00:00.000Z'],
    ['31-jan-2019 11.59.59 PM', '2019-01-31T23:59:59.000Z'],
    ['2024-05-01T10:00:00.250+02:00', '2024-05-01T08:00:00.250Z'],
    ['2024-05-01 10:00:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['1714557600000', '2024-05-01T10:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseLegacyTimestamp(text)?.toISOString()).toBe(iso);
  });

  it.each(['yesterday', '31-FEB-19 10.00.00 AM', '05-XYZ-18 10.33.55 AM', '2024-13-45', '12'])('refuses %s', (text) => {
    expect(parseLegacyTimestamp(text)).toBeUndefined();
  });
});
