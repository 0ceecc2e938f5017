import { performance } from 'node:perf_hooks';
import { sleep as pause } from '../common/backoff.js';
import { bucketBitsFor, type BucketDigest, type KeyVersion, type VersionInventory } from '../common/version-digest.js';

/**
 * How a key of the read model differs from its write table:
 * - `missing`: a row of the table with no live document;
 * - `extra`: a live document whose row is gone (a lost delete, or a deleted row brought back);
 * - `behind`: a document at an older version than the row's last change (a lost update, or a version
 *   lowered by hand);
 * - `ahead`: a document at a newer version than the row's last change (a trusted hand-typed post, or
 *   a version raised by hand);
 * - `unversioned`: a document for a row no change, snapshot or heal ever enqueued (the row predates
 *   the capture trigger), so nothing says which version it should hold.
 */
export type DriftKind = 'missing' | 'extra' | 'behind' | 'ahead' | 'unversioned';

export const driftKinds: readonly DriftKind[] = ['missing', 'extra', 'behind', 'ahead', 'unversioned'];

export interface Drift {
  readonly key: string;
  readonly kind: DriftKind;
  /** The row's version in the write table; `null` when none is recorded, absent when there is no row. */
  readonly tableVersion?: bigint | null;
  /** The live document's version; absent when there is none. */
  readonly readModelVersion?: bigint;
  /** Who wrote the live document, when not the table (a trusted author's hand-typed post). */
  readonly readModelSource?: string;
}

export interface DriftReport {
  readonly tableRows: number;
  readonly readModelRows: number;
  /** How many hash buckets were compared, and in how many the digests differed. */
  readonly buckets: number;
  readonly differingBuckets: number;
  /** Keys listed from the differing buckets, both sides together: what was read beyond the digests. */
  readonly keysListed: number;
  /** Keys that still differed when the settling time was over, in key order (code points). */
  readonly drift: readonly Drift[];
  readonly ms: number;
}

export interface FindDriftOptions {
  /**
   * Changes in flight (in the outbox, on the transport) look like drift for a moment: a differing key
   * is read again on both sides every `pollMs` until it agrees or `settleMs` has passed. Default 3 s.
   */
  readonly settleMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The `source` the table's events carry (its name). A live document of another source whose key the
   * table does not hold is someone else's (a hand-typed post's own document, `GET /order`'s), not drift.
   */
  readonly owner?: string;
}

export const defaultSettleMs = 3_000;

/**
 * Compares a write table with a read model (common/version-digest.ts): counts the table, digests both
 * sides in buckets of about 16 keys, lists the keys of the buckets whose digests differ, and reads
 * those that differ again until they settle. When nothing differs, nothing beyond the digests is read.
 */
export async function findDrift(table: VersionInventory, readModel: VersionInventory, options: FindDriftOptions = {}): Promise<DriftReport> {
  const started = performance.now();
  const settleMs = options.settleMs ?? defaultSettleMs;
  const pollMs = options.pollMs ?? 250;
  const sleep = options.sleep ?? ((ms: number) => pause(ms));

  const [tableCount, readModelCount] = await Promise.all([table.count(), readModel.count()]);
  const bits = bucketBitsFor(Math.max(tableCount, readModelCount));
  const [tableDigests, readModelDigests] = await Promise.all([table.digests(bits), readModel.digests(bits)]);
  const differing = differingBuckets(tableDigests, readModelDigests);
  let keysListed = 0;
  let drift: Drift[] = [];
  if (differing.length > 0) {
    const [tableRows, readModelRows] = await Promise.all([table.inBuckets(bits, differing), readModel.inBuckets(bits, differing)]);
    keysListed = tableRows.length + readModelRows.length;
    drift = compare(tableRows, readModelRows, options.owner);
    const deadline = performance.now() + settleMs;
    while (drift.length > 0 && performance.now() < deadline) {
      await sleep(Math.min(pollMs, Math.max(0, deadline - performance.now())));
      const keys = drift.map((d) => d.key);
      const [tableNow, readModelNow] = await Promise.all([table.versionsOf(keys), readModel.versionsOf(keys)]);
      drift = compare(tableNow, readModelNow, options.owner);
    }
  }
  return {
    tableRows: tableCount,
    readModelRows: readModelCount,
    buckets: 2 ** bits,
    differingBuckets: differing.length,
    keysListed,
    drift,
    ms: performance.now() - started,
  };
}

/** The buckets whose digests differ, a bucket present on one side only included. */
export function differingBuckets(a: readonly BucketDigest[], b: readonly BucketDigest[]): number[] {
  const other = new Map(b.map((digest) => [digest.bucket, digest]));
  const differ = new Set<number>();
  for (const digest of a) {
    const twin = other.get(digest.bucket);
    if (twin === undefined || twin.rows !== digest.rows || twin.sum !== digest.sum) differ.add(digest.bucket);
    other.delete(digest.bucket);
  }
  for (const bucket of other.keys()) differ.add(bucket);
  return [...differ].sort((x, y) => x - y);
}

/**
 * The keys whose (key, version) differ between the two listings, classified, in key order. With an
 * `owner`, documents of other sources count only where the table holds their key.
 */
export function compare(tableRows: readonly KeyVersion[], readModelRows: readonly KeyVersion[], owner?: string): Drift[] {
  const inTable = new Map(tableRows.map((row) => [row.key, row]));
  const inReadModel = new Map(readModelRows.map((row) => [row.key, row]));
  const drift: Drift[] = [];
  for (const key of new Set([...inTable.keys(), ...inReadModel.keys()])) {
    const stored = inReadModel.get(key);
    const foreign = owner !== undefined && stored?.source !== undefined && stored.source !== owner ? stored.source : undefined;
    const found = classify(key, inTable.get(key), stored?.version ?? undefined);
    if (found === undefined || (found.kind === 'extra' && foreign !== undefined)) continue;
    drift.push(foreign === undefined ? found : { ...found, readModelSource: foreign });
  }
  return drift.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

function classify(key: string, row: KeyVersion | undefined, stored: bigint | undefined): Drift | undefined {
  if (row === undefined) return stored === undefined ? undefined : { key, kind: 'extra', readModelVersion: stored };
  if (stored === undefined) return { key, kind: 'missing', tableVersion: row.version };
  if (row.version === null) return { key, kind: 'unversioned', tableVersion: null, readModelVersion: stored };
  if (stored === row.version) return undefined;
  return { key, kind: stored < row.version ? 'behind' : 'ahead', tableVersion: row.version, readModelVersion: stored };
}

/** How many keys drift, by kind. */
export function driftCounts(drift: readonly Drift[]): Record<DriftKind, number> {
  const counts: Record<DriftKind, number> = { missing: 0, extra: 0, behind: 0, ahead: 0, unversioned: 0 };
  for (const d of drift) counts[d.kind] += 1;
  return counts;
}
