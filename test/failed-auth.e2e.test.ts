import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPasswordRefusingPostgres, type PasswordRefusingPostgres } from './password-refusing-postgres.fixture.js';
import { openDrillDatabases } from './drill.fixture.js';
import { exitCode, freePort, openServiceGroup, startXEmulator, xEmulatorCredentials, type Service, type ServiceGroup } from './processes.fixture.js';

/**
 * Issue 24: a wrong credential never reaches a log line. Each client's failed-authentication path
 * is driven in the built services, as their containers run them, at LOG_LEVEL=debug, and the
 * captured output is searched for the secret. (Redis's is in
 * transports/redis-streams/redis-auth.int.test.ts, on a redis-server with requirepass.)
 */

const secret = (name: string): string => `${name}-S3cret-${Math.random().toString(36).slice(2, 10)}`;

let services: ServiceGroup;
let refusing: PasswordRefusingPostgres;

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-failed-auth-');
  refusing = await startPasswordRefusingPostgres();
}, 30_000);

afterAll(async () => {
  await services.close();
  await refusing.close();
});

function start(name: string, entry: string, env: Record<string, string>): Service {
  return services.start(name, entry, { LOG_LEVEL: 'debug', ...env });
}

const text = (service: Service): string => service.output.join('');

async function logged(service: Service, pattern: RegExp, what: string): Promise<string> {
  return services.eventually(() => Promise.resolve(pattern.test(text(service)) ? text(service) : undefined), what, 30_000);
}

describe('a wrong PostgreSQL password', () => {
  it('is refused, said, and never logged, by the publisher (outbox) and the consumer (read store)', async () => {
    const password = secret('pg');
    const urls = [
      // A server that asks for the password and refuses it (28P01).
      `postgres://ada:${password}@127.0.0.1:${String(refusing.port)}/test`,
      // The machine's PostgreSQL, which knows no such role (28000).
      `postgres://nobody_here:${password}@127.0.0.1:5432/test`,
    ];
    for (const [i, url] of urls.entries()) {
      const redis = { TRANSPORT: 'redis-streams', REDIS_URL: 'redis://127.0.0.1:6379', REDIS_STREAM: `failed-auth-${String(i)}-${String(Date.now())}` };
      const publisher = start(`publisher-pg-${String(i)}`, 'publisher/main.js', { ...redis, OUTBOX_DATABASE_URL: url, PUBLISHER_PORT: '0' });
      expect(await exitCode(publisher.child)).toBe(1);
      const consumer = start(`consumer-pg-${String(i)}`, 'consumer/main.js', { ...redis, STORE: 'postgres', POSTGRES_URL: url, CONSUMER_PORT: '0' });
      expect(await exitCode(consumer.child)).toBe(1);
      for (const service of [publisher, consumer]) {
        expect(text(service)).toMatch(i === 0 ? /password authentication failed/ : /role \\"nobody_here\\" does not exist/);
        expect(text(service)).not.toContain(password);
      }
    }
    // The refusing server did get the password: it was in the clients' hands, and stayed there.
    expect(refusing.passwordsReceived).toContain(password);
  });
});

describe('wrong X tokens', () => {
  it('are refused by X, said, and never logged, by the publisher (OAuth 1.0a) and the consumer (bearer); nothing is lost meanwhile', async () => {
    const x = await startXEmulator(services);
    const db = await openDrillDatabases('e2e_failed_auth');
    try {
      const wrong = { X_API_SECRET: secret('api'), X_ACCESS_SECRET: secret('access'), X_BEARER_TOKEN: secret('bearer') };
      const port = await freePort();
      const consumerPort = await freePort();
      const publisherEnv = { ...x, ...xEmulatorCredentials.publisher, PUBLISHER_PORT: String(port), OUTBOX_DATABASE_URL: db.outboxUrl, RELAY_POLL_INTERVAL_MS: '100' };
      const consumerEnv = { ...x, ...xEmulatorCredentials.consumer, CONSUMER_PORT: String(consumerPort), STORE: 'postgres', POSTGRES_URL: db.readUrl };
      const publisher = start('publisher-x', 'publisher/main.js', { ...publisherEnv, X_API_SECRET: wrong.X_API_SECRET, X_ACCESS_SECRET: wrong.X_ACCESS_SECRET });
      const consumer = start('consumer-x', 'consumer/main.js', { ...consumerEnv, X_BEARER_TOKEN: wrong.X_BEARER_TOKEN });
      await services.eventually(async () => ((await fetch(`http://127.0.0.1:${String(port)}/healthz`)).ok ? true : undefined), 'the publisher to listen', 60_000);
      await db.createOrdersTable();
      await db.writeDb.query(`INSERT INTO dvx_orders (id, status, customer_name) VALUES ('fa-1', 'NEW', 'Ada'), ('fa-2', 'NEW', 'Grace')`);
      const publisherLog = await logged(publisher, /rejected the credentials \(401\)/, 'the publisher to log X refusing its tokens');
      const consumerLog = await logged(consumer, /rejected the credentials \(401\)/, 'the consumer to log X refusing its token');
      for (const log of [publisherLog, consumerLog]) {
        for (const value of Object.values(wrong)) expect(log).not.toContain(value);
        expect(log).not.toContain(xEmulatorCredentials.publisher.TRUST_HMAC_KEY);
      }
      // Both say so where an operator looks: /readyz fails, naming the refusal.
      for (const [name, servicePort] of Object.entries({ publisher: port, consumer: consumerPort })) {
        const res = await fetch(`http://127.0.0.1:${String(servicePort)}/readyz`);
        const body = await res.text();
        expect(res.status, `${name}: ${body}`).toBe(503);
        expect(body, name).toMatch(/401|credentials/);
      }

      // The operator fixes the tokens: what waited in the outbox arrives, row for row.
      for (const service of [publisher, consumer]) {
        service.child.kill('SIGTERM');
        expect(await exitCode(service.child)).toBe(0);
      }
      start('publisher-x-fixed', 'publisher/main.js', publisherEnv);
      start('consumer-x-fixed', 'consumer/main.js', consumerEnv);
      await db.expectReadModelEqualsWriteTable(services, 'the rows to arrive once the tokens are right', 60_000);
    } finally {
      await db.close();
    }
  }, 120_000);
});
