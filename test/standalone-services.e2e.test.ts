import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The three services as separate processes, configured by environment alone, exactly as their
 * containers run them (the built `dist/` entry points; `npm test` builds first). Pointed at one
 * another, they do the demo's round trip.
 */

const root = join(import.meta.dirname, '..');
const running: { name: string; child: ChildProcess; output: string[] }[] = [];
let dir: string;
let ports: { emulator: number; publisher: number; consumer: number };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function startService(name: string, entry: string, env: Record<string, string>): { child: ChildProcess; output: string[] } {
  const child = spawn(process.execPath, [join(root, 'dist', entry)], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  running.push({ name, child, output });
  return { child, output };
}

function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const logs = running.map((r) => `--- ${r.name}\n${r.output.join('').slice(-3000)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const ready = (url: string) => async () => ((await fetch(url)).status === 200 ? true : undefined);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tweetbus-services-'));
  ports = { emulator: await freePort(), publisher: await freePort(), consumer: await freePort() };
  const certDir = join(dir, 'certs');
  startService('x-emulator', 'x-emulator/main.js', { X_EMULATOR_PORT: String(ports.emulator), X_EMULATOR_CERT_DIR: certDir });
  const caFile = join(certDir, 'cert.pem');
  await eventually(() => Promise.resolve(existsSync(caFile) ? true : undefined), 'the emulator certificate');
  const x = { X_API_URL: `https://127.0.0.1:${ports.emulator}`, X_CA_FILE: caFile };
  startService('publisher', 'publisher/main.js', {
    ...x,
    PUBLISHER_PORT: String(ports.publisher),
    DATA_DIR: join(dir, 'publisher'),
    X_API_KEY: 'emulator-api-key',
    X_API_SECRET: 'emulator-api-secret',
    X_ACCESS_TOKEN: '1000000000000000001-emulator-access-token',
    X_ACCESS_SECRET: 'emulator-access-secret',
  });
  startService('consumer', 'consumer/main.js', {
    ...x,
    CONSUMER_PORT: String(ports.consumer),
    DATA_DIR: join(dir, 'consumer'),
    X_BEARER_TOKEN: 'emulator-bearer-token',
  });
  await eventually(ready(`http://127.0.0.1:${ports.publisher}/readyz`), 'the publisher to be ready');
  await eventually(ready(`http://127.0.0.1:${ports.consumer}/readyz`), 'the consumer to be ready');
}, 90_000);

afterAll(async () => {
  for (const { child } of running) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('the services as separate processes', () => {
  it('carry a legacy callback from the publisher to the consumer through the emulator', async () => {
    const res = await fetch(
      `http://127.0.0.1:${ports.publisher}/order?orderId=s-1&customerName=Ada&status=NEW&customerId=c1&shippingDestination=Oslo&timestamp=2026-01-01T10:00:00Z`,
    );
    expect(res.status).toBe(202);
    const doc = await eventually(async () => {
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
    const doc = await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.consumer}/api/orders/s-2`);
      return r.status === 200 ? ((await r.json()) as { version: string; data: Record<string, unknown> }) : undefined;
    }, 'the document');
    expect(doc).toMatchObject({ version: '7', data: event.data });
  });

  it('never write a credential into their logs', () => {
    const logs = running.map((r) => r.output.join('')).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of ['emulator-api-secret', 'emulator-access-secret', 'emulator-bearer-token']) {
      expect(logs).not.toContain(secret);
    }
  });

  it('stop on SIGTERM with exit code 0', async () => {
    for (const { child } of running) child.kill('SIGTERM');
    const codes = await Promise.all(running.map(({ child }) => exitCode(child)));
    expect(codes).toEqual([0, 0, 0]);
  });

  it('refuse to start without a required variable, naming it', async () => {
    const { child, output } = startService('consumer-misconfigured', 'consumer/main.js', {
      CONSUMER_PORT: '0',
      DATA_DIR: join(dir, 'bad'),
    });
    expect(await exitCode(child)).toBe(1);
    expect(output.join('')).toContain('X_BEARER_TOKEN');
  });
});
