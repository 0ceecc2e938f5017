import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPgSchema, pgSchemaPool, pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { sqlFromPgPool, type SqlDatabase } from '../common/sql.js';
import { demoOrdersSchemaFiles, locateSqlDir } from '../publisher/capture/postgres/schema.js';
import { exitCode, freePort, openServiceGroup, ready, startXEmulator, xEmulatorCredentials, type Service, type ServiceGroup } from './processes.fixture.js';

/**
 * Publisher processes (dist/) on the real PostgreSQL, configured by environment alone: two instances
 * share one outbox in a schema of their own (search_path through the URL's `options`), elect one
 * relay, hand over when it dies, and clean up published rows. The changes are plain SQL on
 * dvx_orders, captured by its trigger, and travel through the X emulator to a consumer process.
 */

const oraclePassword = 'oracle-e2e-pw-7Qx';

interface Publisher {
  readonly name: string;
  readonly url: string;
  readonly service: Service;
}

let services: ServiceGroup;
let dropSchema: (() => Promise<void>) | undefined;
/** What an operator would set: libpq's `options` parameter, percent-encoded, puts the outbox in a schema of its own. */
let outboxUrl: string;
let pool: pg.Pool | undefined;
let db: SqlDatabase;
let consumerUrl: string;
let xEnv: Record<string, string>;
let publishers: Publisher[];

const aboutBody = z.object({
  instance: z.string(),
  outbox: z.string(),
  status: z.object({ relay: z.object({ role: z.string(), published: z.number() }) }),
});

async function about(publisher: Publisher): Promise<z.infer<typeof aboutBody>> {
  const res = await fetch(`${publisher.url}/about`);
  if (res.status !== 200) throw new Error(`GET /about of ${publisher.name}: ${res.status}`);
  return aboutBody.parse(await res.json());
}

async function startPublisher(name: string, env: Record<string, string> = {}): Promise<Publisher> {
  const port = await freePort();
  const service = services.start(name, 'publisher/main.js', {
    ...xEnv,
    PUBLISHER_PORT: String(port),
    OUTBOX_DATABASE_URL: outboxUrl,
    RELAY_INSTANCE_ID: name,
    RELAY_LEADER_RETRY_MS: '300',
    RELAY_POLL_INTERVAL_MS: '100',
    // 1.8 s: published rows outlive their delivery briefly, then retention (every second) deletes them.
    OUTBOX_RETENTION_HOURS: '0.0005',
    OUTBOX_RETENTION_INTERVAL_MS: '1000',
    ...xEmulatorCredentials.publisher,
    ...env,
  });
  return { name, url: `http://127.0.0.1:${port}`, service };
}

/** Per key, the dvx_orders row as its trigger captures it (`to_jsonb`), or null when there is none. */
async function tableView(keys: readonly string[]): Promise<Record<string, unknown>> {
  const result = await db.query('SELECT id, to_jsonb(o) AS image FROM dvx_orders o WHERE id = ANY($1::text[])', [[...keys]]);
  const images = new Map(result.rows.map((r) => [String(r.id), r.image]));
  return Object.fromEntries(keys.map((key) => [key, images.get(key) ?? null]));
}

/** Per key, the consumer's document data, or null when it answers 404. */
async function consumerView(keys: readonly string[]): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    keys.map(async (key) => {
      const res = await fetch(`${consumerUrl}/api/orders/${encodeURIComponent(key)}`);
      if (res.status === 404) return [key, null] as const;
      if (res.status !== 200) throw new Error(`GET /api/orders/${key}: ${res.status}`);
      return [key, z.object({ data: z.unknown() }).parse(await res.json()).data] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** Waits until the consumer shows every key as dvx_orders has it (deleted rows as 404), then compares them. */
async function expectConsumerMatchesTable(keys: readonly string[]): Promise<void> {
  let last = { consumer: {} as Record<string, unknown>, table: {} as Record<string, unknown> };
  let timedOut = '';
  await services
    .eventually(async () => {
      last = { table: await tableView(keys), consumer: await consumerView(keys) };
      return isDeepStrictEqual(last.consumer, last.table) ? true : undefined;
    }, 'the consumer to show what dvx_orders holds')
    .catch((err: unknown) => {
      timedOut = String(err);
    });
  expect(last.consumer, `consumer vs dvx_orders, key by key\n${timedOut}`).toEqual(last.table);
}

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-pub-pg-');
  const created = await createPgSchema(pgTestDatabaseUrl, 'e2e_pub');
  dropSchema = created.drop;
  outboxUrl = `${pgTestDatabaseUrl}?options=${encodeURIComponent(`-c search_path=${created.schema}`)}`;
  pool = pgSchemaPool(pgTestDatabaseUrl, created.schema, { max: 3 });
  db = sqlFromPgPool(pool, { owned: false });

  xEnv = await startXEmulator(services);

  const consumerPort = await freePort();
  consumerUrl = `http://127.0.0.1:${consumerPort}`;
  services.start('consumer', 'consumer/main.js', {
    ...xEnv,
    ...xEmulatorCredentials.consumer,
    CONSUMER_PORT: String(consumerPort),
    DATA_DIR: join(services.dir, 'consumer'),
  });

  // The publishers create the outbox themselves (OUTBOX_APPLY_SCHEMA defaults to true), at once.
  publishers = await Promise.all([startPublisher('publisher-a'), startPublisher('publisher-b')]);
  for (const p of publishers) await services.eventually(ready(p.url), `${p.name} to be ready`);
  // The write table is the application's: created as a DBA would, once the outbox and trigger function exist.
  const sqlDir = locateSqlDir();
  for (const file of demoOrdersSchemaFiles) await db.exec(await readFile(join(sqlDir, file), 'utf8'));
  await services.eventually(ready(consumerUrl), 'the consumer to be ready');
}, 60_000);

afterAll(async () => {
  try {
    await services.close();
  } finally {
    await pool?.end();
    await dropSchema?.();
  }
});

/**
 * Once both publishers have campaigned: what each says about itself (in `publishers` order), the one
 * that leads and the other one.
 */
async function electedPublishers(): Promise<{ abouts: z.infer<typeof aboutBody>[]; leader: Publisher; standby: Publisher }> {
  const abouts = await services.eventually(async () => {
    const all = await Promise.all(publishers.map(about));
    const leaders = all.filter((a) => a.status.relay.role === 'leader');
    // 'standby' is also the role before the first campaign: wait until the other one has lost one (its log says so).
    const campaigned = publishers.every(
      (p) => leaders.some((l) => l.instance === p.name) || p.service.output.join('').includes('another instance leads; standing by'),
    );
    return leaders.length > 0 && campaigned ? all : undefined;
  }, 'a leader and a standby');
  const leaderIndex = abouts.findIndex((a) => a.status.relay.role === 'leader');
  const [leader, standby] = [publishers[leaderIndex], publishers[1 - leaderIndex]];
  if (leader === undefined || standby === undefined) throw new Error(`no leader and standby among ${JSON.stringify(abouts)}`);
  return { abouts, leader, standby };
}

describe('publisher processes on one PostgreSQL outbox', () => {
  it('elect exactly one leader, which relays SQL changes on dvx_orders to the consumer', async () => {
    const { abouts: roles, leader, standby } = await electedPublishers();
    expect(roles.map((a) => a.status.relay.role).sort()).toEqual(['leader', 'standby']);
    expect(roles.map((a) => a.instance)).toEqual(['publisher-a', 'publisher-b']);
    expect(roles.map((a) => a.outbox)).toEqual(['postgres', 'postgres']);

    await db.transaction(async (tx) => {
      for (const id of ['o-1', 'o-2', 'o-3', 'o-4']) {
        await tx.query(
          `INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination) VALUES ($1, 'NEW', $2, $3, 'Utrecht')`,
          [id, `c-${id}`, `Customer ${id}`],
        );
      }
    });
    await db.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ('o-5', 'NEW', 'S&S <UK>')`);
    await expectConsumerMatchesTable(['o-1', 'o-2', 'o-3', 'o-4', 'o-5']);

    await db.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id IN ('o-1', 'o-2')`);
    await db.query(`UPDATE dvx_orders SET customer_name = 'Ada', shipping_destination = NULL WHERE id = 'o-3'`);
    await db.query(`DELETE FROM dvx_orders WHERE id = 'o-4'`);
    // A changed key: the trigger captures a delete of the old key and an upsert of the new one.
    await db.query(`UPDATE dvx_orders SET id = 'o-5b' WHERE id = 'o-5'`);
    const keys = ['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-5b'];
    await expectConsumerMatchesTable(keys);
    expect(Object.entries(await consumerView(keys)).filter(([, data]) => data === null).map(([key]) => key)).toEqual(['o-4', 'o-5']);

    // The standby never relayed: every row went through the leader.
    const [leaderAbout, standbyAbout] = await Promise.all([about(leader), about(standby)]);
    expect(standbyAbout.status.relay).toMatchObject({ role: 'standby', published: 0 });
    expect(leaderAbout.status.relay.role).toBe('leader');
    expect(leaderAbout.status.relay.published).toBeGreaterThan(0);
  });

  it('hand over to the standby when the leader is killed, and deliver what was written meanwhile', async () => {
    const { leader, standby } = await electedPublishers();
    leader.service.child.kill('SIGKILL');
    await exitCode(leader.service.child);

    // Written right after the kill, before the standby has (most likely) noticed it.
    await db.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ('k-1', 'NEW', 'After the crash')`);
    await db.query(`UPDATE dvx_orders SET status = 'SHIPPED' WHERE id = 'o-1'`);
    await db.query(`DELETE FROM dvx_orders WHERE id = 'o-2'`);

    await services.eventually(async () => ((await about(standby)).status.relay.role === 'leader' ? true : undefined), `${standby.name} to take over`);
    await db.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ('k-2', 'NEW', 'After the takeover')`);

    await expectConsumerMatchesTable(['o-1', 'o-2', 'o-3', 'k-1', 'k-2']);
    expect((await about(standby)).status.relay.published).toBeGreaterThan(0);
  });

  it('delete published outbox rows once they are older than OUTBOX_RETENTION_HOURS, and keep the rest', async () => {
    // A dead letter is never published: retention must leave it for the operator.
    await db.query(
      `INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, failed_at, failed_reason)
       VALUES ('e2e-dead-letter', 'orders', 'dl-1', 'orders.upserted', '{"id":"dl-1"}', nextval('tweetbus_version_seq'), 'upsert', 'e2e', now(), 'kept for the operator')`,
    );
    const captured = await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO dvx_orders (id, status) VALUES ('r-1', 'NEW'), ('r-2', 'NEW')`);
      const result = await tx.query(`SELECT id FROM tweetbus_outbox WHERE aggregateid IN ('r-1', 'r-2')`);
      return result.rows.map((r) => String(r.id));
    });
    expect(captured).toHaveLength(2);
    await expectConsumerMatchesTable(['r-1', 'r-2']);

    await services.eventually(async () => {
      const published = await db.query('SELECT count(*)::int AS n FROM tweetbus_outbox WHERE published_at IS NOT NULL');
      return published.rows[0]?.n === 0 ? true : undefined;
    }, 'retention to delete every published row');
    const left = await db.query('SELECT id, published_at, failed_reason FROM tweetbus_outbox ORDER BY id');
    expect(left.rows).toEqual([{ id: 'e2e-dead-letter', published_at: null, failed_reason: 'kept for the operator' }]);
  });
});

describe('a publisher on an Oracle outbox URL', () => {
  it('infers the oracle outbox from the scheme, reports it unready while nothing answers, and never logs the password', async () => {
    const publisher = await startPublisher('publisher-oracle', { OUTBOX_DATABASE_URL: `oracle://user:${oraclePassword}@127.0.0.1:1/XEPDB1` });
    const body = await services.eventually(async () => {
      const res = await fetch(`${publisher.url}/readyz`);
      return res.status === 503 ? z.object({ detail: z.string() }).parse(await res.json()) : undefined;
    }, 'the oracle publisher to answer /readyz');
    expect(body.detail).toMatch(/^outbox: /);
    expect((await about(publisher)).outbox).toBe('oracle');
    // The relay and retention have tried to connect too, and logged their failures (with the URL's parts).
    const failedComponents = () =>
      new Set(
        publisher.service.output
          .join('')
          .split('\n')
          .filter((line) => line.includes('"err":'))
          .map((line) => /"component":"(\w+)"/.exec(line)?.[1]),
      );
    await services.eventually(
      () => Promise.resolve(failedComponents().has('outboxRelay') && failedComponents().has('outboxRetention') ? true : undefined),
      'the relay and retention to log failed connections',
    );

    const logs = publisher.service.output.join('');
    expect(logs).not.toContain(oraclePassword);
    expect(logs).toContain('oracle://user:***@127.0.0.1:1/XEPDB1');
  });

  it('refuses an oracle:// URL without a password, naming OUTBOX_DATABASE_URL, and exits with 1', async () => {
    const { service } = await startPublisher('publisher-oracle-malformed', { OUTBOX_DATABASE_URL: 'oracle://nouser@host/svc' });
    expect(await exitCode(service.child)).toBe(1);
    expect(service.output.join('')).toMatch(/OUTBOX_DATABASE_URL should look like oracle:\/\/user:password@host:port\/service: the password is missing/);
  });
});
