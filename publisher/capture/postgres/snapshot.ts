import { z } from 'zod';
import type { SqlDatabase } from '../../../common/sql.js';
import { runSnapshot, tablesOf, type CapturedTable, type SnapshotOptions, type SnapshotResult, type SnapshotStore, type SnapshotTarget } from '../snapshot.js';

/**
 * Snapshots on PostgreSQL and PGlite (publisher/capture/snapshot.ts): each chunk is
 * `tweetbus_snapshot_chunk` in sql/postgres/001_outbox.sql, which reads its rows FOR SHARE and
 * versions each after its lock.
 */

const capturedSchema = z.object({ table_name: z.string(), collection: z.string(), key_column: z.string() });
const stateSchema = z.object({ last_key: z.string().nullable(), rows_enqueued: z.coerce.number(), finished_at: z.unknown() });
const chunkSchema = z.object({ enqueued: z.number().int(), last_key: z.string().nullable() });
const countSchema = z.object({ total: z.coerce.number() });

/** Every table this outbox captures, with its collection and key column. */
export async function capturedTables(db: SqlDatabase): Promise<CapturedTable[]> {
  const result = await db.query('SELECT table_name, collection, key_column FROM tweetbus_captured_tables()');
  return result.rows.map((row) => {
    const { table_name: table, collection, key_column: keyColumn } = capturedSchema.parse(row);
    return { table, collection, keyColumn };
  });
}

/** The captured tables of `collection`; a ConfigError naming the collections there are when none is. */
export async function capturedTablesOf(db: SqlDatabase, collection: string): Promise<CapturedTable[]> {
  return tablesOf(await capturedTables(db), collection);
}

/** The snapshot primitives on PostgreSQL and PGlite. */
export function postgresSnapshotStore(db: SqlDatabase): SnapshotStore {
  return {
    async state(table) {
      const result = await db.query('SELECT last_key, rows_enqueued, finished_at FROM tweetbus_snapshots WHERE table_name = $1 AND collection = $2', [table.table, table.collection]);
      if (result.rows[0] === undefined) return undefined;
      const state = stateSchema.parse(result.rows[0]);
      return { lastKey: state.last_key, rowsEnqueued: state.rows_enqueued, finished: state.finished_at !== null };
    },
    async restart(table) {
      await db.query(
        `INSERT INTO tweetbus_snapshots (table_name, collection) VALUES ($1, $2)
         ON CONFLICT (table_name, collection) DO UPDATE SET started_at = now(), last_key = NULL, rows_enqueued = 0, finished_at = NULL`,
        [table.table, table.collection],
      );
    },
    async count(table) {
      const counted = await db.query('SELECT tweetbus_count_rows($1::regclass) AS total', [table.table]);
      return countSchema.parse(counted.rows[0]).total;
    },
    chunk: (table, afterKey, maxRows) =>
      db.transaction(async (tx) => {
        const result = await tx.query('SELECT enqueued, last_key FROM tweetbus_snapshot_chunk($1::regclass, $2, $3, $4, $5)', [table.table, table.collection, table.keyColumn, afterKey, maxRows]);
        const done = chunkSchema.parse(result.rows[0]);
        await tx.query(
          `UPDATE tweetbus_snapshots
              SET last_key = coalesce($3, last_key), rows_enqueued = rows_enqueued + $4,
                  finished_at = CASE WHEN $4 < $5 THEN now() END
            WHERE table_name = $1 AND collection = $2`,
          [table.table, table.collection, done.last_key, done.enqueued, maxRows],
        );
        return { enqueued: done.enqueued, lastKey: done.last_key, finished: done.enqueued < maxRows };
      }),
  };
}

/** What snapshots need of PostgreSQL or PGlite: its captured tables and its chunks. */
export function postgresSnapshotTarget(db: SqlDatabase): SnapshotTarget {
  return { tables: () => capturedTables(db), store: postgresSnapshotStore(db) };
}

/** Enqueues the current image of every row of `table` (`runSnapshot` on PostgreSQL or PGlite). */
export function snapshotTable(db: SqlDatabase, table: CapturedTable, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  return runSnapshot(postgresSnapshotStore(db), table, options);
}
