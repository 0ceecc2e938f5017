import type { Logger } from '../../../common/logger.js';
import { z } from 'zod';
import type { SqlDatabase } from '../../../common/sql.js';
import { defaultDocumentLimits, type DocumentLimits } from '../../../events/envelope.js';
import type { HealthCheck } from '../../../transports/transport.js';
import type { FailedOutboxRow, OutboxReader, OutboxRetention, OutboxRow, OutboxWriter } from '../outbox.js';
import { cutReason, digits, logDeadLettered, outboxRowToEvent, type DeadLetteredRow } from '../outbox-row.js';

/** The database holding `tweetbus_outbox` (see `applyOutboxSchema`). Not closed by the outbox. */
export interface PostgresOutboxConnection {
  readonly db: SqlDatabase;
}

export interface PostgresOutboxOptions {
  /** Where unreadable rows are reported; the row's `failed_reason` always says why. */
  readonly logger: Logger;
  /** Limits a row image must meet to be published (the consumer enforces the same ones). */
  readonly limits?: DocumentLimits;
}

/**
 * The outbox in PostgreSQL or PGlite (the same SQL runs on both). It is both the relay's reader
 * (rows the trigger or `append` wrote) and the HTTP ways in's writer.
 *
 * Latency: xmin is cluster-wide, so any long transaction on the server (even in another database)
 * holds rows back until it ends. They are delayed, never skipped.
 *
 * A row that cannot be read as a valid change event (a bad payload, an invalid collection name) is
 * dead-lettered by `readBatch` itself: it is logged, marked failed with the reason, and skipped, so it
 * never blocks the rows behind it and never comes back by itself.
 *
 * Retention (`deletePublished`) skips rows another session has locked, so several instances may run
 * it at once without waiting on each other.
 */
export interface PostgresOutbox extends OutboxReader, OutboxWriter, OutboxRetention, HealthCheck {
  /** Releases nothing: the database was given, so its owner closes it. Harmless to call twice. */
  close(): Promise<void>;
}

/** The longest failure reason stored; longer ones are cut (they come from validation messages). */
const maxReasonLength = 2000;

// int8 comes back as a string from pg and as a (lossy above 2^53) number from PGlite, so the query
// casts seq and version to text.
const rowIdentity = z.object({ id: z.string(), seq: digits });

export const selectColumns = `id, seq::text AS seq, aggregatetype, aggregateid, type, payload, version::text AS version,
  op, source, created_at, correlation_id`;

/** Reads one outbox row as a change event; the columns already have the names and forms the fields want. */
/**
 * The outbox row the capture trigger wrote for the row the current transaction changed last: the
 * last value the outbox's sequence gave in this session, read in that same transaction. The
 * sub-select makes `currval` a constant an index can use, and the conditions on `published_at` and
 * `failed_at` (always true of a row nobody else can see yet) let the relay's partial index on seq
 * answer instead of a scan of the outbox.
 */
export function lastCapturedRowSql(columns: string = selectColumns): string {
  return `SELECT ${columns} FROM tweetbus_outbox
   WHERE seq = (SELECT currval(pg_get_serial_sequence('tweetbus_outbox', 'seq')))
     AND tx_id = pg_current_xact_id() AND published_at IS NULL AND failed_at IS NULL`;
}

/** Reads one outbox row (selected with `selectColumns`) as a change event. */
export function rowToEvent(row: Record<string, unknown>, limits: DocumentLimits) {
  return outboxRowToEvent(
    {
      id: row.id,
      aggregatetype: row.aggregatetype,
      aggregateid: row.aggregateid,
      type: row.type,
      payload: row.payload,
      version: row.version,
      op: row.op,
      source: row.source,
      created_at: row.created_at,
      correlation_id: row.correlation_id,
    },
    limits,
  );
}

export function createPostgresOutbox(connection: PostgresOutboxConnection, options: PostgresOutboxOptions): PostgresOutbox {
  const { db } = connection;
  const logger = options.logger.child({ component: 'postgresOutbox' });
  const limits = options.limits ?? defaultDocumentLimits;

  async function failRows(failures: readonly { id: string; reason: string }[]): Promise<void> {
    if (failures.length === 0) return;
    await db.query(
      `UPDATE tweetbus_outbox AS o
          SET failed_at = now(), failed_reason = f.reason
         FROM unnest($1::text[], $2::text[]) AS f(id, reason)
        WHERE o.id = f.id AND o.published_at IS NULL`,
      [failures.map((f) => f.id), failures.map((f) => cutReason(f.reason, maxReasonLength))],
    );
  }

  return {
    async readBatch(limit) {
      // Only rows of transactions below the snapshot's xmin: a transaction still running may yet commit
      // rows, and per-row marks (not a high-water mark) mean a row that commits late is read later,
      // never skipped. Order by seq, not (tx_id, seq): two changes of one key are serialized by its
      // row lock, so the later one always has the higher seq and version, whichever transaction took
      // its id first; (tx_id, seq) would publish such a key's versions out of order.
      // tweetbus_outbox_pending (sql/postgres/001_outbox.sql) holds the query, with the planner setting
      // that keeps it an ordered index walk; the outer ORDER BY only re-states the order of its rows.
      const result = await db.query(
        `SELECT ${selectColumns}
           FROM tweetbus_outbox_pending($1) AS tweetbus_outbox
          ORDER BY tweetbus_outbox.seq -- the column, not the text alias of the select list`,
        [limit],
      );
      const rows: OutboxRow[] = [];
      const unreadable: DeadLetteredRow[] = [];
      for (const raw of result.rows) {
        const identity = rowIdentity.parse(raw);
        const event = rowToEvent(raw, limits);
        if (event.ok) rows.push({ seq: identity.seq, event: event.value });
        else unreadable.push({ ...identity, reason: event.reason });
      }
      await failRows(unreadable);
      logDeadLettered(logger, unreadable);
      return rows;
    },

    async markPublished(rows) {
      if (rows.length === 0) return;
      await db.query(
        'UPDATE tweetbus_outbox SET published_at = now() WHERE id = ANY($1::text[]) AND published_at IS NULL',
        [rows.map((r) => r.event.id)],
      );
    },

    async republishSince(since) {
      const result = await db.query(
        `UPDATE tweetbus_outbox SET published_at = NULL
          WHERE published_at IS NOT NULL AND failed_at IS NULL AND ($1::timestamptz IS NULL OR published_at >= $1::timestamptz)`,
        [since?.toISOString() ?? null],
      );
      return result.rowCount;
    },

    async markFailed(failures: readonly FailedOutboxRow[]) {
      await failRows(failures.map((f) => ({ id: f.row.event.id, reason: f.reason })));
    },

    async append(events) {
      if (events.length === 0) return;
      // One statement for the whole batch: all of it or none, as a transaction of one INSERT per
      // event was, at a fraction of the round trips (embedded, 500 events: one statement instead of
      // 500). Rows take their seq in the batch's order; an id already there, or twice in the batch,
      // keeps its first row.
      const rows = events.map((e, n) => ({
        n,
        id: e.id,
        collection: e.collection,
        key: e.key,
        type: e.type,
        data: e.data,
        version: e.version.toString(),
        op: e.op,
        source: e.source,
        created_at: e.createdAt,
        correlation_id: e.correlationId ?? null,
      }));
      await db.query(
        `INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at, correlation_id)
         SELECT id, collection, key, type, data, version, op, source, created_at, correlation_id
           FROM jsonb_to_recordset($1::jsonb)
             AS e(n integer, id text, collection text, key text, type text, data jsonb, version bigint, op text, source text, created_at timestamptz, correlation_id text)
          ORDER BY n
         ON CONFLICT (id) DO NOTHING`,
        [JSON.stringify(rows)],
      );
    },

    async deletePublished(before, limit) {
      // `= ANY(ARRAY(…))` rather than `IN (…)`: the planner turns IN into a semi-join that scans the
      // whole table, while an array is looked up through the primary key. The subquery walks
      // tweetbus_outbox_published oldest first and stops after `limit` entries. By id rather than ctid,
      // because a ctid can go stale under a concurrent update; an id cannot.
      const result = await db.query(
        `DELETE FROM tweetbus_outbox
          WHERE id = ANY(ARRAY(
            SELECT id FROM tweetbus_outbox
             WHERE published_at < $1::timestamptz AND failed_at IS NULL
             ORDER BY published_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED))`,
        [before.toISOString(), limit],
      );
      return result.rowCount;
    },

    async check() {
      await db.query('SELECT 1 FROM tweetbus_outbox LIMIT 0');
    },

    async close() {
      // The database was given; its owner closes it.
    },
  };
}
