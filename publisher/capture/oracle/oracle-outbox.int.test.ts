import { createLogger } from '../../../common/logger.js';
import { randomBytes } from 'node:crypto';
import oracledb from 'oracledb';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../common/wait.fixture.js';
import { compareBigints } from '../../../events/change-event.fixture.js';
import { describeOutboxContract, orderChangeStatement, type OrderChange, type OutboxUnderTest } from '../outbox.contract.js';
import type { OutboxRow } from '../outbox.js';
import { createOracleOutbox, createOraclePool, parseOracleUrl, type ClosableOraclePool, type OracleConnection, type OracleOutbox } from './oracle-outbox.js';
import { applyOracleOutboxSchema } from './schema.js';
import { oracleSnapshotTarget } from './oracle-snapshot.js';
import { runSnapshot, tablesOf } from '../snapshot.js';

const quietLogger = createLogger({ level: 'silent' });

// oracle://user:password@host:port/service of a user that may CREATE USER and DROP USER (e.g. system
// on a throwaway FREEPDB1): every test gets a schema (a user) of its own, dropped afterwards.
const adminUrl = process.env.ORACLE_CONNECT_STRING;

/** Sessions of a closed pool, and claims, take a while to end. */
const patience = { timeoutMs: 30_000, intervalMs: 25 };

let admin: Promise<ClosableOraclePool> | undefined;
afterAll(async () => {
  await (await admin)?.close(0);
});

function requiredAdminUrl(): string {
  if (adminUrl === undefined) throw new Error('ORACLE_CONNECT_STRING is not set');
  return adminUrl;
}

async function asAdmin(work: (connection: OracleConnection) => Promise<void>): Promise<void> {
  admin ??= createOraclePool(requiredAdminUrl(), { poolMax: 2, name: 'ORACLE_CONNECT_STRING' });
  await withConnection(await admin, work);
}

async function dropUser(user: string): Promise<void> {
  // The pool's sessions may take a moment to end after it closed (ORA-01940: user is connected).
  await waitUntil(`user ${user} is dropped`, async () => {
    try {
      await asAdmin(async (c) => {
        await c.execute(`DROP USER ${user} CASCADE`);
      });
      return true;
    } catch (err) {
      if (/ORA-01940/.test(String(err))) return false;
      throw err;
    }
  }, patience);
}

interface OracleSchema {
  readonly pool: ClosableOraclePool;
  dispose(): Promise<void>;
}

/** A new user with the outbox and `dvx_orders` scripts applied, and a pool of its own. */
async function openOracleSchema(): Promise<OracleSchema> {
  const { connectString } = parseOracleUrl(requiredAdminUrl(), 'ORACLE_CONNECT_STRING');
  const user = `TWEETBUS_IT_${randomBytes(5).toString('hex').toUpperCase()}`;
  const password = `Tb1_${randomBytes(12).toString('hex')}`;
  await asAdmin(async (c) => {
    await c.execute(`CREATE USER ${user} IDENTIFIED BY "${password}"`);
    await c.execute(`GRANT CREATE SESSION, CREATE TABLE, CREATE SEQUENCE, CREATE PROCEDURE, CREATE TRIGGER, UNLIMITED TABLESPACE TO ${user}`);
  });
  const pool = await oracledb.createPool({ user, password, connectString, poolMin: 0, poolMax: 6, poolIncrement: 1 });
  const dispose = async () => {
    await pool.close(0);
    await dropUser(user);
  };
  try {
    const connection = await pool.getConnection();
    try {
      await applyOracleOutboxSchema(connection, { demoOrders: true });
    } finally {
      await connection.close();
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  return { pool, dispose };
}

const isoFormat = `'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"'`;

async function withConnection<T>(pool: ClosableOraclePool, work: (connection: OracleConnection) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}

function oracleOutboxUnderTest(schema: OracleSchema, outbox: OracleOutbox): OutboxUnderTest {
  const { pool } = schema;
  return {
    outbox,
    writeOrders: (changes: readonly OrderChange[], options = {}) =>
      withConnection(pool, async (c) => {
        try {
          for (const change of changes) {
            const { text, params } = orderChangeStatement(change, (n) => `:${n}`);
            await c.execute(text, params);
          }
          if (options.rollback === true) await c.rollback();
          else await c.commit();
        } catch (err) {
          await c.rollback();
          throw err;
        }
      }),
    setPublishedAt: (ids, at) =>
      withConnection(pool, async (c) => {
        await c.executeMany(
          `UPDATE tweetbus_outbox SET published_at = FROM_TZ(TO_TIMESTAMP(:at, ${isoFormat}), '+00:00') WHERE id = :id`,
          ids.map((id) => ({ at: at.toISOString(), id })),
          { bindDefs: { at: { type: oracledb.DB_TYPE_VARCHAR, maxSize: 64 }, id: { type: oracledb.DB_TYPE_VARCHAR, maxSize: 512 } } },
        );
        await c.commit();
      }),
    allIds: () =>
      withConnection(pool, async (c) => {
        const result = await c.execute('SELECT id FROM tweetbus_outbox', {}, { outFormat: oracledb.OUT_FORMAT_OBJECT });
        return (result.rows ?? []).map((r) => String((r as { ID: unknown }).ID));
      }),
    failedReasons: () =>
      withConnection(pool, async (c) => {
        const result = await c.execute('SELECT id, failed_reason FROM tweetbus_outbox WHERE failed_at IS NOT NULL', {}, { outFormat: oracledb.OUT_FORMAT_OBJECT });
        return Object.fromEntries((result.rows ?? []).map((r) => [String((r as { ID: unknown }).ID), String((r as { FAILED_REASON: unknown }).FAILED_REASON)]));
      }),
    async dispose() {
      await outbox.close();
      await schema.dispose();
    },
  };
}

const bySeq = (a: OutboxRow, b: OutboxRow) => compareBigints(a.seq, b.seq);

describe.skipIf(adminUrl === undefined)(adminUrl === undefined ? 'Oracle outbox (skipped: ORACLE_CONNECT_STRING not set)' : 'Oracle outbox', () => {
  describeOutboxContract('Oracle', async () => {
    const schema = await openOracleSchema();
    return oracleOutboxUnderTest(schema, createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'contract' }));
  });

  describe('Oracle outbox with several sessions and relay instances', () => {
    let schema: OracleSchema;
    let subject: OutboxUnderTest;
    let outbox: OracleOutbox;

    beforeEach(async () => {
      schema = await openOracleSchema();
      outbox = createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'relay-a', leaseMs: 60_000 });
      subject = oracleOutboxUnderTest(schema, outbox);
    });

    afterEach(async () => {
      await subject.dispose();
    });

    it('applies the scripts a second time without error', async () => {
      await withConnection(schema.pool, (c) => applyOracleOutboxSchema(c, { demoOrders: true }));

      await expect(outbox.check()).resolves.toBeUndefined();
    });

    it('hands out a captured row only after its transaction commits', async () => {
      await withConnection(schema.pool, async (writer) => {
        await writer.execute(`INSERT INTO dvx_orders (id, status) VALUES ('late', 'NEW')`);

        expect(await outbox.readBatch(10)).toEqual([]);

        await writer.commit();
      });

      expect((await outbox.readBatch(10)).map((r) => r.event.key)).toEqual(['late']);
    });

    it('skips a key whose head another session holds locked, without waiting for it', async () => {
      await subject.writeOrders([
        { op: 'insert', row: { id: 'locked', status: 'NEW' } },
        { op: 'insert', row: { id: 'free', status: 'NEW' } },
      ]);

      await withConnection(schema.pool, async (locker) => {
        try {
          await locker.execute(`SELECT id FROM tweetbus_outbox WHERE aggregateid = 'locked' FOR UPDATE`);

          expect((await outbox.readBatch(10)).map((r) => r.event.key)).toEqual(['free']);
        } finally {
          await locker.rollback();
        }
      });

      expect((await outbox.readBatch(10)).map((r) => r.event.key)).toEqual(['locked', 'free']);
    });

    it('never hands a key to a second instance while the first holds its earlier rows', async () => {
      await subject.writeOrders([
        { op: 'insert', row: { id: 'k', status: 'v1' } },
        { op: 'update', id: 'k', set: { status: 'v2' } },
        { op: 'update', id: 'k', set: { status: 'v3' } },
      ]);
      const other = createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'relay-b', leaseMs: 60_000 });

      const first = await outbox.readBatch(1);
      expect(first.map((r) => r.event.data?.status)).toEqual(['v1']);
      expect(await other.readBatch(10)).toEqual([]);

      await outbox.markPublished(first);
      const rest = await other.readBatch(10);

      expect(rest.map((r) => r.event.data?.status)).toEqual(['v2', 'v3']);
      expect(await outbox.readBatch(10)).toEqual([]);
    });

    it('shares the work between two instances claiming at once, and each key goes out in version order', async () => {
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
      const changesPerKey = 12;
      for (const key of keys) {
        await subject.writeOrders([
          { op: 'insert', row: { id: key, status: 's0' } },
          ...Array.from({ length: changesPerKey - 1 }, (_v, i): OrderChange => ({ op: 'update', id: key, set: { status: `s${i + 1}` } })),
        ]);
      }
      const total = keys.length * changesPerKey;
      const sent: { instance: string; id: string; key: string; version: bigint }[] = [];
      const relay = async (instance: OracleOutbox, name: string) => {
        while (sent.length < total) {
          const rows = await instance.readBatch(4);
          for (const row of rows) sent.push({ instance: name, id: row.event.id, key: row.event.key, version: row.event.version });
          // Let the other instance in between reading and marking, as a real transport would.
          await new Promise((resolve) => setTimeout(resolve, rows.length === 0 ? 20 : 5));
          await instance.markPublished(rows);
        }
      };
      const other = createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'relay-b', leaseMs: 60_000 });

      await Promise.all([relay(outbox, 'a'), relay(other, 'b')]);

      expect(sent).toHaveLength(total);
      expect(new Set(sent.map((s) => s.id)).size).toBe(total);
      for (const key of keys) {
        const versions = sent.filter((s) => s.key === key).map((s) => s.version);
        expect(versions, key).toHaveLength(changesPerKey);
        expect(versions, key).toEqual([...versions].sort(compareBigints));
      }
      expect(await outbox.readBatch(100)).toEqual([]);
    }, 120_000);

    it('takes over the rows of an instance that stopped, once its claim ran out, in the same order', async () => {
      for (const key of ['x', 'y', 'z']) {
        await subject.writeOrders([
          { op: 'insert', row: { id: key, status: 'NEW' } },
          { op: 'update', id: key, set: { status: 'PAID' } },
        ]);
      }
      const stopped = createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'stopped', leaseMs: 1_000 });
      const taken = await stopped.readBatch(100);
      expect(taken).toHaveLength(6);

      let takenOver: OutboxRow[] = [];
      await waitUntil('the claims ran out', async () => {
        takenOver = await outbox.readBatch(100);
        return takenOver.length === 6;
      }, patience);

      expect(takenOver.map((r) => r.event.id)).toEqual([...taken].sort(bySeq).map((r) => r.event.id));
    });
  });

  describe('Oracle snapshots (issue 27)', () => {
    let schema: OracleSchema;
    beforeEach(async () => {
      schema = await openOracleSchema();
    });
    afterEach(async () => {
      await schema.dispose();
    });

    /** dvx_orders with `rows` orders the trigger never saw. */
    async function ordersBeforeTheTrigger(rows: number): Promise<void> {
      await withConnection(schema.pool, async (c) => {
        await c.execute('ALTER TRIGGER dvx_orders_capture DISABLE');
        await c.execute(`INSERT INTO dvx_orders (id, status) SELECT 'o-' || LPAD(LEVEL, 4, '0'), 'NEW' FROM dual CONNECT BY LEVEL <= ${String(rows)}`);
        await c.commit();
        await c.execute('ALTER TRIGGER dvx_orders_capture ENABLE');
      });
    }

    async function upserts(): Promise<string[]> {
      const rows = await withConnection(schema.pool, (c) =>
        c.execute(`SELECT aggregateid FROM tweetbus_outbox WHERE aggregatetype = 'orders' AND op = 'upsert' ORDER BY seq`, {}, { outFormat: oracledb.OUT_FORMAT_OBJECT }),
      );
      return (rows.rows ?? []).map((r) => String((r as { AGGREGATEID: unknown }).AGGREGATEID));
    }

    it('enqueues every row the trigger never saw, in chunks of the key, records the versions, and finishes', async () => {
      await ordersBeforeTheTrigger(23);
      const target = oracleSnapshotTarget(schema.pool, { logger: quietLogger });
      const [orders] = tablesOf(await target.tables(), 'orders');
      if (orders === undefined) throw new Error('dvx_orders is not listed in tweetbus_captured');
      expect(orders).toEqual({ table: 'DVX_ORDERS', collection: 'orders', keyColumn: 'ID', chunkProcedure: 'DVX_ORDERS_SNAPSHOT_CHUNK' });

      const progress: number[] = [];
      const result = await runSnapshot(target.store, orders, { chunkSize: 7, onProgress: (p) => void progress.push(p.enqueued) });
      expect(result).toMatchObject({ enqueued: 23, resumed: false, stopped: false });
      expect(progress).toEqual([7, 14, 21, 23]);
      expect(await upserts()).toEqual(Array.from({ length: 23 }, (_, i) => `o-${String(i + 1).padStart(4, '0')}`));
      expect((await target.store.state(orders))?.finished).toBe(true);
      const registered = await withConnection(schema.pool, (c) => c.execute(`SELECT COUNT(*) AS n FROM tweetbus_key_versions WHERE aggregatetype = 'orders'`, {}, { outFormat: oracledb.OUT_FORMAT_OBJECT }));
      expect((registered.rows?.[0] as { N: number } | undefined)?.N).toBe(23);

      // Published, the outbox rows carry the very image the trigger makes.
      const row = (await createOracleOutbox({ pool: schema.pool }, { logger: quietLogger, instanceId: 'snap' }).readBatch(1))[0];
      expect(row?.event.data).toMatchObject({ id: 'o-0001', status: 'NEW' });
    });

    it('goes on after the last chunk of a snapshot that stopped half way', async () => {
      await ordersBeforeTheTrigger(10);
      const target = oracleSnapshotTarget(schema.pool, { logger: quietLogger });
      const [orders] = tablesOf(await target.tables(), 'orders');
      if (orders === undefined) throw new Error('dvx_orders is not listed in tweetbus_captured');
      await expect(
        runSnapshot(target.store, orders, {
          chunkSize: 4,
          onProgress: (p) => {
            if (p.enqueued === 4) throw new Error('the process died');
          },
        }),
      ).rejects.toThrow('the process died');
      expect(await runSnapshot(target.store, orders, { chunkSize: 4 })).toMatchObject({ enqueued: 6, resumed: true });
      expect(await upserts()).toHaveLength(10);
    });
  });
});
