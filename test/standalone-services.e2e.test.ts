import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCode, freePort, openServiceGroup, ready, startXEmulator, xEmulatorCredentials, type ServiceGroup } from './processes.fixture.js';

/**
 * The three services as separate processes, configured by environment alone, exactly as their
 * containers run them (the built `dist/` entry points; `npm test` builds first). Pointed at one
 * another, they do the demo's round trip.
 */

let services: ServiceGroup;
let dir: string;
let ports: { publisher: number; consumer: number };

beforeAll(async () => {
  services = await openServiceGroup('tweetbus-services-');
  dir = services.dir;
  ports = { publisher: await freePort(), consumer: await freePort() };
  const x = await startXEmulator(services);
  services.start('publisher', 'publisher/main.js', {
    ...x,
    ...xEmulatorCredentials.publisher,
    PUBLISHER_PORT: String(ports.publisher),
    DATA_DIR: join(dir, 'publisher'),
  });
  services.start('consumer', 'consumer/main.js', {
    ...x,
    ...xEmulatorCredentials.consumer,
    CONSUMER_PORT: String(ports.consumer),
    DATA_DIR: join(dir, 'consumer'),
  });
  await services.eventually(ready(`http://127.0.0.1:${ports.publisher}`), 'the publisher to be ready', 60_000);
  await services.eventually(ready(`http://127.0.0.1:${ports.consumer}`), 'the consumer to be ready', 60_000);
}, 90_000);

afterAll(async () => {
  await services.close();
});

describe('the services as separate processes', () => {
  it('carry a legacy callback from the publisher to the consumer through the emulator', async () => {
    const res = await fetch(
      `http://127.0.0.1:${ports.publisher}/order?orderId=s-1&customerName=Ada&status=NEW&customerId=c1&shippingDestination=Oslo&timestamp=2026-01-01T10:00:00Z`,
    );
    expect(res.status).toBe(202);
    const doc = await services.eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.consumer}/api/orders/s-1`);
      return r.status === 200 ? ((await r.json()) as { data: Record<string, unknown> }) : undefined;
    }, 'the document');
    expect(doc.data).toMatchObject({ id: 's-1', customer_name: 'Ada', status: 'NEW', shipping_destination: 'Oslo' });
  });

  it('carry events posted to POST /events', async () => {
    const event = {
      id: 'evt-s-2',
      source: 'billing',
      type: 'orders.upserted',
      collection: 'orders',
      key: 's-2',
      version: 7,
      op: 'upsert',
      data: { id: 's-2', status: 'PAID', note: 'Smith & Sons <UK> at example.com' },
      createdAt: '2026-01-01T10:00:00.000Z',
    };
    const res = await fetch(`http://127.0.0.1:${ports.publisher}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([event]),
    });
    expect(res.status).toBe(202);
    const doc = await services.eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.consumer}/api/orders/s-2`);
      return r.status === 200 ? ((await r.json()) as { version: string; data: Record<string, unknown> }) : undefined;
    }, 'the document');
    expect(doc).toMatchObject({ version: '7', data: event.data });
  });

  it('never write a credential into their logs', () => {
    const logs = services.running.map((r) => r.output.join('')).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    const { publisher, consumer } = xEmulatorCredentials;
    for (const secret of [publisher.X_API_SECRET, publisher.X_ACCESS_SECRET, consumer.X_BEARER_TOKEN, consumer.TRUST_HMAC_KEY]) {
      expect(logs).not.toContain(secret);
    }
  });

  it('stop on SIGTERM with exit code 0', async () => {
    for (const { child } of services.running) child.kill('SIGTERM');
    const codes = await Promise.all(services.running.map(({ child }) => exitCode(child)));
    expect(codes).toEqual([0, 0, 0]);
  });

  it('refuse to start without a required variable, naming it', async () => {
    const { child, output } = services.start('consumer-misconfigured', 'consumer/main.js', {
      CONSUMER_PORT: '0',
      DATA_DIR: join(dir, 'bad'),
    });
    expect(await exitCode(child)).toBe(1);
    expect(output.join('')).toContain('X_BEARER_TOKEN');
  });
});
