import { sleep } from '../../../common/backoff.js';
import type { Logger } from '../../../common/logger.js';
import type { SqlQueryable } from '../../../common/sql.js';
import type { WakeGate } from '../outbox.js';
import { z } from 'zod';

export interface WakeGateOptions {
  readonly logger: Logger;
  /** The longest `arm` waits for the transactions in flight. Default 1 s. */
  readonly settleMs?: number;
  /** Between two looks at whether they have ended. Default 2 ms. */
  readonly checkEveryMs?: number;
}

const setNotify = `INSERT INTO tweetbus_relay_wake (notify) VALUES ($1)
  ON CONFLICT (only_row) DO UPDATE SET notify = EXCLUDED.notify`;

// Taken after the flag's commit: every transaction that read the old value has an id below xmax.
const horizonSql = `SELECT pg_snapshot_xmax(s)::text AS xmax, pg_snapshot_xmin(s) = pg_snapshot_xmax(s) AS settled
  FROM pg_current_snapshot() AS s`;
const settledSql = 'SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8 AS settled';

const horizonRow = z.object({ xmax: z.string(), settled: z.boolean() });
const settledRow = z.object({ settled: z.boolean() });

/** An outbox schema from before `tweetbus_relay_wake`, or a user without its grants: writers always notify. */
const undefinedTable = '42P01';
const insufficientPrivilege = '42501';

/**
 * The wake gate on PostgreSQL: the flag is `tweetbus_relay_wake` (sql/postgres/001_outbox.sql).
 *
 * The relay reads only rows of transactions that have ended (`tx_id` below the snapshot's xmin). A
 * writer that read "off" just before `arm` committed has not necessarily ended, and it will not
 * notify. So `arm` also waits until every transaction in flight when it committed has ended: one
 * more pass after it sees their rows, and a sleep after that misses nobody. The wait is bounded; a
 * transaction that outlives it holds its rows back from the relay's reads anyway, until the next poll.
 *
 * `db` autocommits each statement: a pool, not a transaction.
 */
export function createPgWakeGate(db: SqlQueryable, options: WakeGateOptions): WakeGate {
  const logger = options.logger.child({ component: 'wakeGate' });
  const settleMs = options.settleMs ?? 1_000;
  const checkEveryMs = options.checkEveryMs ?? 2;
  let unsupported = false;
  let failing = false;

  function failed(err: unknown, consequence: string): void {
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    if (code === undefinedTable || code === insufficientPrivilege) {
      unsupported = true;
      logger.warn(
        { err },
        code === undefinedTable
          ? 'the outbox schema has no tweetbus_relay_wake table: writers notify at every commit (apply sql/postgres/001_outbox.sql again)'
          : 'the publisher may not write tweetbus_relay_wake: writers notify at every commit (GRANT SELECT, INSERT, UPDATE ON tweetbus_relay_wake)',
      );
      return;
    }
    // The database is probably down; the relay's own reads report that. Logged once per outage.
    if (!failing) logger.warn({ err }, consequence);
    failing = true;
  }

  async function waitForWritersInFlight(): Promise<void> {
    const first = horizonRow.parse((await db.query(horizonSql)).rows[0]);
    if (first.settled) return;
    const deadline = performance.now() + settleMs;
    while (performance.now() < deadline) {
      await sleep(checkEveryMs);
      if (settledRow.parse((await db.query(settledSql, [first.xmax])).rows[0]).settled) return;
    }
  }

  return {
    async arm() {
      if (unsupported) return;
      try {
        await db.query(setNotify, [true]);
        failing = false;
        await waitForWritersInFlight();
      } catch (err) {
        failed(err, 'could not turn commit notifications on: until it can, the relay finds new rows at its next poll');
      }
    },
    async disarm() {
      if (unsupported) return;
      try {
        await db.query(setNotify, [false]);
        failing = false;
      } catch (err) {
        failed(err, 'could not turn commit notifications off: writers go on notifying (slower commits, nothing lost)');
      }
    },
  };
}
