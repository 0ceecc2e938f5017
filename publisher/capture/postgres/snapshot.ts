import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { ConfigError } from '../../../common/errors.js';
import type { SqlDatabase } from '../../../common/sql.js';

/**
 * Snapshots of captured tables on PostgreSQL and PGlite: the current image of every row, enqueued
 * into the outbox as upserts at fresh versions, a chunk of the key at a time, so rows that were there
 * before the capture trigger (or that a read model lost) reach the read model. The relay sends them
 * like any change. Why live changes never lose to a snapshot: `tweetbus_snapshot_chunk` in
 * `sql/postgres/001_outbox.sql`, and docs/design-notes.md.
 */

/** A table the capture trigger is attached to, as `tweetbus_captured_tables()` lists it. */
export interface CapturedTable {
  /** As PostgreSQL names it: schema-qualified when the schema is not on the search path. */
  readonly table: string;
  readonly collection: string;
  readonly keyColumn: string;
}

export interface SnapshotProgress {
  readonly table: string;
  readonly collection: string;
  /** Rows enqueued so far by this snapshot, resumed chunks included. */
  readonly enqueued: number;
  /** The table's rows when the snapshot started (rows come and go while it runs). */
  readonly total: number;
}

export interface SnapshotResult {
  readonly table: string;
  readonly collection: string;
  /** Rows this run enqueued (a resumed snapshot's earlier chunks not counted). */
  readonly enqueued: number;
  /** Whether it went on from the last chunk of an unfinished snapshot. */
  readonly resumed: boolean;
  readonly ms: number;
  /** Stopped by its signal before the last chunk: unfinished, to go on next time. */
  readonly stopped: boolean;
}

export interface SnapshotOptions {
  /** Rows per chunk, each one transaction; their rows' writers wait that long at most. Default 1000. */
  readonly chunkSize?: number;
  /** Stops between chunks (the snapshot stays unfinished, and goes on after its last chunk next time). */
  readonly signal?: AbortSignal;
  /** Called after each chunk committed; the next chunk waits for it. */
  readonly onProgress?: (progress: SnapshotProgress) => void | Promise<void>;
}

export const defaultSnapshotChunkSize = 1_000;

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
  const all = await capturedTables(db);
  const tables = all.filter((t) => t.collection === collection);
  if (tables.length > 0) return tables;
  const known = [...new Set(all.map((t) => t.collection))];
  throw new ConfigError([
    `no table is captured into collection "${collection}": ${known.length === 0 ? 'no table has the tweetbus_capture() trigger' : `the captured collections are ${known.map((c) => `"${c}"`).join(', ')}`}`,
  ]);
}

/** Whether a snapshot of `table` into `collection` ever finished (SNAPSHOT_ON_ATTACH runs one only then). */
export async function snapshotFinished(db: SqlDatabase, table: CapturedTable): Promise<boolean> {
  const result = await db.query('SELECT finished_at IS NOT NULL AS finished FROM tweetbus_snapshots WHERE table_name = $1 AND collection = $2', [table.table, table.collection]);
  return z.object({ finished: z.boolean() }).optional().parse(result.rows[0])?.finished === true;
}

/**
 * Enqueues the current image of every row of `table`, chunk by chunk, each chunk and its progress in
 * one transaction. An unfinished snapshot of the same table and collection (the process died) goes on
 * after its last chunk; otherwise a new one starts from the first key.
 */
export async function snapshotTable(db: SqlDatabase, table: CapturedTable, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  const chunkSize = options.chunkSize ?? defaultSnapshotChunkSize;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new ConfigError([`the snapshot's chunk size must be a positive whole number, not ${String(chunkSize)}`]);
  const started = performance.now();
  const before = await db.query('SELECT last_key, rows_enqueued, finished_at FROM tweetbus_snapshots WHERE table_name = $1 AND collection = $2', [table.table, table.collection]);
  const state = before.rows[0] === undefined ? undefined : stateSchema.parse(before.rows[0]);
  const resumed = state !== undefined && state.finished_at === null;
  if (!resumed) {
    await db.query(
      `INSERT INTO tweetbus_snapshots (table_name, collection) VALUES ($1, $2)
       ON CONFLICT (table_name, collection) DO UPDATE SET started_at = now(), last_key = NULL, rows_enqueued = 0, finished_at = NULL`,
      [table.table, table.collection],
    );
  }
  const counted = await db.query('SELECT tweetbus_count_rows($1::regclass) AS total', [table.table]);
  const total = countSchema.parse(counted.rows[0]).total;
  let lastKey = resumed ? state.last_key : null;
  let enqueued = resumed ? state.rows_enqueued : 0;
  let thisRun = 0;
  let stopped = false;
  for (;;) {
    const chunk = await db.transaction(async (tx) => {
      const result = await tx.query('SELECT enqueued, last_key FROM tweetbus_snapshot_chunk($1::regclass, $2, $3, $4, $5)', [table.table, table.collection, table.keyColumn, lastKey, chunkSize]);
      const done = chunkSchema.parse(result.rows[0]);
      await tx.query(
        `UPDATE tweetbus_snapshots
            SET last_key = coalesce($3, last_key), rows_enqueued = rows_enqueued + $4,
                finished_at = CASE WHEN $4 < $5 THEN now() END
          WHERE table_name = $1 AND collection = $2`,
        [table.table, table.collection, done.last_key, done.enqueued, chunkSize],
      );
      return done;
    });
    enqueued += chunk.enqueued;
    thisRun += chunk.enqueued;
    if (chunk.last_key !== null) lastKey = chunk.last_key;
    await options.onProgress?.({ table: table.table, collection: table.collection, enqueued, total });
    if (chunk.enqueued < chunkSize) break;
    if (options.signal?.aborted === true) {
      stopped = true;
      break;
    }
  }
  return { table: table.table, collection: table.collection, enqueued: thisRun, resumed, ms: performance.now() - started, stopped };
}

/** A snapshot's rate: rows enqueued per second of its run. */
export function rowsPerSecond(result: SnapshotResult): number {
  return result.ms > 0 ? Math.round(result.enqueued / (result.ms / 1000)) : result.enqueued;
}

/**
 * SNAPSHOT_ON_ATTACH: snapshots each captured table whose snapshot never finished (a table seen for
 * the first time, or one whose snapshot was cut short), once, and records it. Two publishers that
 * start together may both snapshot a new table: the second copy of each row is a duplicate at a
 * higher version, which the read model applies harmlessly.
 */
export async function snapshotOnAttach(db: SqlDatabase, options: { readonly chunkSize?: number; readonly signal?: AbortSignal; readonly onDone?: (result: SnapshotResult) => void }): Promise<SnapshotResult[]> {
  const results: SnapshotResult[] = [];
  for (const table of await capturedTables(db)) {
    if (options.signal?.aborted === true) break;
    if (await snapshotFinished(db, table)) continue;
    const result = await snapshotTable(db, table, { chunkSize: options.chunkSize, signal: options.signal });
    options.onDone?.(result);
    results.push(result);
  }
  return results;
}
