import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxReader, OutboxRow } from '../publisher/capture/outbox.js';
import { seededRandom } from '../common/seeded-random.js';
import { waitUntil } from '../common/wait.fixture.js';
import {
  deliveryCounts,
  expectDeliveredInVersionOrderPerKey,
  expectEveryCapturedEventDelivered,
  openCaptureHarness,
  patience,
  type CaptureHarness,
  type LeaderNode,
} from './capture.fixture.js';

/**
 * Capture end to end against the real PostgreSQL: dvx_orders and its trigger, the outbox, the relay,
 * the in-memory bus and the consumer pipeline into a PostgreSQL read model. Every case ends with the
 * read model compared against dvx_orders row by row.
 */
describe('capture from PostgreSQL to the read model', { timeout: 240_000 }, () => {
  let h: CaptureHarness;

  beforeEach(async () => {
    h = await openCaptureHarness();
  });

  afterEach(async () => {
    await h.close();
  });

  async function insertOrder(q: pg.ClientBase | CaptureHarness['db'], id: string, status: string): Promise<void> {
    await q.query(
      `INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination) VALUES ($1, $2, $3, $4, $5)`,
      [id, status, `c-${id}`, `Customer ${id}`, 'Utrecht'],
    );
  }

  /** `outbox` with the methods in `overrides` replaced. */
  function withReader(outbox: OutboxReader, overrides: Partial<OutboxReader>): OutboxReader {
    return {
      readBatch: (limit) => outbox.readBatch(limit),
      markPublished: (rows) => outbox.markPublished(rows),
      markFailed: (failures) => outbox.markFailed(failures),
      republishSince: (since) => outbox.republishSince(since),
      ...overrides,
    };
  }

  /**
   * Random changes to `keys` from one writer that alone changes them, so it knows which exist: a
   * missing key is inserted, an existing one mostly updated, sometimes deleted. Every statement
   * changes exactly one row, so it captures exactly one outbox row.
   */
  function randomWriter(seed: number, keys: readonly string[]) {
    const random = seededRandom(seed);
    const exists = new Set<string>();
    let changes = 0;
    return {
      /** Between 1 and `max` changes. */
      transactionSize: (max: number): number => 1 + Math.floor(random() * max),
      async randomChange(tx: pg.ClientBase): Promise<void> {
        const key = keys[Math.floor(random() * keys.length)];
        if (key === undefined) throw new Error('a writer needs keys');
        changes += 1;
        if (!exists.has(key)) {
          await insertOrder(tx, key, 'NEW');
          exists.add(key);
        } else if (random() < 0.75) {
          await tx.query(`UPDATE dvx_orders SET status = $2, customer_name = $3, shipping_destination = $4 WHERE id = $1`, [
            key,
            `S${changes}`,
            `Name ${Math.floor(random() * 1_000)}`,
            random() < 0.5 ? 'Utrecht' : 'Leuven',
          ]);
        } else {
          await tx.query('DELETE FROM dvx_orders WHERE id = $1', [key]);
          exists.delete(key);
        }
      },
    };
  }

  it('never publishes a rolled-back transaction or a rolled-back savepoint', async () => {
    await h.startRelay('only');

    const doomed = await h.begin();
    await insertOrder(doomed, 'rolled-back', 'NEW');
    await doomed.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'rolled-back'`);
    await insertOrder(doomed, 'kept-before', 'NEW'); // a key that exists after all: only its rolled-back event must vanish
    const doomedIds = (await doomed.query<{ id: string }>('SELECT id FROM tweetbus_outbox')).rows.map((r) => r.id);
    expect(doomedIds).toHaveLength(3);
    await h.end(doomed, 'ROLLBACK');

    const partly = await h.begin();
    await partly.query('SAVEPOINT before_mistake');
    await insertOrder(partly, 'savepoint-undone', 'NEW');
    const undoneIds = (await partly.query<{ id: string }>(`SELECT id FROM tweetbus_outbox WHERE aggregateid = 'savepoint-undone'`)).rows.map(
      (r) => r.id,
    );
    expect(undoneIds).toHaveLength(1);
    await partly.query('ROLLBACK TO SAVEPOINT before_mistake');
    await insertOrder(partly, 'savepoint-kept', 'NEW');
    await h.end(partly, 'COMMIT');

    await insertOrder(h.db, 'kept-before', 'SHIPPED');
    await h.expectReadModelMatches();

    const delivered = await h.deliveries();
    const deliveredIds = new Set(delivered.map((d) => d.event.id));
    for (const id of [...doomedIds, ...undoneIds]) expect(deliveredIds.has(id), `rolled-back event ${id} was published`).toBe(false);
    const keys = delivered.map((d) => d.event.key);
    expect(keys).not.toContain('rolled-back');
    expect(keys).not.toContain('savepoint-undone');
    expect(keys.sort()).toEqual(['kept-before', 'savepoint-kept']);
    expect(delivered.find((d) => d.event.key === 'kept-before')?.event.data?.status).toBe('SHIPPED');
  });

  it('publishes both of two transactions that commit in the opposite order of their sequence numbers', async () => {
    // Completed reads, so the test can wait for a pass that started after some moment.
    let reads = 0;
    await h.startRelay('only', {
      wrapReader: (outbox) =>
        withReader(outbox, {
          async readBatch(limit) {
            const rows = await outbox.readBatch(limit);
            reads += 1;
            return rows;
          },
        }),
    });

    const a = await h.begin();
    const b = await h.begin();
    await insertOrder(a, 'first-seq-late-commit', 'NEW');
    await insertOrder(b, 'second-seq-early-commit', 'NEW');
    await h.end(b, 'COMMIT');

    // Let the relay make a full pass that began after B committed, while A is still open: a relay reading
    // "seq > last" would publish B now and then skip A's lower seq forever.
    const readsAfterB = reads;
    await waitUntil('the relay read the outbox twice while A was open', () => reads >= readsAfterB + 2, patience);
    expect((await h.deliveries()).map((d) => d.event.key)).toEqual([]);

    await h.end(a, 'COMMIT');
    await h.expectReadModelMatches();

    const delivered = await h.deliveries();
    expect(delivered.map((d) => d.event.key)).toEqual(['first-seq-late-commit', 'second-seq-early-commit']);
    const [first, second] = await h.outbox();
    expect(first?.key).toBe('first-seq-late-commit');
    expect(second?.key).toBe('second-seq-early-commit');
    expect(first && second && first.version < second.version).toBe(true);
  });

  it('publishes one key in version order when a row lock makes its versions run against transaction order', async () => {
    await h.startRelay('only');
    await insertOrder(h.db, 'contended', 'NEW');
    await insertOrder(h.db, 'other', 'NEW');
    const early = await h.begin();
    const late = await h.begin();
    // `early` takes the lower transaction id, but waits for `late`'s row lock, so it takes the higher
    // version of 'contended': read in transaction order, the outbox would carry its higher version first.
    await early.query(`UPDATE dvx_orders SET status = 'EARLY' WHERE id = 'other'`);
    await late.query(`UPDATE dvx_orders SET status = 'LATE' WHERE id = 'contended'`);
    const blocked = early.query(`UPDATE dvx_orders SET status = 'EARLY' WHERE id = 'contended'`);
    await waitUntil('the early transaction waits for the row lock', async () => {
      const waiting = await h.db.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE '%contended%'`,
        [`${h.schema}:write`],
      );
      return waiting.rows.length > 0;
    }, patience);
    await h.end(late, 'COMMIT');
    await blocked;
    await h.end(early, 'COMMIT');

    await h.expectReadModelMatches();
    expect((await h.store.get('orders', 'contended'))?.data?.status).toBe('EARLY');
    expectDeliveredInVersionOrderPerKey(await h.deliveries(), await h.outbox());
  });

  describe('a relay that dies between publishing and marking', () => {
    /** Orders the doomed relay will publish; several transactions, so the batch spans them. */
    async function writeSomeOrders(): Promise<void> {
      for (let i = 0; i < 6; i += 1) await insertOrder(h.db, `order-${i}`, 'NEW');
      const tx = await h.begin();
      await tx.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id IN ('order-1', 'order-2')`);
      await tx.query(`DELETE FROM dvx_orders WHERE id = 'order-3'`);
      await h.end(tx, 'COMMIT');
    }

    /** After the doomed relay is gone: a fresh relay publishes the same events again, and the read model is right. */
    async function expectRepublishedByANewRelay(unmarked: readonly OutboxRow[]): Promise<void> {
      const before = deliveryCounts(await h.deliveries());
      for (const row of unmarked) expect(before.get(row.event.id), `published once by the dead relay: ${row.event.id}`).toBe(1);
      expect((await h.outbox()).filter((e) => e.published)).toEqual([]);

      await h.startRelay('replacement', { batchSize: 4 });
      await insertOrder(h.db, 'after-restart', 'NEW');
      await h.expectReadModelMatches();

      const after = deliveryCounts(await h.deliveries());
      for (const row of unmarked) expect(after.get(row.event.id), `delivered twice: ${row.event.id}`).toBe(2);
      expectEveryCapturedEventDelivered(await h.deliveries(), await h.outbox());
      // The consumer saw the repeats and let the version gate skip them.
      expect(h.consumerStats.snapshot().skipped).toBeGreaterThanOrEqual(unmarked.length);
    }

    it('re-publishes the events when markPublished never completes (the process is gone)', async () => {
      await writeSomeOrders();
      let unmarked: readonly OutboxRow[] = [];
      const node = await h.startRelay('doomed', {
        batchSize: 100,
        wrapReader: (outbox) =>
          withReader(outbox, {
            markPublished: (rows) => {
              unmarked = rows;
              return new Promise<void>(() => undefined);
            },
          }),
      });
      await waitUntil('the doomed relay published a batch and tried to mark it', () => unmarked.length > 0, patience);
      await node.abandon();

      await expectRepublishedByANewRelay(unmarked);
    });

    it('re-publishes the events when markPublished fails and the relay is stopped', async () => {
      await writeSomeOrders();
      let unmarked: readonly OutboxRow[] = [];
      const node = await h.startRelay('doomed', {
        batchSize: 100,
        // It waits out the failure long enough to be stopped before it could retry.
        backoff: () => 600_000,
        wrapReader: (outbox) =>
          withReader(outbox, {
            markPublished: (rows) => {
              unmarked = rows;
              return Promise.reject(new Error('connection lost while marking'));
            },
          }),
      });
      await waitUntil('the doomed relay failed to mark a batch', () => node.relay.stats().lastError?.kind === 'outbox', patience);
      await node.stop();
      expect(unmarked.length).toBeGreaterThan(0);

      await expectRepublishedByANewRelay(unmarked);
    });
  });

  it('delivers 1,000 changes made while the publisher was down, in version order per key', async () => {
    const keyCount = 50;
    const writers = 4;
    const changesPerWriter = 250;
    const keyName = (i: number): string => `k${String(i).padStart(2, '0')}`;

    // Concurrent writers in transactions of 1 to 8 changes. Each writer owns its keys: writers
    // contending for one row can take its versions against transaction order (the case above), and the
    // outbox is read in transaction order, so per-key bus order is only promised without such contention.
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const writer = randomWriter(1_000 + w, Array.from({ length: keyCount }, (_, i) => i).filter((i) => i % writers === w).map(keyName));
        let done = 0;
        while (done < changesPerWriter) {
          const size = Math.min(changesPerWriter - done, writer.transactionSize(8));
          const tx = await h.begin();
          for (let c = 0; c < size; c += 1) await writer.randomChange(tx);
          await h.end(tx, 'COMMIT');
          done += size;
        }
      }),
    );

    const captured = await h.outbox();
    expect(captured).toHaveLength(writers * changesPerWriter);
    expect(new Set(captured.map((e) => e.op))).toEqual(new Set(['upsert', 'delete']));

    await h.startRelay('late', { batchSize: 100 });
    await h.expectReadModelMatches();

    expectDeliveredInVersionOrderPerKey(await h.deliveries(), captured);
  });

  describe('two relay instances on one outbox', () => {
    const keys = Array.from({ length: 30 }, (_, i) => `lead-${i}`);

    /** Changes one to three keys per transaction until stopped. */
    function keepWriting(): { stop(): Promise<void> } {
      const writer = randomWriter(5, keys);
      let stopped = false;
      // A function: `stopped` changes while the loop awaits, which narrowing cannot see.
      const isStopped = (): boolean => stopped;
      const running = (async () => {
        while (!isStopped()) {
          const tx = await h.begin();
          for (let c = writer.transactionSize(3); c > 0; c -= 1) await writer.randomChange(tx);
          await h.end(tx, 'COMMIT');
        }
      })();
      return {
        async stop() {
          stopped = true;
          await running;
        },
      };
    }

    /**
     * Two instances campaign; while changes keep coming, `kill` hits the leader until the standby leads.
     * Every captured event must be delivered, and no key may end at an older version.
     */
    async function expectTakeover(kill: (leader: LeaderNode) => Promise<void>, order: 'graceful' | 'abrupt'): Promise<void> {
      const timing = { retryMs: 100, checkMs: 250 };
      const first = h.leaderNode('first', timing);
      const second = h.leaderNode('second', timing);
      await Promise.all([first.node.listener.ready, second.node.listener.ready]);
      // The first starts alone, so it is the leader and the second the standby.
      first.follower.start();
      await waitUntil('the first instance leads', () => first.follower.role() === 'leader', patience);
      second.follower.start();
      await waitUntil('the second instance stands by', () => second.leadership.backendPid() !== undefined, patience);

      const writer = keepWriting();
      try {
        await waitUntil('the leader published some changes', () => h.bus.length >= 150, patience);
        expect(second.follower.role()).toBe('standby');
        expect(second.node.relay.stats().published).toBe(0);

        await waitUntil(
          'the standby took over',
          async () => {
            if (second.follower.role() === 'leader') return true;
            if (first.follower.role() === 'leader') await kill(first);
            return false;
          },
          patience,
        );
        const atTakeover = h.bus.length;
        await waitUntil('the new leader published more changes', () => h.bus.length >= atTakeover + 150, patience);
      } finally {
        await writer.stop();
      }

      await h.expectReadModelMatches();
      expect(second.node.relay.stats().published).toBeGreaterThan(0);
      if (order === 'graceful') {
        // The leader finished its batch before it let go of the lock: each key's versions went out in order.
        expectDeliveredInVersionOrderPerKey(await h.deliveries(), await h.outbox());
      } else {
        // Only "at least once": a leader that lost its lock session may finish its batch in flight
        // while the new one starts, so both may send the same rows (the consumer's version gate holds).
        expectEveryCapturedEventDelivered(await h.deliveries(), await h.outbox());
      }
    }

    it('the standby takes over when the leader is stopped, and every event is delivered', async () => {
      await expectTakeover((leader) => leader.follower.stop(), 'graceful');
    });

    it('the standby takes over when the leader loses its lock session, and every event is delivered', async () => {
      const killed = new Set<number>();
      await expectTakeover(async (leader) => {
        const pid = leader.leadership.backendPid();
        // The old leader may win its lock back on a new session first; then that session is hit too.
        if (pid === undefined || killed.has(pid)) return;
        killed.add(pid);
        const result = await h.db.query('SELECT pg_terminate_backend($1) AS terminated', [pid]);
        expect(result.rows).toEqual([{ terminated: true }]);
      }, 'abrupt');
      expect(killed.size).toBeGreaterThan(0);
    });
  });

  it('the row compare fails on a missing, extra, stale or older document and on a visible deleted key', async () => {
    await h.startRelay('only');
    await insertOrder(h.db, 'a', 'NEW');
    await insertOrder(h.db, 'b', 'NEW');
    await insertOrder(h.db, 'gone', 'NEW');
    await h.db.query(`DELETE FROM dvx_orders WHERE id = 'gone'`);
    await h.expectReadModelMatches();

    const documents = `${h.readModelSchema}.documents`;
    const corruptions: Record<string, string> = {
      stale: `UPDATE ${documents} SET data = jsonb_set(data, '{status}', '"OLD"') WHERE key = 'a'`,
      missing: `DELETE FROM ${documents} WHERE key = 'b'`,
      extra: `INSERT INTO ${documents} (collection, key, version, deleted, data, event_id, source, applied_at)
              VALUES ('orders', 'phantom', 1, false, '{"id":"phantom"}', 'x', 'test', now())`,
      'visible deleted': `UPDATE ${documents} SET deleted = false, data = '{"id":"gone","status":"NEW"}' WHERE key = 'gone'`,
      'older version': `UPDATE ${documents} SET version = version - 1 WHERE key = 'a'`,
    };
    const saved = await h.db.query(`SELECT collection, key, version, deleted, data, event_id, source, applied_at FROM ${documents}`);
    for (const [what, corrupt] of Object.entries(corruptions)) {
      await h.db.query(corrupt);
      await expect(h.expectReadModelMatches(), `a ${what} document went unnoticed`).rejects.toThrow();
      await h.db.query(`DELETE FROM ${documents}`);
      await h.db.query(
        `INSERT INTO ${documents} SELECT * FROM jsonb_populate_recordset(NULL::${documents}, $1::jsonb)`,
        [JSON.stringify(saved.rows)],
      );
      await h.expectReadModelMatches();
    }
  });

  describe('insert, update and delete of one key in quick succession', () => {
    it('leaves the read model right when each change is its own transaction', async () => {
      await h.startRelay('only');
      await insertOrder(h.db, 'gone', 'NEW');
      await h.db.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'gone'`);
      await h.db.query(`DELETE FROM dvx_orders WHERE id = 'gone'`);
      await insertOrder(h.db, 'stays', 'NEW');
      await h.db.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'stays'`);
      await h.db.query(`UPDATE dvx_orders SET status = 'SHIPPED', shipping_destination = 'Leuven' WHERE id = 'stays'`);
      await insertOrder(h.db, 'renamed-from', 'NEW');
      await h.db.query(`UPDATE dvx_orders SET id = 'renamed-to' WHERE id = 'renamed-from'`);

      await h.expectReadModelMatches();
      expect((await h.store.get('orders', 'stays'))?.data?.status).toBe('SHIPPED');
      expect(await h.store.get('orders', 'renamed-from')).toBeUndefined();
      expectDeliveredInVersionOrderPerKey(await h.deliveries(), await h.outbox());
    });

    it('leaves the read model right when all changes are in one transaction', async () => {
      await h.startRelay('only');
      const tx = await h.begin();
      await insertOrder(tx, 'gone', 'NEW');
      await tx.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'gone'`);
      await tx.query(`DELETE FROM dvx_orders WHERE id = 'gone'`);
      await insertOrder(tx, 'stays', 'NEW');
      // Enough changes that the outbox's seq passes from one digit to two inside this transaction.
      for (let i = 0; i < 11; i += 1) await tx.query(`UPDATE dvx_orders SET status = $1 WHERE id = 'stays'`, [`STEP-${i}`]);
      await tx.query(`UPDATE dvx_orders SET status = 'SHIPPED' WHERE id = 'stays'`);
      await insertOrder(tx, 'back', 'NEW');
      await tx.query(`DELETE FROM dvx_orders WHERE id = 'back'`);
      await insertOrder(tx, 'back', 'REBORN');
      await h.end(tx, 'COMMIT');

      await h.expectReadModelMatches();
      expect((await h.store.get('orders', 'back'))?.data?.status).toBe('REBORN');
      expect((await h.store.get('orders', 'stays'))?.data?.status).toBe('SHIPPED');
      expectDeliveredInVersionOrderPerKey(await h.deliveries(), await h.outbox());
    });

    it('leaves the read model right when a deleted key is inserted again', async () => {
      await h.startRelay('only');
      await insertOrder(h.db, 'back', 'NEW');
      await h.db.query(`DELETE FROM dvx_orders WHERE id = 'back'`);
      await insertOrder(h.db, 'back', 'REBORN');
      await insertOrder(h.db, 'twice-gone', 'NEW');
      await h.db.query(`DELETE FROM dvx_orders WHERE id = 'twice-gone'`);
      await insertOrder(h.db, 'twice-gone', 'REBORN');
      await h.db.query(`DELETE FROM dvx_orders WHERE id = 'twice-gone'`);

      await h.expectReadModelMatches();
      const back = await h.store.get('orders', 'back');
      expect(back?.data?.status).toBe('REBORN');
      const versions = (await h.outbox()).filter((e) => e.key === 'back').map((e) => e.version);
      expect(back?.version).toBe(versions[versions.length - 1]);
      expectDeliveredInVersionOrderPerKey(await h.deliveries(), await h.outbox());
    });
  });
});
