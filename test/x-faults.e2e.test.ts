import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDrill, openDrillDatabases, type DrillDatabases } from './drill.fixture.js';
import { emulatorRequest, exitCode, openServiceGroup, startXEmulator, xEmulatorCredentials, type Service, type ServiceGroup } from './processes.fixture.js';

/**
 * Issue 24, drills as an operator would run them, with faults injected into the X emulator:
 * - SIGTERM while X has accepted a request and never answers: the publisher (a post) and the consumer
 *   (its catch-up search) abort it, exit 0 within the grace period (25 s), and lose nothing;
 * - X answers "duplicate" for a post it never made: the publisher does not count it as posted;
 * - X makes a post and the answer is lost: the retry's "duplicate" is confirmed by recent search.
 * The services are the built processes; the write table is dvx_orders on the real PostgreSQL, and
 * each drill ends with the read model compared to it row by row.
 */

let services: ServiceGroup;
let db: DrillDatabases;
let xEnv: { X_API_URL: string; X_CA_FILE: string };
let consumer: Service;

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-x-faults-');
  db = await openDrillDatabases('e2e_x_faults');
  xEnv = await startXEmulator(services);
  consumer = await startConsumer('consumer');
}, 90_000);

afterAll(() => closeDrill(services, db));

const insertOrder = (id: string, name: string): Promise<unknown> =>
  db.writeDb.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ($1, 'NEW', $2)`, [id, name]);

let publisherUrl = '';

async function startPublisher(name: string): Promise<Service> {
  const service = await services.startReady(name, 'publisher/main.js', 'PUBLISHER_PORT', {
    ...xEnv,
    ...xEmulatorCredentials.publisher,
    OUTBOX_DATABASE_URL: db.outboxUrl,
    RELAY_POLL_INTERVAL_MS: '100',
  });
  publisherUrl = service.url;
  return service;
}

const startConsumer = (name: string): Promise<Service> =>
  services.startReady(name, 'consumer/main.js', 'CONSUMER_PORT', { ...xEnv, ...xEmulatorCredentials.consumer, STORE: 'postgres', POSTGRES_URL: db.readUrl });

const emulatorLog = (): string => services.running.find((s) => s.name === 'x-emulator')?.output.join('') ?? '';

/** Arms `endpoint` to hang once, then resolves when the emulator has taken a request there. */
async function hangNext(endpoint: 'createTweet' | 'search', andThen: () => Promise<unknown>): Promise<void> {
  await faultNext(endpoint, 'timeout', 1, andThen);
}

/** Arms `kind` on `endpoint` `times` times, runs `andThen`, and resolves once the emulator injected it once. */
async function faultNext(endpoint: 'createTweet' | 'search', kind: string, times: number, andThen: () => Promise<unknown>): Promise<void> {
  const faultsBefore = emulatorLog().split('injected fault').length;
  expect((await emulatorRequest(xEnv, '/_emulator/faults', { endpoint, kind, times })).status).toBe(200);
  await andThen();
  await services.eventually(() => Promise.resolve(emulatorLog().split('injected fault').length > faultsBefore ? true : undefined), `the ${endpoint} request to hang`);
}

describe('SIGTERM while X hangs on a request', () => {
  it('a publisher aborts the post, exits 0 within the grace period, and leaves the row for the next publisher', async () => {
    const first = await startPublisher('publisher-first');
    await db.createOrdersTable();
    await insertOrder('before', 'Before');
    await db.expectReadModelEqualsWriteTable(services, 'the first row to arrive');

    await hangNext('createTweet', () => insertOrder('hung', 'Hung'));

    first.child.kill('SIGTERM');
    expect(await exitCode(first.child), services.logs()).toBe(0);
    expect(first.output.join('')).not.toContain('shutdown took too long');
    const { rows } = await db.writeDb.query(`SELECT published_at FROM tweetbus_outbox WHERE aggregateid = 'hung'`);
    expect(rows).toEqual([{ published_at: null }]);

    await startPublisher('publisher-next');
    await db.expectReadModelEqualsWriteTable(services, 'the next publisher to send the row');
  }, 120_000);

  it('a consumer aborts its catch-up search, exits 0 within the grace period, and the next one catches up', async () => {
    consumer.child.kill('SIGTERM');
    expect(await exitCode(consumer.child)).toBe(0);
    await insertOrder('while-down', 'Down');
    await db.writeDb.query(`UPDATE dvx_orders SET status = 'PAID' WHERE id = 'before'`);

    let hanging: Service | undefined;
    await hangNext('search', async () => {
      hanging = await startConsumer('consumer-hung-search');
    });
    if (hanging === undefined) throw new Error('the consumer did not start');
    hanging.child.kill('SIGTERM');
    expect(await exitCode(hanging.child), services.logs()).toBe(0);
    expect(hanging.output.join('')).not.toContain('shutdown took too long');

    consumer = await startConsumer('consumer-next');
    await db.expectReadModelEqualsWriteTable(services, 'the next consumer to catch up');
  }, 120_000);
});

/** Posts on the emulator whose text carries `needle`. */
async function postsCarrying(needle: string): Promise<number> {
  const listed = await emulatorRequest(xEnv, '/_emulator/posts');
  const posts = (listed.body as { data?: { text: string }[] }).data ?? [];
  return posts.filter((p) => p.text.includes(needle)).length;
}

describe('X answers "duplicate"', () => {
  it('for a post it never made: the publisher does not count it as posted, says so in the log and /readyz, and sends it again', async () => {
    const publisher = services.running.find((s) => s.name === 'publisher-next');
    if (publisher === undefined) throw new Error('no publisher');
    const logBefore = publisher.output.join('').length;
    // Twice, so the error stands while the second answer is searched for.
    await faultNext('createTweet', 'duplicate', 2, () => insertOrder('dup-never', 'Never'));
    const readiness = await services.eventually(async () => {
      const res = await fetch(`${publisherUrl}/readyz`);
      return res.status === 503 ? await res.text() : undefined;
    }, '/readyz to show the unconfirmed duplicate');
    expect(readiness).toMatch(/duplicate, but recent search does not find it/);
    await db.expectReadModelEqualsWriteTable(services, 'the row to go out on a later attempt', 60_000);
    const log = publisher.output.join('').slice(logBefore);
    expect(log).toMatch(/"level":50[^\n]*duplicate, but recent search does not find it/);
    expect(log).not.toMatch(/counting it as posted/);
    expect(await postsCarrying('dup-never')).toBe(1);
    expect((await fetch(`${publisherUrl}/readyz`)).status).toBe(200);
  }, 90_000);

  it('for a post whose answer was lost: the retry is refused as a duplicate, recent search finds the post, and it is posted once', async () => {
    const publisher = services.running.find((s) => s.name === 'publisher-next');
    if (publisher === undefined) throw new Error('no publisher');
    const logBefore = publisher.output.join('').length;
    await faultNext('createTweet', 'lostResponse', 1, () => insertOrder('dup-lost', 'Lost'));
    await db.expectReadModelEqualsWriteTable(services, 'the row to arrive', 60_000);
    await services.eventually(async () => {
      const { rows } = await db.writeDb.query(`SELECT published_at FROM tweetbus_outbox WHERE aggregateid = 'dup-lost'`);
      return rows[0]?.published_at === null ? undefined : true;
    }, 'the row to be marked published');
    expect(publisher.output.join('').slice(logBefore)).toMatch(/recent search shows it out: counting it as posted/);
    expect(await postsCarrying('dup-lost')).toBe(1);
  }, 90_000);
});
