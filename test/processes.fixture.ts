import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The built services (`dist/`) as child processes, configured by environment alone, as their
 * containers run them. For *.e2e.test.ts files; `npm test` builds first.
 */

const root = join(import.meta.dirname, '..');

/** A TCP port nobody listens on right now (taken and released at once, so another process could still take it). */
export function freePort(): Promise<number> {
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
  /** Starts `dist/<entry>` with only PATH, LOG_LEVEL=info and `env` in its environment. */
  start(name: string, entry: string, env: Record<string, string>): Service;
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

  return {
    dir,
    running,

    start(name, entry, env) {
      const child = spawn(process.execPath, [join(root, 'dist', entry)], {
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

    async eventually(probe, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs()}`);
        await new Promise((resolve) => setTimeout(resolve, 150));
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
}
