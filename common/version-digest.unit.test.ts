import type { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPglite } from './pglite.fixture.js';
import { propertyRuns } from './property.fixture.js';
import { bucketOf, digestBuilder, digestsSql, inBucketsSql, pairHash, pgHashTextExtended, type KeyVersion } from './version-digest.js';

/**
 * Verify's two sides must hash alike: SQL on PostgreSQL and PGlite, and this module's JavaScript on
 * MongoDB. PGlite is PostgreSQL's own code, so it is the reference here.
 */

let pglite: PGlite;
beforeAll(async () => {
  pglite = await newPglite();
});
afterAll(async () => {
  await pglite.close();
});

async function sqlHash(text: string, seed: bigint): Promise<bigint> {
  const result = await pglite.query<{ h: string }>('SELECT hashtextextended($1, $2)::text AS h', [text, seed.toString()]);
  return BigInt(result.rows[0]?.h ?? 'NaN');
}

describe('verify: the pair hash', () => {
  it('is PostgreSQL\'s hashtextextended, for every length around its 12-byte blocks and any text', async () => {
    for (let length = 0; length <= 26; length += 1) {
      const text = 'abcdefghijklmnopqrstuvwxyz'.slice(0, length);
      expect(pgHashTextExtended(text)).toBe(await sqlHash(text, 0n));
      expect(pgHashTextExtended(text, 7n << 40n)).toBe(await sqlHash(text, 7n << 40n));
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 40 }), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), async (text, seed) => {
        // PostgreSQL text holds no NUL.
        const storable = text.replaceAll('\u0000', '');
        expect(pgHashTextExtended(storable, seed)).toBe(await sqlHash(storable, seed));
      }),
      propertyRuns(300),
    );
  });

  it('puts a pair in the same bucket, with the same hash, in SQL as here', async () => {
    const rows: KeyVersion[] = [
      { key: 'a', version: 5n },
      { key: 'a', version: 6n },
      { key: 'ü-日本', version: (1n << 62n) + 3n },
      { key: 'no version', version: null },
      ...Array.from({ length: 200 }, (_, i) => ({ key: `item-${String(i)}`, version: 2129646462672306178n + BigInt(i) })),
    ];
    const relation = `(SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(key text, version bigint)) rows`;
    const json = JSON.stringify(rows.map((r) => ({ key: r.key, version: r.version?.toString() ?? null })));
    for (const bits of [0, 1, 5, 16]) {
      const result = await pglite.query<{ bucket: number; rows: number; sum: string }>(digestsSql(relation, '$2::integer'), [json, bits]);
      const builder = digestBuilder(bits);
      for (const row of rows) builder.add(row);
      const sorted = <T extends { bucket: number }>(list: T[]): T[] => list.sort((x, y) => x.bucket - y.bucket);
      expect(sorted(result.rows.map((r) => ({ bucket: r.bucket, rows: r.rows, sum: BigInt(r.sum) })))).toEqual(sorted(builder.digests()));
    }
    const wanted = [bucketOf({ key: 'a', version: 5n }, 5)];
    const listed = await pglite.query<{ key: string }>(inBucketsSql(relation, 'key', '$2::integer', '$3::integer[]'), [json, 5, wanted]);
    expect(listed.rows.map((r) => r.key).sort()).toEqual(rows.filter((r) => wanted.includes(bucketOf(r, 5))).map((r) => r.key).sort());
    expect(pairHash({ key: 'k', version: 5n })).not.toBe(pairHash({ key: 'k', version: 6n }));
    expect(pairHash({ key: 'k', version: null })).not.toBe(pairHash({ key: 'k', version: 0n }));
    expect(pairHash({ key: 'k', version: 5n }) < 1n << 48n).toBe(true);
  });
});
