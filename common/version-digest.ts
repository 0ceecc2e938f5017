import { createHash } from 'node:crypto';

/**
 * How `npm run verify` compares a write table with a read model without reading every row twice
 * (docs/design-notes.md, "Verify: hash buckets of (key, version)"):
 *
 * - every key goes to a bucket by the first `bits` bits of md5(key), so the two sides agree on the
 *   buckets whatever their key types and collations;
 * - a bucket's digest is its row count and the sum of a 60-bit hash of (key, version), computed where
 *   the rows are (SQL on PostgreSQL and PGlite, a projection stream on MongoDB) and sent as one row;
 * - only the keys of buckets whose digests differ are listed and compared.
 *
 * The SQL below and the functions beside it must give the same numbers: a test computes both.
 */

/** A key's version on one side; `null` on the write side for a row no change ever enqueued. */
export interface KeyVersion {
  readonly key: string;
  readonly version: bigint | null;
  /** The read model's listings say who wrote the document (its event's `source`). */
  readonly source?: string;
}

/** One bucket's digest: how many keys, and the sum of their (key, version) hashes. */
export interface BucketDigest {
  readonly bucket: number;
  readonly rows: number;
  readonly sum: bigint;
}

/** What both sides of a comparison can answer, each over its own rows of one collection. */
export interface VersionInventory {
  /** Rows in this collection (live documents; rows of the table). */
  count(): Promise<number>;
  /** The digest of each non-empty bucket. */
  digests(bits: number): Promise<BucketDigest[]>;
  /** The keys, with versions, in the given buckets. */
  inBuckets(bits: number, buckets: readonly number[]): Promise<KeyVersion[]>;
  /** The versions of these keys; a key that is not there is left out. */
  versionsOf(keys: readonly string[]): Promise<KeyVersion[]>;
}

export const maxBucketBits = 16;

/** About 16 keys a bucket, so a differing bucket lists few keys beside the drifting one. */
export function bucketBitsFor(rows: number): number {
  if (rows <= 16) return 0;
  return Math.min(maxBucketBits, Math.ceil(Math.log2(rows / 16)));
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** The bucket of `key`: the first `bits` bits of md5(key), as SQL's `bucketSql` computes it. */
export function bucketOf(key: string, bits: number): number {
  if (bits === 0) return 0;
  return Number.parseInt(md5Hex(key).slice(0, 8), 16) >>> (32 - bits);
}

/** The first 60 bits of md5(key ':' version), as SQL's `versionHashSql` computes it. */
export function versionHash(key: string, version: bigint | null): bigint {
  return BigInt(`0x${md5Hex(`${key}:${version === null ? '' : version.toString()}`).slice(0, 15)}`);
}

/** SQL for `bucketOf(key, bits)`; `bits` is SQL text too (a placeholder), an integer 0-16. */
export function bucketSql(key: string, bits: string): string {
  return `((('x' || substr(md5(${key}), 1, 8))::bit(32)::bigint >> (32 - ${bits}))::integer)`;
}

/** SQL for `versionHash(key, version)`, a bigint. */
export function versionHashSql(key: string, version: string): string {
  return `(('x' || substr(md5(${key} || ':' || coalesce(${version}::text, '')), 1, 15))::bit(60)::bigint)`;
}

/** One digest query over `relation` (a FROM item with `key` and `version` columns); `bits` at `bitsParam`. */
export function digestsSql(relation: string, bitsParam: string): string {
  return `SELECT ${bucketSql('key', bitsParam)} AS bucket, count(*)::integer AS rows, sum(${versionHashSql('key', 'version')})::text AS sum
FROM ${relation} GROUP BY 1`;
}

/** Digests computed here, row by row (a MongoDB projection stream; tests). */
export function digestBuilder(bits: number): { add(row: KeyVersion): void; digests(): BucketDigest[] } {
  const buckets = new Map<number, { rows: number; sum: bigint }>();
  return {
    add({ key, version }) {
      const bucket = bucketOf(key, bits);
      const digest = buckets.get(bucket) ?? { rows: 0, sum: 0n };
      digest.rows += 1;
      digest.sum += versionHash(key, version);
      buckets.set(bucket, digest);
    },
    digests: () => [...buckets].map(([bucket, digest]) => ({ bucket, ...digest })),
  };
}
