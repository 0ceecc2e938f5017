import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../../common/logger.js';
import { logSink } from '../../../common/log-sink.fixture.js';
import { openPgSchema, pgTestDatabaseUrl, type PgTestSchema } from '../../../common/pg-test-schema.js';
import { outboxChannel } from './outbox-listener.js';
import { applyDemoOrdersSchema } from './schema.js';
import { openTransaction, releaseTransaction } from './transaction.fixture.js';
import { createPgWakeGate } from './wake-gate.js';
import type { WakeGate } from '../outbox.js';

const logger = createLogger({ level: 'silent' });

describe('PostgreSQL wake gate', () => {
  let database: PgTestSchema;
  let listening: PoolClient;
  /** The backend process ids that notified: other test files' outboxes in this database notify the same channel. */
  const notifiedBy: number[] = [];
  let key = 0;

  beforeAll(async () => {
    database = await openPgSchema(pgTestDatabaseUrl, { prefix: 'wake_gate_it', max: 6 });
    await applyDemoOrdersSchema(database.db);
    listening = await database.pool.connect();
    listening.on('notification', (notification) => notifiedBy.push(notification.processId));
    await listening.query(`LISTEN ${outboxChannel}`);
  });

  afterAll(async () => {
    listening.release(true);
    await database.dispose();
  });

  async function write(client: Pick<PoolClient, 'query'> = database.pool): Promise<void> {
    key += 1;
    await client.query('INSERT INTO dvx_orders (id, status) VALUES ($1, $2)', [`gate-${String(key)}`, 'NEW']);
  }

  /** Turns notifications off, opens a writer whose change read "off", and gives `check` a gate with `settleMs`. */
  async function withWriterInFlight(settleMs: number, check: (gate: WakeGate, writer: PoolClient) => Promise<void>): Promise<void> {
    const gate = createPgWakeGate(database.db, { logger, settleMs });
    await gate.disarm();
    const writer = await openTransaction(database.pool);
    try {
      await write(writer);
      await check(gate, writer);
    } finally {
      await releaseTransaction(writer);
    }
  }

  /** Whether one committed change notifies: a notification from its connection arrives within 500 ms, or none does. */
  async function commitNotifies(): Promise<boolean> {
    const writer = await database.pool.connect();
    try {
      const pid = z.object({ pid: z.number() }).parse((await writer.query('SELECT pg_backend_pid() AS pid')).rows[0]).pid;
      await write(writer);
      const deadline = Date.now() + 500;
      while (Date.now() < deadline && !notifiedBy.includes(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
      return notifiedBy.includes(pid);
    } finally {
      writer.release();
      notifiedBy.length = 0;
    }
  }

  it('lets writers notify until the relay turns it off, and again once it turns it on', async () => {
    const gate = createPgWakeGate(database.db, { logger });
    expect(await commitNotifies()).toBe(true);

    await gate.disarm();
    expect(await commitNotifies()).toBe(false);

    await gate.arm();
    expect(await commitNotifies()).toBe(true);
  });

  it('arms only once a writer that read "off" has ended, so one more pass sees its row', async () => {
    await withWriterInFlight(20_000, async (gate, writer) => {
      const events: string[] = [];
      const arming = gate.arm().then(() => events.push('armed'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      events.push('writer commits');
      await writer.query('COMMIT');
      await arming;
      expect(events).toEqual(['writer commits', 'armed']);
    });
  });

  it('stops waiting for a transaction that outlives settleMs', async () => {
    await withWriterInFlight(150, async (gate, writer) => {
      const started = Date.now();
      await gate.arm();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      // Still open: the gate did not wait for it to end.
      expect((await writer.query('SELECT 1 AS open')).rows).toEqual([{ open: 1 }]);
    });
  });

  it('needs no grant of its own from the writers: the trigger reads the flag as any role', async () => {
    const role = `tweetbus_writer_${database.schema}`;
    const admin = await database.pool.connect();
    try {
      await admin.query(`CREATE ROLE ${role} NOLOGIN`);
      // What a writer needed before the flag: its table, and what the capture trigger writes and reads.
      await admin.query(`GRANT USAGE ON SCHEMA ${database.schema} TO ${role}`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE ON dvx_orders TO ${role}`);
      await admin.query(`GRANT INSERT ON tweetbus_outbox TO ${role}`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON tweetbus_key_versions TO ${role}`);
      await admin.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${database.schema} TO ${role}`);
      await admin.query('BEGIN');
      await admin.query(`SET LOCAL ROLE ${role}`);
      await write(admin);
      await admin.query('COMMIT');
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      admin.release();
    }
  });

  it('on an outbox schema without the flag, says so once and leaves writers notifying', async () => {
    const old = await openPgSchema(pgTestDatabaseUrl, { prefix: 'wake_gate_old' });
    try {
      const log = logSink();
      const gate = createPgWakeGate(old.db, { logger: log.logger });
      await gate.disarm();
      await gate.arm();
      await gate.disarm();
      const warnings = log.lines.filter((line) => line.msg?.includes('tweetbus_relay_wake') === true);
      expect(warnings).toHaveLength(1);
    } finally {
      await old.dispose();
    }
  });
});
