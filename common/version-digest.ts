/**
 * How `npm run verify` compares a write table with a read model without reading every row twice
 * (docs/design-notes.md, "Verify: hash buckets of (key, version)"):
 *
 * - every (key, version) pair is hashed once (PostgreSQL's `hashtextextended` of `key:version`, which
 *   `pgHashTextExtended` computes alike), and goes to a bucket by the top `bits` bits of the hash, so
 *   the two sides agree on the buckets whatever their key types and collations. A key at two versions
 *   falls in two buckets, one on each side; both differ, both are listed, and there the key is found;
 * - a bucket's digest is its row count and the sum of its pairs' low 48 hash bits, computed where the
 *   rows are (SQL on PostgreSQL and PGlite, a projection stream on MongoDB) and sent as one row;
 * - only the pairs of buckets whose digests differ are listed and compared.
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

/**
 * PostgreSQL's `hashtextextended(text, seed)`: Bob Jenkins' lookup3 hash as `hash_bytes_extended` in
 * PostgreSQL's src/common/hashfn.c computes it on a little-endian machine, over the text's UTF-8 bytes
 * (a deterministic collation hashes the bytes). A signed 64-bit value, as SQL returns it. It is about
 * ten times cheaper in SQL than md5, which would dominate a scan.
 */
export function pgHashTextExtended(text: string, seed = 0n): bigint {
  const bytes = Buffer.from(text, 'utf8');
  let a = (0x9e3779b9 + bytes.length + 3923095) >>> 0;
  let b = a;
  let c = a;
  const rot = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const mix = (): void => {
    a = ((a - c) >>> 0) ^ rot(c, 4);
    c = (c + b) >>> 0;
    b = ((b - a) >>> 0) ^ rot(a, 6);
    a = (a + c) >>> 0;
    c = ((c - b) >>> 0) ^ rot(b, 8);
    b = (b + a) >>> 0;
    a = ((a - c) >>> 0) ^ rot(c, 16);
    c = (c + b) >>> 0;
    b = ((b - a) >>> 0) ^ rot(a, 19);
    a = (a + c) >>> 0;
    c = ((c - b) >>> 0) ^ rot(b, 4);
    b = (b + a) >>> 0;
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
  };
  if (seed !== 0n) {
    a = (a + Number((seed >> 32n) & 0xffffffffn)) >>> 0;
    b = (b + Number(seed & 0xffffffffn)) >>> 0;
    mix();
  }
  let at = 0;
  for (; bytes.length - at >= 12; at += 12) {
    a = (a + bytes.readUInt32LE(at)) >>> 0;
    b = (b + bytes.readUInt32LE(at + 4)) >>> 0;
    c = (c + bytes.readUInt32LE(at + 8)) >>> 0;
    mix();
  }
  // The last 0-11 bytes: four into a, four into b, three into c above its lowest byte.
  for (let i = 0; at + i < bytes.length; i += 1) {
    const byte = bytes[at + i] ?? 0;
    if (i < 4) a = (a + byte * 2 ** (8 * i)) >>> 0;
    else if (i < 8) b = (b + byte * 2 ** (8 * (i - 4))) >>> 0;
    else c = (c + byte * 2 ** (8 * (i - 7))) >>> 0;
  }
  c = ((c ^ b) - rot(b, 14)) >>> 0;
  a = ((a ^ c) - rot(c, 11)) >>> 0;
  b = ((b ^ a) - rot(a, 25)) >>> 0;
  c = ((c ^ b) - rot(b, 16)) >>> 0;
  a = ((a ^ c) - rot(c, 4)) >>> 0;
  b = ((b ^ a) - rot(a, 14)) >>> 0;
  c = ((c ^ b) - rot(b, 24)) >>> 0;
  return BigInt.asIntN(64, (BigInt(b) << 32n) | BigInt(c));
}

/** The 64-bit hash of a (key, version) pair: of `key:version`, or `key:` for a row with no version. */
function pairHash64(row: KeyVersion): bigint {
  return pgHashTextExtended(`${row.key}:${row.version === null ? '' : row.version.toString()}`);
}

/** A pair's share of its bucket's sum: the hash's low 48 bits; the bucket comes from the 16 above them. */
const hashBits = 48;
const hashMask = (1n << BigInt(hashBits)) - 1n;
const bucketMask = (1 << maxBucketBits) - 1;

function bucketOfHash(hash: bigint, bits: number): number {
  return Number((hash >> BigInt(hashBits)) & BigInt(bucketMask)) >>> (maxBucketBits - bits);
}

/** The bucket of a (key, version) pair: the top `bits` bits of its hash, as SQL's `hashedSql` computes it. */
export function bucketOf(row: KeyVersion, bits: number): number {
  return bucketOfHash(pairHash64(row), bits);
}

/** The pair's hash that bucket sums add up: the low 48 bits, apart from the bucket's. */
export function pairHash(row: KeyVersion): bigint {
  return pairHash64(row) & hashMask;
}

/**
 * `relation` (a FROM item with `key` and `version` columns) with each pair's bucket (`bits` at
 * `bitsParam`) and 48-bit hash beside it: one hash a row.
 */
function hashedSql(relation: string, bitsParam: string): string {
  return `(SELECT *, (((pair_hash64 >> ${hashBits}) & ${bucketMask}) >> (${maxBucketBits} - ${bitsParam}))::integer AS bucket, pair_hash64 & ${hashMask} AS pair_hash
 FROM (SELECT *, hashtextextended(key || ':' || coalesce(version::text, ''), 0) AS pair_hash64 FROM ${relation}) pairs) hashed`;
}

/** The digest of each non-empty bucket of `relation`. */
export function digestsSql(relation: string, bitsParam: string): string {
  return `SELECT bucket, count(*)::integer AS rows, sum(pair_hash)::text AS sum FROM ${hashedSql(relation, bitsParam)} GROUP BY bucket`;
}

/** `columns` of the rows of `relation` in the buckets at `bucketsParam` (an integer[]). */
export function inBucketsSql(relation: string, columns: string, bitsParam: string, bucketsParam: string): string {
  return `SELECT ${columns} FROM ${hashedSql(relation, bitsParam)} WHERE bucket = ANY (${bucketsParam})`;
}

/** Digests computed here, row by row (a MongoDB projection stream; tests). */
export function digestBuilder(bits: number): { add(row: KeyVersion): void; digests(): BucketDigest[] } {
  const buckets = new Map<number, { rows: number; sum: bigint }>();
  return {
    add(row) {
      const hash = pairHash64(row);
      const bucket = bucketOfHash(hash, bits);
      const digest = buckets.get(bucket) ?? { rows: 0, sum: 0n };
      digest.rows += 1;
      digest.sum += hash & hashMask;
      buckets.set(bucket, digest);
    },
    digests: () => [...buckets].map(([bucket, digest]) => ({ bucket, ...digest })),
  };
}
