import { createLogger } from '../../../common/logger.js';
import { createServer, connect, type Socket } from 'node:net';
import type { Pool } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPgSchema, pgAdminQuery, pgSchemaPool, pgTestDatabaseUrl } from '../../../common/pg-test-schema.js';
import { waitUntil } from '../../../common/wait.fixture.js';
import { createPgAdvisoryLeadership, type PgAdvisoryLeadership } from './advisory-leadership.js';

const admin = (text: string, params?: readonly unknown[]) => pgAdminQuery(pgTestDatabaseUrl, text, params);

/** Sessions take a while on a shared server; still shorter than the test's own timeout. */
const patience = { timeoutMs: 25_000, intervalMs: 50 };

/** When the session `pid` started its last statement, if that has finished; a standby's changes with each try of the lock. */
async function lastFinishedStatementAt(pid: number | undefined): Promise<string | undefined> {
  const result = await admin(`SELECT query_start::text AS at FROM pg_stat_activity WHERE pid = $1 AND state = 'idle'`, [pid]);
  return z.array(z.object({ at: z.string() })).parse(result.rows)[0]?.at;
}

/**
 * What to undo after each test, in this order: leaderships (they hold pool connections), proxies
 * (a silent one would keep a pool's connection attempt waiting), pools, then schemas.
 */
const cleanups = { leaderships: [] as (() => Promise<void>)[], proxies: [] as (() => Promise<void>)[], pools: [] as (() => Promise<void>)[], schemas: [] as (() => Promise<void>)[] };

afterEach(async () => {
  for (const phase of [cleanups.leaderships, cleanups.proxies, cleanups.pools, cleanups.schemas]) {
    await Promise.all(phase.map((cleanup) => cleanup()));
    phase.length = 0;
  }
});

/** A uniquely named schema; `pool()` gives pools whose connections all use it (through `url`, if given). */
async function openSchema(): Promise<{ pool: (url?: string) => Pool }> {
  const { schema, drop } = await createPgSchema(pgTestDatabaseUrl, 'leadership_it');
  cleanups.schemas.push(drop);
  return {
    pool(url = pgTestDatabaseUrl) {
      const pool = pgSchemaPool(url, schema, { max: 4 });
      cleanups.pools.push(() => pool.end());
      return pool;
    },
  };
}

/**
 * A TCP proxy to PostgreSQL that can fall silent like a partitioned network: bytes are dropped both
 * ways and nobody learns that the other side is gone, until `serverNotices()` closes the server's
 * side (what its keepalives would do).
 */
async function partitionableProxy(): Promise<{ url: string; partition(): void; serverNotices(): void }> {
  const pairs: { client: Socket; server: Socket }[] = [];
  let silent = false;
  const proxy = createServer((client) => {
    const server = connect(5432, '127.0.0.1');
    pairs.push({ client, server });
    client.on('data', (data) => silent || server.write(data));
    server.on('data', (data) => silent || client.write(data));
    client.on('error', () => undefined);
    server.on('error', () => undefined);
    client.on('close', () => silent || server.destroy());
    server.on('close', () => silent || client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
  cleanups.proxies.push(async () => {
    for (const { client, server } of pairs) {
      client.destroy();
      server.destroy();
    }
    await new Promise((resolve) => proxy.close(resolve));
  });
  return {
    url: `postgres://postgres@127.0.0.1:${address.port}/test`,
    partition() {
      silent = true;
    },
    serverNotices() {
      for (const { server } of pairs) server.destroy();
    },
  };
}

/** A started leadership that records what it was told. */
function campaign(pool: Pool): { leadership: PgAdvisoryLeadership; told: string[] } {
  const leadership = createPgAdvisoryLeadership(pool, { retryMs: 100, checkMs: 1_000, logger: createLogger({ level: 'silent' }) });
  const told: string[] = [];
  leadership.start({
    onElected: () => told.push('elected'),
    onDeposed: (reason) => told.push(`deposed: ${reason}`),
  });
  cleanups.leaderships.push(() => leadership.close());
  return { leadership, told };
}

/** A leader on `leaderPool`, then a standby on `standbyPool` that has connected and waits. */
async function givenLeaderAndStandby(leaderPool: Pool, standbyPool = leaderPool) {
  const first = campaign(leaderPool);
  await waitUntil('the first instance to lead', () => first.leadership.isLeader(), patience);
  const second = campaign(standbyPool);
  await waitUntil('the second instance to connect', () => second.leadership.backendPid() !== undefined, patience);
  return { first, second };
}

describe('PostgreSQL advisory-lock leadership', () => {
  it('elects exactly one of two instances on one schema', async () => {
    const pool = (await openSchema()).pool();
    const a = campaign(pool);
    const b = campaign(pool);

    await waitUntil('a leader', () => a.leadership.isLeader() || b.leadership.isLeader(), patience);
    await waitUntil('both to connect', () => a.leadership.backendPid() !== undefined && b.leadership.backendPid() !== undefined, patience);
    // The standby has tried the lock again since then, and neither took it from the other.
    const standbyPid = (a.leadership.isLeader() ? b : a).leadership.backendPid();
    const before = await lastFinishedStatementAt(standbyPid);
    await waitUntil('the standby to try the lock again', async () => {
      const last = await lastFinishedStatementAt(standbyPid);
      return last !== undefined && last !== before;
    }, patience);

    expect([a.leadership.isLeader(), b.leadership.isLeader()].filter(Boolean)).toHaveLength(1);
    expect([...a.told, ...b.told]).toEqual(['elected']);
    const leader = a.leadership.isLeader() ? a.leadership : b.leadership;
    const holders = await admin(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ANY($1::int[])`, [
      [a.leadership.backendPid(), b.leadership.backendPid()],
    ]);
    expect(holders.rows).toEqual([{ pid: leader.backendPid() }]);
  });

  it('elects the standby when the leader closes, after telling the leader it was deposed', async () => {
    const { first, second } = await givenLeaderAndStandby((await openSchema()).pool());

    await first.leadership.close();
    await first.leadership.close();

    expect(first.told).toEqual(['elected', 'deposed: closed']);
    expect(first.leadership.isLeader()).toBe(false);
    await waitUntil('the standby to be elected', () => second.leadership.isLeader(), patience);
    expect(second.told).toEqual(['elected']);
  });

  it('deposes the leader at once and elects the standby when the server ends the leader\'s session', async () => {
    const { first, second } = await givenLeaderAndStandby((await openSchema()).pool());
    const pid = first.leadership.backendPid();

    const terminated = await admin('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(terminated.rows[0]).toEqual({ ok: true });

    await waitUntil('the leader to be deposed', () => first.told.length === 2, patience);
    expect(first.told[1]).toBe("deposed: the lock's connection was lost");
    await waitUntil('the standby to be elected', () => second.leadership.isLeader(), patience);
    // The first instance campaigns again on a fresh session, and stands by.
    await waitUntil('a fresh session', () => first.leadership.backendPid() !== undefined && first.leadership.backendPid() !== pid, patience);
    expect(first.leadership.isLeader()).toBe(false);
  });

  it('deposes a leader whose connection falls silent at its next check, before the server frees the lock', async () => {
    const schema = await openSchema();
    const proxy = await partitionableProxy();
    const { first, second } = await givenLeaderAndStandby(schema.pool(proxy.url), schema.pool());

    proxy.partition();

    await waitUntil('the silent leader to be deposed', () => first.told.length === 2, patience);
    expect(first.told[1]).toMatch(/^deposed: the lock's connection failed its check/);
    // The server still holds the silent session, and with it the lock.
    expect(second.leadership.isLeader()).toBe(false);
    proxy.serverNotices();
    await waitUntil('the standby to be elected once the server frees the lock', () => second.leadership.isLeader(), patience);
  });

  it('does not let a leader in one schema block an instance in another', async () => {
    const one = campaign((await openSchema()).pool());
    const other = campaign((await openSchema()).pool());

    await waitUntil('a leader in the first schema', () => one.leadership.isLeader(), patience);
    await waitUntil('a leader in the second schema', () => other.leadership.isLeader(), patience);
  });
});
