import type { Logger } from '../../../common/logger.js';
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { within } from '../../../common/timeout.js';
import type { Leadership, LeadershipEvents } from '../leadership.js';

export interface PgAdvisoryLeadershipOptions {
  readonly logger: Logger;
  /** How often a standby tries to take the lock. Defaults to 2000 ms. */
  readonly retryMs?: number;
  /** How often the leader checks its connection; a check that takes longer fails. Defaults to 2000 ms. */
  readonly checkMs?: number;
  /**
   * What the instances elect on. Defaults to `tweetbus_outbox`. The lock key is a hash of
   * `current_schema() || '.' || lockName`, so outboxes in two schemas of one database elect separately.
   */
  readonly lockName?: string;
}

export interface PgAdvisoryLeadership extends Leadership {
  /**
   * The server process id of the session that campaigns or holds the lock, while one is open. For
   * operators (pg_stat_activity, pg_locks) and tests (pg_terminate_backend).
   */
  backendPid(): number | undefined;
}

interface Session {
  readonly client: PoolClient;
  readonly pid: number;
  readonly schema: string | null;
}

const lockSql = `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '.' || $1::text, 0)) AS locked`;

// The keepalive settings are user-settable (no superuser needed) and apply to this session only.
const setupSql = `SELECT set_config('tcp_keepalives_idle', $1::text, false),
       set_config('tcp_keepalives_interval', $2::text, false),
       set_config('tcp_keepalives_count', $3::text, false),
       set_config('tcp_user_timeout', $4::text, false),
       pg_backend_pid() AS pid, current_schema() AS schema`;

const setupRow = z.object({ pid: z.number().int(), schema: z.string().nullable() });
const lockRow = z.object({ locked: z.boolean().nullable() });

/**
 * Leadership through a PostgreSQL session advisory lock, held on one dedicated connection.
 *
 * The connection is taken from `pool` (and counts against its `max`) rather than built beside it:
 * it then uses exactly the pool's connection settings (host, TLS, password function, `options` such
 * as search_path) without reading them back out of the pool. It is never returned: its session
 * settings differ and it may hold the lock, so it is destroyed when it is dropped. Close this before
 * ending the pool.
 *
 * - **Standby:** tries `pg_try_advisory_lock` every `retryMs`, keeping its connection between tries.
 * - **Leader:** runs `SELECT 1` every `checkMs`. When a check fails or times out, or the connection
 *   reports an error or ends, `onDeposed` runs at once and the instance campaigns again on a fresh
 *   connection.
 * - **Partitions:** the session's TCP keepalives and user timeout are set so the server drops a
 *   silent session, and with it the lock, after `max(8 s, 4 × checkMs)`. A partitioned leader's own
 *   check has failed by `2 × checkMs`, so it has stepped down before any other instance can take over.
 *   When the server ends the session itself (pg_terminate_backend, a restart), the lock is free as
 *   the news travels, so for that short moment two relays may run; the consumer's version gate makes
 *   the overlap cost duplicates, never a key at an older version.
 * - A stalled event loop on the leader keeps the lock while it lasts (its kernel still answers
 *   keepalives), so nobody else takes over. A stall longer than `checkMs` makes the leader's own
 *   check time out when the loop resumes: it steps down and campaigns again, which costs a takeover,
 *   never a second active relay.
 */
export function createPgAdvisoryLeadership(pool: Pool, options: PgAdvisoryLeadershipOptions): PgAdvisoryLeadership {
  const logger = options.logger.child({ component: 'leadership' });
  const retryMs = options.retryMs ?? 2_000;
  const checkMs = options.checkMs ?? 2_000;
  const lockName = options.lockName ?? 'tweetbus_outbox';
  const connectTimeoutMs = Math.max(5_000, checkMs);
  const deadAfterS = Math.max(8, Math.ceil((4 * checkMs) / 1_000));
  const keepalive = [String(deadAfterS - 3), '1', '3', String(deadAfterS * 1_000)];

  let events: LeadershipEvents | undefined;
  let current: Session | undefined;
  let leading = false;
  let standingBy = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const released = new WeakSet<PoolClient>();

  function destroy(client: PoolClient): void {
    if (released.has(client)) return;
    released.add(client);
    client.release(true);
  }

  function tell(what: 'elected' | 'deposed', reason: string): void {
    try {
      if (what === 'elected') events?.onElected();
      else events?.onDeposed(reason);
    } catch (err) {
      logger.error({ err, event: what }, 'leadership listener threw');
    }
  }

  function depose(reason: string): void {
    if (!leading) return;
    leading = false;
    logger.info({ lockName, reason }, 'deposed: no longer the leader');
    tell('deposed', reason);
  }

  /** The session can no longer be trusted: step down at once if leading, and drop it. */
  function lose(session: Session, err: unknown, what: string): void {
    if (current !== session) return;
    current = undefined;
    logger.warn({ err, pid: session.pid, retryInMs: retryMs }, `leadership connection ${what}`);
    depose(`the lock's connection ${what}`);
    destroy(session.client);
  }

  async function open(): Promise<Session> {
    const client = await within(pool.connect(), connectTimeoutMs, 'connecting', (late) => {
      late.release(true);
    });
    const onLost = (err: Error): void => {
      if (current?.client === client) lose(current, err, 'was lost');
    };
    client.on('error', onLost);
    client.on('end', () => {
      onLost(new Error('the connection ended'));
    });
    try {
      const result = await within(client.query(setupSql, keepalive), checkMs, 'setting up the session');
      const row = setupRow.parse(result.rows[0]);
      return { client, pid: row.pid, schema: row.schema };
    } catch (err) {
      destroy(client);
      throw err;
    }
  }

  /** Resolves with how long to wait before the next step. */
  async function campaign(): Promise<number> {
    let session = current;
    if (session === undefined) {
      try {
        session = await open();
      } catch (err) {
        logger.warn({ err, retryInMs: retryMs }, 'leadership could not connect; retrying');
        return retryMs;
      }
      if (closed) {
        destroy(session.client);
        return retryMs;
      }
      current = session;
    }
    let locked: boolean | null;
    try {
      const result = await within(session.client.query(lockSql, [lockName]), checkMs, 'taking the lock');
      locked = lockRow.parse(result.rows[0]).locked;
    } catch (err) {
      lose(session, err, 'failed while taking the lock');
      return retryMs;
    }
    // close() came meanwhile: it unlocks on this same connection after this query, then destroys it.
    if (closed || current !== session) return retryMs;
    if (locked === null) {
      logger.warn({ lockName, retryInMs: retryMs }, 'no current schema (search_path names no existing schema); retrying');
      return retryMs;
    }
    if (!locked) {
      if (!standingBy) logger.info({ lockName, schema: session.schema }, 'another instance leads; standing by');
      standingBy = true;
      return retryMs;
    }
    standingBy = false;
    leading = true;
    logger.info({ lockName, schema: session.schema, pid: session.pid }, 'elected: this instance leads');
    tell('elected', '');
    return checkMs;
  }

  async function check(session: Session): Promise<number> {
    try {
      await within(session.client.query('SELECT 1'), checkMs, 'the connection check');
      return checkMs;
    } catch (err) {
      lose(session, err, 'failed its check');
      return retryMs;
    }
  }

  async function step(): Promise<void> {
    let nextMs = retryMs;
    try {
      nextMs = leading && current !== undefined ? await check(current) : await campaign();
    } catch (err) {
      logger.error({ err }, 'leadership step failed unexpectedly');
    }
    if (closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void step();
    }, nextMs);
  }

  return {
    start(listeners) {
      if (events !== undefined || closed) return;
      events = listeners;
      logger.info({ lockName, retryMs, checkMs }, 'campaigning for leadership');
      void step();
    },

    isLeader() {
      return leading;
    },

    backendPid() {
      return current?.pid;
    },

    close() {
      closing ??= (async () => {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        const session = current;
        current = undefined;
        depose('closed');
        if (session === undefined) return;
        try {
          // Unlock explicitly so a standby can take over at its next try, not when the server notices.
          await within(session.client.query('SELECT pg_advisory_unlock_all()'), checkMs, 'releasing the lock');
        } catch (err) {
          logger.warn({ err }, 'could not release the leadership lock; closing its connection releases it');
        }
        destroy(session.client);
      })();
      return closing;
    },
  };
}
