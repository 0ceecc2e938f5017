import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../common/wait.fixture.js';
import { freePort } from '../common/free-port.js';

export { freePort };

/**
 * The built services (`dist/`) as child processes, configured by environment alone, as their
 * containers run them. For *.e2e.test.ts files; `npm test` builds first.
 */

const root = join(import.meta.dirname, '..');

/** Resolves with the exit code once `child` has exited (`null` when a signal ended it). */
export function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
}

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far, in chunks. */
  readonly output: string[];
}

export interface ServiceGroup {
  /** A fresh temporary directory: the services' working directory (so no `.env` of the repository is read). */
  readonly dir: string;
  readonly running: readonly Service[];
  /** Starts `dist/<entry>` (with `args`) with only LOG_LEVEL=info and `env` in its environment. */
  start(name: string, entry: string, env: Record<string, string>, args?: readonly string[]): Service;
  /**
   * Starts `dist/<entry>` listening on a free port (given to it as `portVariable`) and resolves once
   * its `/readyz` answers 200, with its base URL.
   */
  startReady(name: string, entry: string, portVariable: string, env: Record<string, string>): Promise<Service & { readonly url: string }>;
  /**
   * Resolves with the first value `probe` gives other than `undefined` (a probe that throws counts as
   * `undefined`); after `timeoutMs`, rejects with the recent output of every service.
   */
  eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs?: number): Promise<T>;
  /** The last `chars` characters each service wrote, headed by its name. */
  logs(chars?: number): string;
  /** SIGKILLs every service still running, waits for them to exit and removes `dir`. */
  close(): Promise<void>;
}

export async function openServiceGroup(prefix: string): Promise<ServiceGroup> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const running: Service[] = [];

  function logs(chars = 3000): string {
    return running
      .map(({ name, child, output }) => {
        const ended = child.exitCode !== null || child.signalCode !== null ? ` (exited: ${String(child.exitCode ?? child.signalCode)})` : '';
        return `--- ${name}${ended}\n${output.join('').slice(-chars)}`;
      })
      .join('\n');
  }

  const group: ServiceGroup = {
    dir,
    running,

    start(name, entry, env, args = []) {
      const child = spawn(process.execPath, [join(root, 'dist', entry), ...args], {
        cwd: dir,
        env: { LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      const collect = (chunk: Buffer): void => {
        output.push(chunk.toString('utf8'));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const service = { name, child, output };
      running.push(service);
      return service;
    },

    async startReady(name, entry, portVariable, env) {
      // A port found free can be taken by another test file's process before the service binds it
      // (EADDRINUSE): the service is started again on another, twice at most.
      for (let attempt = 1; ; attempt += 1) {
        const port = await freePort();
        const service = group.start(name, entry, { ...env, [portVariable]: String(port) });
        const url = `http://127.0.0.1:${String(port)}`;
        const outcome = await group.eventually(
          async () => (service.child.exitCode !== null || service.child.signalCode !== null ? 'exited' : (await ready(url)()) === true ? 'ready' : undefined),
          `${name} to be ready`,
          60_000,
        );
        if (outcome === 'ready') return { ...service, url };
        if (attempt < 3 && service.output.join('').includes('EADDRINUSE')) {
          running.splice(running.indexOf(service), 1);
          continue;
        }
        throw new Error(`${name} exited before it was ready\n${logs()}`);
      }
    },

    async eventually(probe, what, timeoutMs = 20_000) {
      try {
        return await waitUntil(what, () => probe().catch(() => undefined), { timeoutMs, intervalMs: 150 });
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs()}`, { cause: err });
      }
    },

    logs,

    async close() {
      await Promise.all(
        running.map(async ({ child }) => {
          const exited = exitCode(child);
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
  return group;
}

/** A probe for `eventually`: the service at `baseUrl` answers GET /readyz with 200. */
export function ready(baseUrl: string): () => Promise<true | undefined> {
  // Bounded: a port that another process took may accept and never answer.
  return async () => ((await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200 ? true : undefined);
}

/** The signing key the publisher and the consumer share in these tests (TRUST_HMAC_KEY). */
const testHmacKey = 'test-only-hmac-key-never-use-in-production';

/** The credentials the X emulator accepts, per service, and the key both need over X. */
export const xEmulatorCredentials = {
  publisher: {
    X_API_KEY: 'emulator-api-key',
    X_API_SECRET: 'emulator-api-secret',
    X_ACCESS_TOKEN: '1000000000000000001-emulator-access-token',
    X_ACCESS_SECRET: 'emulator-access-secret',
    TRUST_HMAC_KEY: testHmacKey,
  },
  consumer: { X_BEARER_TOKEN: 'emulator-bearer-token', TRUST_HMAC_KEY: testHmacKey },
} as const;

/**
 * Starts the X emulator in `group` and waits for its self-signed certificate; resolves with the
 * environment that points a service at it.
 */
export async function startXEmulator(group: ServiceGroup): Promise<{ X_API_URL: string; X_CA_FILE: string }> {
  const port = await freePort();
  const certDir = join(group.dir, 'certs');
  group.start('x-emulator', 'x-emulator/main.js', { X_EMULATOR_PORT: String(port), X_EMULATOR_CERT_DIR: certDir });
  const caFile = join(certDir, 'cert.pem');
  await group.eventually(() => Promise.resolve(existsSync(caFile) ? true : undefined), 'the emulator certificate');
  return { X_API_URL: `https://127.0.0.1:${port}`, X_CA_FILE: caFile };
}

/**
 * Calls the emulator's own API (`/_emulator/faults`, `/_emulator/posts`) over HTTPS, trusting its
 * certificate: a JSON body is POSTed, no body is a GET. Resolves with the status and the parsed body.
 */
export function emulatorRequest(x: { X_API_URL: string; X_CA_FILE: string }, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, x.X_API_URL);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: payload === undefined ? 'GET' : 'POST',
        ca: readFileSync(x.X_CA_FILE, 'utf8'),
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
