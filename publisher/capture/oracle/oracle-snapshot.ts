import oracledb from 'oracledb';
import { z } from 'zod';
import type { Logger } from '../../../common/logger.js';
import { type CapturedTable, type SnapshotStore, type SnapshotTarget } from '../snapshot.js';
import { inOracleTransaction, withOracleConnection, type OraclePool } from './oracle-outbox.js';
import { identifier } from './oracle-url.js';

/**
 * Snapshots on Oracle (publisher/capture/snapshot.ts). Oracle builds each table's row image in that
 * table's own trigger, so each captured table has its own chunk procedure beside it
 * (`dvx_orders_snapshot_chunk` in sql/oracle/010_orders.sql), listed in `tweetbus_captured`; a chunk
 * and its progress in `tweetbus_snapshots` commit together.
 */

export interface OracleSnapshotOptions {
  /** The schema that owns the outbox and the captured tables, when the connecting user is another one (`?schema=`). */
  readonly schema?: string;
  readonly logger: Logger;
}

const capturedRow = z.object({ TABLE_NAME: z.string(), COLLECTION: z.string(), KEY_COLUMN: z.string(), CHUNK_PROCEDURE: z.string().regex(identifier) });
const stateRow = z.object({ LAST_KEY: z.string().nullable(), ROWS_ENQUEUED: z.number(), FINISHED: z.number() });
const countRow = z.object({ TOTAL: z.number() });
const chunkOut = z.object({ enqueued: z.number(), last_key: z.string().nullable(), last: z.number() });
const asObjects = { outFormat: oracledb.OUT_FORMAT_OBJECT } as const;

function qualifier(schema: string | undefined): string {
  if (schema === undefined) return '';
  if (!identifier.test(schema)) throw new RangeError('schema must be an unquoted Oracle identifier (letters, digits, _ $ #)');
  return `${schema}.`;
}

/** The tables snapshots can read, each with its chunk procedure (by table and collection). */
async function captured(pool: OraclePool, options: OracleSnapshotOptions): Promise<(CapturedTable & { readonly chunkProcedure: string })[]> {
  const owner = qualifier(options.schema);
  const result = await withOracleConnection(pool, options.logger, (connection) =>
    connection.execute(`SELECT table_name, collection, key_column, chunk_procedure FROM ${owner}tweetbus_captured ORDER BY table_name, collection`, [], asObjects),
  );
  return (result.rows ?? []).map((row) => {
    const parsed = capturedRow.parse(row);
    return { table: parsed.TABLE_NAME, collection: parsed.COLLECTION, keyColumn: parsed.KEY_COLUMN, chunkProcedure: `${owner}${parsed.CHUNK_PROCEDURE}` };
  });
}

/** What snapshots need of Oracle: its captured tables and its chunks. */
export function oracleSnapshotTarget(pool: OraclePool, options: OracleSnapshotOptions): SnapshotTarget {
  return { tables: () => captured(pool, options), store: oracleSnapshotStore(pool, options) };
}

/** The snapshot primitives on Oracle. */
export function oracleSnapshotStore(pool: OraclePool, options: OracleSnapshotOptions): SnapshotStore {
  const owner = qualifier(options.schema);
  const { logger } = options;
  let procedures: Promise<Map<string, string>> | undefined;
  async function chunkProcedure(table: CapturedTable): Promise<string> {
    procedures ??= captured(pool, options).then((all) => new Map(all.map((t) => [`${t.table}\u0000${t.collection}`, t.chunkProcedure])));
    const procedure = (await procedures).get(`${table.table}\u0000${table.collection}`);
    if (procedure === undefined) throw new Error(`${table.table} is not listed in ${owner}tweetbus_captured for collection ${table.collection}`);
    return procedure;
  }
  const where = 'table_name = :table_name AND collection = :collection';
  const keyOf = (table: CapturedTable) => ({ table_name: table.table, collection: table.collection });
  return {
    async state(table) {
      const result = await withOracleConnection(pool, logger, (connection) =>
        connection.execute(
          `SELECT last_key, rows_enqueued, CASE WHEN finished_at IS NULL THEN 0 ELSE 1 END AS finished FROM ${owner}tweetbus_snapshots WHERE ${where}`,
          keyOf(table),
          asObjects,
        ),
      );
      const row = result.rows?.[0];
      if (row === undefined) return undefined;
      const state = stateRow.parse(row);
      return { lastKey: state.LAST_KEY, rowsEnqueued: state.ROWS_ENQUEUED, finished: state.FINISHED === 1 };
    },
    async restart(table) {
      await inOracleTransaction(pool, logger, (connection) =>
        connection.execute(
          `MERGE INTO ${owner}tweetbus_snapshots s
           USING (SELECT :table_name AS table_name, :collection AS collection FROM dual) t
              ON (s.table_name = t.table_name AND s.collection = t.collection)
            WHEN MATCHED THEN UPDATE SET s.started_at = SYSTIMESTAMP, s.last_key = NULL, s.rows_enqueued = 0, s.finished_at = NULL
            WHEN NOT MATCHED THEN INSERT (table_name, collection) VALUES (t.table_name, t.collection)`,
          keyOf(table),
        ),
      );
    },
    async count(table) {
      if (!identifier.test(table.table)) throw new RangeError(`${table.table} is not an unquoted Oracle identifier`);
      const result = await withOracleConnection(pool, logger, (connection) => connection.execute(`SELECT COUNT(*) AS total FROM ${owner}${table.table}`, [], asObjects));
      return countRow.parse(result.rows?.[0]).TOTAL;
    },
    async chunk(table, afterKey, maxRows) {
      const procedure = await chunkProcedure(table);
      return inOracleTransaction(pool, logger, async (connection) => {
        const result = await connection.execute(`BEGIN ${procedure}(:after_key, :max_rows, :enqueued, :last_key, :last); END;`, {
          after_key: afterKey,
          max_rows: maxRows,
          enqueued: { dir: oracledb.BIND_OUT, type: oracledb.DB_TYPE_NUMBER },
          last_key: { dir: oracledb.BIND_OUT, type: oracledb.DB_TYPE_VARCHAR, maxSize: 4000 },
          last: { dir: oracledb.BIND_OUT, type: oracledb.DB_TYPE_NUMBER },
        });
        const done = chunkOut.parse(result.outBinds);
        await connection.execute(
          `UPDATE ${owner}tweetbus_snapshots
              SET last_key = NVL(:last_key, last_key), rows_enqueued = rows_enqueued + :enqueued,
                  finished_at = CASE WHEN :last = 1 THEN SYSTIMESTAMP END
            WHERE ${where}`,
          { ...keyOf(table), last_key: done.last_key, enqueued: done.enqueued, last: done.last },
        );
        return { enqueued: done.enqueued, lastKey: done.last_key, finished: done.last === 1 };
      });
    },
  };
}
