import { z } from 'zod';
import type { SqlDatabase } from '../../../common/sql.js';
import { digestsSql, inBucketsSql, type KeyVersion, type VersionInventory } from '../../../common/version-digest.js';
import { ConfigError } from '../../../common/errors.js';
import type { CapturedTable } from '../snapshot.js';
import { capturedTablesOf } from './snapshot.js';

/**
 * The write side of `npm run verify`, on PostgreSQL and PGlite: each row of a captured table as the
 * read model must hold it, (key, version), with the version from the register the capture trigger
 * keeps (`tweetbus_table_versions` in sql/postgres/001_outbox.sql). Digests are computed in the
 * database, so only one row per bucket crosses the wire.
 */
export function tableInventory(db: SqlDatabase, table: CapturedTable): VersionInventory {
  const rows = 'tweetbus_table_versions($1::regclass, $2, $3) AS rows';
  const params = [table.table, table.collection, table.keyColumn];
  return {
    async count() {
      // The table's own count (an index or heap scan), not the register join the digests need.
      const result = await db.query('SELECT tweetbus_count_rows($1::regclass)::integer AS rows', [table.table]);
      return countSchema.parse(result.rows[0]).rows;
    },
    async digests(bits) {
      const result = await db.query(digestsSql(rows, '$4::integer'), [...params, bits]);
      return result.rows.map((row) => {
        const { bucket, rows: count, sum } = digestSchema.parse(row);
        return { bucket, rows: count, sum: BigInt(sum) };
      });
    },
    async inBuckets(bits, buckets) {
      const result = await db.query(inBucketsSql(rows, 'to_jsonb(key) AS key, version::text AS version', '$4::integer', '$5::integer[]'), [
        ...params,
        bits,
        [...buckets],
      ]);
      return result.rows.map(toKeyVersion);
    },
    async versionsOf(keys) {
      if (keys.length === 0) return [];
      const result = await db.query(`SELECT to_jsonb(key) AS key, version::text AS version FROM ${rows} WHERE key = ANY ($4::text[])`, [...params, [...keys]]);
      return result.rows.map(toKeyVersion);
    },
  };
}

/** The `source` the table's events carry: its name, as the capture trigger writes it. */
export async function tableSource(db: SqlDatabase, table: CapturedTable): Promise<string> {
  const result = await db.query('SELECT tweetbus_table_source($1::regclass) AS source', [table.table]);
  return z.object({ source: z.string() }).parse(result.rows[0]).source;
}

/** What verify and heal need of the write side of one collection. */
export interface TableSide {
  readonly table: CapturedTable;
  readonly inventory: VersionInventory;
  /** The `source` of the table's events (`findDrift`'s `owner`). */
  readonly owner: string;
  readonly resend: (keys: readonly string[], above: bigint) => Promise<ResendResult>;
}

/** The one table captured into `collection`, as verify reads and heals it; a ConfigError when there is none, or several. */
export async function tableSideOf(db: SqlDatabase, collection: string): Promise<TableSide> {
  const tables = await capturedTablesOf(db, collection);
  const [table] = tables;
  if (table === undefined || tables.length > 1) {
    throw new ConfigError([`verify compares one table with its collection; ${tables.map((t) => t.table).join(' and ')} are all captured into "${collection}"`]);
  }
  return { table, inventory: tableInventory(db, table), owner: await tableSource(db, table), resend: (keys, above) => resendKeys(db, table, keys, above) };
}

export interface ResendResult {
  /** Keys still in the table, sent as upserts of their current row. */
  readonly upserts: number;
  /** Keys gone from the table, sent as deletes. */
  readonly deletes: number;
}

/**
 * Heals drifted keys (`tweetbus_resend_keys`): each key still in the table is enqueued as an upsert of
 * its current row, each key gone from it as a delete, all in one transaction, at versions above
 * `above` (the highest version the read model holds for them), so the version gate applies every one.
 */
export async function resendKeys(db: SqlDatabase, table: CapturedTable, keys: readonly string[], above: bigint): Promise<ResendResult> {
  if (keys.length === 0) return { upserts: 0, deletes: 0 };
  const result = await db.query('SELECT upserts, deletes FROM tweetbus_resend_keys($1::regclass, $2, $3, $4::text[], $5::bigint)', [
    table.table,
    table.collection,
    table.keyColumn,
    [...keys],
    above.toString(),
  ]);
  return resendSchema.parse(result.rows[0]);
}

const countSchema = z.object({ rows: z.number().int() });
const digestSchema = z.object({ bucket: z.number().int(), rows: z.number().int(), sum: z.string().regex(/^\d+$/) });
const keyVersionSchema = z.object({ key: z.string(), version: z.string().regex(/^-?\d+$/).nullable() });
const resendSchema = z.object({ upserts: z.number().int(), deletes: z.number().int() });

function toKeyVersion(row: Record<string, unknown>): KeyVersion {
  const { key, version } = keyVersionSchema.parse(row);
  return { key, version: version === null ? null : BigInt(version) };
}
