import type { Logger } from '../../../common/logger.js';
import oracledb from 'oracledb';
import type { BindDefinition, Connection, ExecuteOptions } from 'oracledb';
import { z } from 'zod';
import { defaultDocumentLimits, type ChangeEvent, type DocumentLimits, type ParseResult } from '../../../events/envelope.js';
import type { HealthCheck } from '../../../transports/transport.js';
import type { FailedOutboxRow, OutboxReader, OutboxRetention, OutboxRow, OutboxWriter } from '../outbox.js';
import { cutReason, digits, logDeadLettered, notAnEvent, outboxRowToEvent, unexpectedColumns, type DeadLetteredRow } from '../outbox-row.js';
import { identifier, parseOracleUrl } from './oracle-url.js';

export { parseOracleUrl, type OracleConnectOptions } from './oracle-url.js';

/** The calls the outbox makes on one connection; a node-oracledb Connection has them, and tests fake them. */
export type OracleConnection = Pick<Connection, 'execute' | 'executeMany' | 'commit' | 'rollback' | 'close'>;

/** Where the outbox takes connections from; a node-oracledb Pool is one. */
export interface OraclePool {
  getConnection(): Promise<OracleConnection>;
}

/** A pool that can be closed: what `createOraclePool` returns. */
export interface ClosableOraclePool extends OraclePool {
  close(drainTime?: number): Promise<void>;
}

export interface OracleOutboxSettings {
  /** This relay instance's name in row claims (`claimed_by`). Unique among the instances on one outbox. */
  readonly instanceId: string;
  /** How long a claim on rows lasts; after it, another instance may take them. Default 15 000 ms. */
  readonly leaseMs?: number;
  /**
   * The schema that owns `tweetbus_outbox`, when the relay's user is another one (see
   * sql/oracle/020_relay_grants.sql). Default: the URL's `?schema=`, else the user's own schema.
   */
  readonly schema?: string;
  /** Where unreadable rows are reported; the row's `failed_reason` always says why. */
  readonly logger: Logger;
  /** Limits a row image must meet to be published (the consumer enforces the same ones). */
  readonly limits?: DocumentLimits;
}

/** Either a pool the caller owns (never closed by the outbox) or a URL to build one the outbox owns. */
export type OracleOutboxConnection =
  | { readonly pool: OraclePool }
  | {
      /** `oracle://user:password@host:port/service[?schema=OWNER]` (see `parseOracleUrl`). */
      readonly url: string;
      /** Most connections in the pool. Default 4: one for the relay, the rest for HTTP appends and checks. */
      readonly poolMax?: number;
      /** How errors about the URL name it, e.g. the variable it came from. */
      readonly urlName?: string;
    };

/**
 * The outbox in Oracle (sql/oracle/001_outbox.sql), read through node-oracledb in Thin mode. It is the
 * relay's reader, the HTTP ways in's writer, and retention's deleter.
 *
 * Several relay instances may read one outbox at once and share the work: each `readBatch` claims the
 * rows it returns for `leaseMs` under `instanceId`, and no claim ever waits for another instance.
 * Per key, rows are handed out in `seq` order and never while an earlier row of the key is pending
 * elsewhere. A dead instance's claims run out, and another instance takes its rows over within the
 * lease. An instance that takes longer than the lease to publish may see its rows taken and published
 * a second time as well; duplicates are harmless (docs/design-notes.md, rule 2), so the lease trades only latency
 * after a crash against such duplicates.
 *
 * A row that cannot be read as a valid change event (a bad payload, an invalid collection name) is
 * dead-lettered by `readBatch` itself: it is logged, marked failed with the reason, and skipped, so it
 * never blocks the rows behind it and never comes back by itself.
 *
 * Every method uses one pooled connection for one short transaction and always returns it; on an
 * error it rolls back and rethrows (retry with backoff).
 */
export interface OracleOutbox extends OutboxReader, OutboxWriter, OutboxRetention, HealthCheck {
  /** Closes the pool if the outbox built it from a URL; a given pool is left to its owner. Harmless to call twice. */
  close(): Promise<void>;
}

/** Runs `work` on one pooled connection and always returns the connection to the pool. */
export async function withOracleConnection<T>(pool: OraclePool, logger: Logger, work: (connection: OracleConnection) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  try {
    return await work(connection);
  } finally {
    await connection.close().catch((err: unknown) => {
      logger.warn({ err }, 'could not return a connection to the pool');
    });
  }
}

/** Runs `work` in one transaction on one pooled connection: commits, or rolls back and rethrows; always releases. */
export function inOracleTransaction<T>(pool: OraclePool, logger: Logger, work: (connection: OracleConnection) => Promise<T>): Promise<T> {
  return withOracleConnection(pool, logger, async (connection) => {
    try {
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (err) {
      await connection.rollback().catch(() => undefined);
      throw err;
    }
  });
}

/** A node-oracledb pool (Thin mode) for an `oracle://` URL. The caller closes it. */
export async function createOraclePool(url: string, options: { readonly poolMax?: number; readonly name?: string } = {}): Promise<ClosableOraclePool> {
  const { user, password, connectString } = parseOracleUrl(url, options.name);
  return oracledb.createPool({ user, password, connectString, poolMin: 0, poolMax: options.poolMax ?? 4, poolIncrement: 1, poolPingInterval: 60 });
}

const defaultLeaseMs = 15_000;
/** failed_reason is VARCHAR2(1000 CHAR); longer reasons are cut (they come from validation messages). */
const maxReasonLength = 1000;
/** Bind sizes are in bytes: the column's characters times four (AL32UTF8). */
const idBytes = 128 * 4;

const anyRow = z.record(z.string(), z.unknown());

// Column names come back in upper case (unquoted identifiers). NUMBER columns are fetched as strings
// (fetchInfo below): seq and version exceed 2^53, where a JavaScript number would round them.
const rowIdentity = z.object({ ID: z.string(), SEQ: digits, AGGREGATETYPE: z.string(), AGGREGATEID: z.string() });
const lockedRow = z.object({ ID: z.string() });

/** The payload CLOB, fetched as a string: JSON text (the table checks it IS JSON), NULL for a delete. */
const payloadColumn = z.object({ PAYLOAD: z.string().nullable() });

const oracleError = z.object({ errorNum: z.number() });

/** ORA-00001: another transaction inserted the same id first. */
function isUniqueViolation(err: unknown): boolean {
  const parsed = oracleError.safeParse(err);
  return parsed.success && parsed.data.errorNum === 1;
}

/** An ISO-8601 instant in UTC with milliseconds, as `Date.toISOString` writes it, in and out of SQL. */
const isoFormat = `'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"'`;
const fromIso = (bind: string): string => `FROM_TZ(TO_TIMESTAMP(${bind}, ${isoFormat}), '+00:00')`;

/** A list of ids for `IN (…)`, bound as one JSON array (a CLOB, so its length does not matter). */
const idsIn = (bind: string): string => `(SELECT j.id FROM JSON_TABLE(${bind}, '$[*]' COLUMNS (id VARCHAR2(4000) PATH '$')) j)`;

interface ClaimedRow {
  readonly id: string;
  readonly seq: bigint;
  /** The row's key in the outbox: collection and aggregate id. */
  readonly key: string;
  readonly raw: Record<string, unknown>;
}

function claimedRows(rows: readonly unknown[] | undefined): ClaimedRow[] {
  return (rows ?? []).map((row) => {
    const raw = anyRow.parse(row);
    const identity = rowIdentity.parse(raw);
    return { id: identity.ID, seq: identity.SEQ, key: `${identity.AGGREGATETYPE}\u0000${identity.AGGREGATEID}`, raw };
  });
}

/** Reads one claimed row as a change event: its upper-case columns onto the fields, the payload's JSON text parsed. */
function rowToEvent(row: ClaimedRow, limits: DocumentLimits): ParseResult<ChangeEvent> {
  const { raw } = row;
  const stored = payloadColumn.safeParse(raw);
  if (!stored.success) return unexpectedColumns(stored.error);
  let payload: unknown = null;
  if (stored.data.PAYLOAD !== null) {
    try {
      payload = JSON.parse(stored.data.PAYLOAD);
    } catch {
      return notAnEvent('payload is not JSON');
    }
  }
  return outboxRowToEvent(
    {
      id: row.id,
      aggregatetype: raw.AGGREGATETYPE,
      aggregateid: raw.AGGREGATEID,
      type: raw.TYPE,
      payload,
      version: raw.VERSION,
      op: raw.OP,
      source: raw.SOURCE,
      created_at: raw.CREATED_AT,
      correlation_id: raw.CORRELATION_ID,
    },
    limits,
  );
}

function bySeq(a: { readonly seq: bigint }, b: { readonly seq: bigint }): number {
  return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

export function createOracleOutbox(connection: OracleOutboxConnection, options: OracleOutboxSettings): OracleOutbox {
  const logger = options.logger.child({ component: 'oracleOutbox' });
  const limits = options.limits ?? defaultDocumentLimits;
  const { instanceId } = options;
  const leaseMs = options.leaseMs ?? defaultLeaseMs;
  if (instanceId === '' || instanceId.length > 128) throw new RangeError('instanceId must be 1 to 128 characters');
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new RangeError(`leaseMs must be a whole number of at least 1, not ${leaseMs}`);

  // Parsed now, so a wrong URL fails at start rather than at the first poll.
  const connect =
    'url' in connection ? { url: connection.url, poolMax: connection.poolMax, name: connection.urlName, schema: parseOracleUrl(connection.url, connection.urlName).schema } : undefined;
  const schema = options.schema ?? connect?.schema;
  if (schema !== undefined && !identifier.test(schema)) throw new RangeError('schema must be an unquoted Oracle identifier (letters, digits, _ $ #)');
  const table = schema === undefined ? 'tweetbus_outbox' : `${schema}.tweetbus_outbox`;

  let owned: Promise<ClosableOraclePool> | undefined;
  let closed = false;
  function pool(): Promise<OraclePool> {
    if ('pool' in connection) return Promise.resolve(connection.pool);
    if (closed || connect === undefined) return Promise.reject(new Error('the Oracle outbox is closed'));
    // Built on first use, and again after a failed attempt (the database may not be up yet).
    owned ??= createOraclePool(connect.url, { poolMax: connect.poolMax, name: connect.name }).catch((err: unknown) => {
      owned = undefined;
      throw err;
    });
    return owned;
  }

  const withConnection = async <T>(work: (connection: OracleConnection) => Promise<T>): Promise<T> => withOracleConnection(await pool(), logger, work);
  const inTransaction = async <T>(work: (connection: OracleConnection) => Promise<T>): Promise<T> => inOracleTransaction(await pool(), logger, work);

  /** Rows as objects, at most `maxRows` of them. */
  const fetchAtMost = (maxRows: number): ExecuteOptions => ({
    outFormat: oracledb.OUT_FORMAT_OBJECT,
    // SKIP LOCKED locks rows as they are fetched, so fetch no more than are wanted: prefetching a
    // full default array would lock rows this batch then leaves alone.
    maxRows,
    prefetchRows: maxRows,
    fetchArraySize: maxRows,
  });
  const rowFetch = (maxRows: number): ExecuteOptions => ({
    ...fetchAtMost(maxRows),
    fetchInfo: { SEQ: { type: oracledb.DB_TYPE_VARCHAR }, VERSION: { type: oracledb.DB_TYPE_VARCHAR }, PAYLOAD: { type: oracledb.DB_TYPE_VARCHAR } },
  });
  const idList = (ids: readonly string[]) => ({ val: JSON.stringify(ids), type: oracledb.DB_TYPE_CLOB });
  const text = (maxSize: number): BindDefinition => ({ type: oracledb.DB_TYPE_VARCHAR, maxSize });

  const eventColumns = `o.id, o.seq, o.aggregatetype, o.aggregateid, o.type, o.payload, o.version, o.op, o.source,
         TO_CHAR(SYS_EXTRACT_UTC(o.created_at), ${isoFormat}) AS created_at, o.correlation_id`;
  const pending = 'o.published_at IS NULL AND o.failed_at IS NULL';
  const claimable = '(o.claimed_until IS NULL OR o.claimed_until < SYSTIMESTAMP OR o.claimed_by = :instance_id)';

  // Claiming, in one short transaction that never waits for another instance:
  //
  // 1. Heads: a row is a key's head when no earlier (lower seq) row of its key is pending (neither
  //    published nor failed). Heads that are claimable (unclaimed, claim expired, or claimed by this
  //    instance) are locked with FOR UPDATE SKIP LOCKED, in seq order, at most `limit` of them.
  // 2. Followers: the pending rows after those heads, of the same keys, in seq order, up to the room
  //    left. They are read without locks first (the complete list), then locked with SKIP LOCKED
  //    where still claimable. Per key, followers are taken up to the first one that could not be
  //    locked, so a batch never holds a key's later row without every pending row before it.
  // 3. Every row taken gets claimed_by and claimed_until; then commit, which releases the locks.
  //
  // Why two instances claiming at once keep per-key order: say key K has pending rows k1 < k2. A and
  // B run step 1 at the same time. Each query sees the committed state as of its start (read
  // consistency), so for both k1 is K's head and k2 is not (k1 is pending in every snapshot: "pending"
  // only ever turns into published or failed, never back). A locks k1 first; B's fetch meets the lock
  // and skips k1, and never considers k2. If A has already committed its claim by then, k1 is not
  // locked any more, but Oracle checks the current version of a row it locks against the WHERE
  // clause (write consistency), finds k1 claimed by A, and leaves it. So K is A's alone until A marks k1 and k2, or its lease
  // runs out: after A marks k1 published, k2 becomes K's head, but it carries A's live claim if A took
  // it as a follower. A row another session holds locked (a mark in flight) ends a key's followers
  // in step 2 rather than being waited for.
  //
  // The only order this cannot restore is that of rows whose transactions commit out of seq order for
  // the same key. Capture triggers cannot produce them (the changed row's lock serialises the two
  // transactions); concurrent `append`s of one key can, and then the consumer's version gate decides.
  const sql = {
    heads: `SELECT ${eventColumns}
              FROM ${table} o
             WHERE ${pending}
               AND ${claimable}
               AND NOT EXISTS (
                     SELECT 1 FROM ${table} e
                      WHERE e.aggregatetype = o.aggregatetype AND e.aggregateid = o.aggregateid
                        AND e.seq < o.seq AND e.published_at IS NULL AND e.failed_at IS NULL)
             ORDER BY o.seq
               FOR UPDATE SKIP LOCKED`,
    followers: `SELECT ${eventColumns}
                  FROM ${table} o
                 WHERE ${pending}
                   AND EXISTS (
                         SELECT 1 FROM ${table} h
                          WHERE h.id IN ${idsIn(':head_ids')}
                            AND h.aggregatetype = o.aggregatetype AND h.aggregateid = o.aggregateid AND h.seq < o.seq)
                 ORDER BY o.seq`,
    lockFollowers: `SELECT o.id
                      FROM ${table} o
                     WHERE o.id IN ${idsIn(':candidate_ids')}
                       AND ${pending}
                       AND ${claimable}
                       FOR UPDATE SKIP LOCKED`,
    claim: `UPDATE ${table}
               SET claimed_by = :instance_id,
                   claimed_until = SYSTIMESTAMP + NUMTODSINTERVAL(:lease_ms / 1000, 'SECOND')
             WHERE id = :event_id`,
    fail: `UPDATE ${table}
              SET failed_at = SYSTIMESTAMP, failed_reason = :reason
            WHERE id = :event_id AND published_at IS NULL`,
    publish: `UPDATE ${table}
                 SET published_at = SYSTIMESTAMP
               WHERE id = :event_id AND published_at IS NULL`,
    append: `MERGE INTO ${table} o
             USING (SELECT :event_id AS id FROM dual) n
                ON (o.id = n.id)
              WHEN NOT MATCHED THEN
                INSERT (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at, correlation_id)
                VALUES (n.id, :collection, :event_key, :event_type, :payload, :event_version, :op, :source_name,
                        ${fromIso(':created_at')}, :correlation_id)`,
    // Retention locks what it deletes with SKIP LOCKED (at most `limit` rows, by maxRows: a ROWNUM
    // limit would count the rows it skips), so instances deleting at once never wait on each other.
    expired: `SELECT o.id
                FROM ${table} o
               WHERE o.published_at < ${fromIso(':cutoff')}
                 AND o.failed_at IS NULL
               ORDER BY o.published_at
                 FOR UPDATE SKIP LOCKED`,
    deleteRow: `DELETE FROM ${table} WHERE id = :event_id`,
    republish: `UPDATE ${table}
                   SET published_at = NULL, claimed_by = NULL, claimed_until = NULL
                 WHERE published_at IS NOT NULL AND failed_at IS NULL
                   AND (:since IS NULL OR published_at >= ${fromIso(':since')})`,
    check: `SELECT 1 FROM ${table} WHERE 1 = 0`,
  };

  const failBindDefs = { event_id: text(idBytes), reason: text(maxReasonLength * 4) };

  async function claimFollowers(connection: OracleConnection, heads: readonly ClaimedRow[], room: number): Promise<ClaimedRow[]> {
    const candidates = claimedRows((await connection.execute(sql.followers, { head_ids: idList(heads.map((h) => h.id)) }, rowFetch(room))).rows);
    if (candidates.length === 0) return [];
    const result = await connection.execute(
      sql.lockFollowers,
      { candidate_ids: idList(candidates.map((c) => c.id)), instance_id: instanceId },
      fetchAtMost(candidates.length),
    );
    const locked = new Set((result.rows ?? []).map((row) => lockedRow.parse(row).ID));
    const stopped = new Set<string>();
    const followers: ClaimedRow[] = [];
    for (const candidate of candidates) {
      if (stopped.has(candidate.key)) continue;
      if (locked.has(candidate.id)) followers.push(candidate);
      else stopped.add(candidate.key);
    }
    return followers;
  }

  return {
    async readBatch(limit) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1, not ${limit}`);
      const { rows, unreadable } = await inTransaction(async (connection) => {
        const heads = claimedRows((await connection.execute(sql.heads, { instance_id: instanceId }, rowFetch(limit))).rows);
        const followers = heads.length > 0 && heads.length < limit ? await claimFollowers(connection, heads, limit - heads.length) : [];
        const claimed = [...heads, ...followers];
        const readable: OutboxRow[] = [];
        const failed: DeadLetteredRow[] = [];
        for (const row of claimed) {
          const event = rowToEvent(row, limits);
          if (event.ok) readable.push({ seq: row.seq, event: event.value });
          else failed.push({ id: row.id, seq: row.seq, reason: event.reason });
        }
        if (readable.length > 0) {
          await connection.executeMany(
            sql.claim,
            readable.map((r) => ({ event_id: r.event.id, instance_id: instanceId, lease_ms: leaseMs })),
            { bindDefs: { instance_id: text(idBytes), lease_ms: { type: oracledb.DB_TYPE_NUMBER }, event_id: text(idBytes) } },
          );
        }
        if (failed.length > 0) {
          await connection.executeMany(sql.fail, failed.map((f) => ({ event_id: f.id, reason: cutReason(f.reason, maxReasonLength) })), { bindDefs: failBindDefs });
        }
        return { rows: readable.sort(bySeq), unreadable: failed };
      });
      logDeadLettered(logger, unreadable);
      return rows;
    },

    async markPublished(rows) {
      if (rows.length === 0) return;
      await inTransaction((connection) =>
        connection.executeMany(sql.publish, rows.map((r) => ({ event_id: r.event.id })), { bindDefs: { event_id: text(idBytes) } }),
      );
    },

    async markFailed(failures: readonly FailedOutboxRow[]) {
      if (failures.length === 0) return;
      await inTransaction((connection) =>
        connection.executeMany(sql.fail, failures.map((f) => ({ event_id: f.row.event.id, reason: cutReason(f.reason, maxReasonLength) })), { bindDefs: failBindDefs }),
      );
    },

    async append(events) {
      // The first of several events with one id wins, as it would in separate calls.
      const seen = new Set<string>();
      const unique = events.filter((e) => !seen.has(e.id) && seen.add(e.id).size > 0);
      if (unique.length === 0) return;
      const binds = unique.map((e) => ({
        event_id: e.id,
        collection: e.collection,
        event_key: e.key,
        event_type: e.type,
        payload: e.data === null ? null : JSON.stringify(e.data),
        event_version: e.version,
        op: e.op,
        source_name: e.source,
        created_at: e.createdAt,
        correlation_id: e.correlationId ?? null,
      }));
      const bindDefs = {
        event_id: text(idBytes),
        collection: text(64 * 4),
        event_key: text(256 * 4),
        event_type: text(128 * 4),
        payload: { type: oracledb.DB_TYPE_CLOB },
        event_version: { type: oracledb.DB_TYPE_NUMBER },
        op: text(6),
        source_name: text(256 * 4),
        created_at: text(64),
        correlation_id: text(256 * 4),
      };
      const write = () => inTransaction((connection) => connection.executeMany(sql.append, binds, { bindDefs }));
      try {
        await write();
      } catch (err) {
        // MERGE … WHEN NOT MATCHED cannot see a row another transaction has not committed yet; when
        // that one commits first, this insert fails. Once more, the MERGE sees the row and skips it.
        if (!isUniqueViolation(err)) throw err;
        await write();
      }
    },

    async republishSince(since) {
      return inTransaction(async (connection) => {
        const result = await connection.execute(sql.republish, { since: since?.toISOString() ?? null });
        return result.rowsAffected ?? 0;
      });
    },

    async deletePublished(before, limit) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a whole number of at least 1, not ${limit}`);
      return inTransaction(async (connection) => {
        const expired = await connection.execute(
          sql.expired,
          { cutoff: before.toISOString() },
          fetchAtMost(limit),
        );
        const ids = (expired.rows ?? []).map((row) => lockedRow.parse(row).ID);
        if (ids.length === 0) return 0;
        const deleted = await connection.executeMany(sql.deleteRow, ids.map((id) => ({ event_id: id })), { bindDefs: { event_id: text(idBytes) } });
        return deleted.rowsAffected ?? 0;
      });
    },

    async check() {
      await withConnection((connection) => connection.execute(sql.check));
    },

    async close() {
      if (closed) return;
      closed = true;
      const building = owned;
      owned = undefined;
      if (building === undefined) return;
      const built = await building.catch(() => undefined);
      // Seconds: connections in use get this long to finish before they are closed.
      await built?.close(10);
    },
  };
}
