import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { waitUntil } from '../common/wait.fixture.js';
import { exitCode, freePort } from './processes.fixture.js';

/**
 * A redis-server of the test's own on a free port, never the machine's shared one: a drill may kill
 * it, and a restart loses everything, as Redis without persistence does.
 */
export interface TestRedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGKILLs the server and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts a new, empty server on the same port (after `kill`). */
  restart(): Promise<void>;
}

function accepting(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(undefined);
    });
  });
}

export async function startTestRedisServer(extraArgs: readonly string[] = []): Promise<TestRedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' });
    await waitUntil(`redis-server on port ${String(port)}`, () => accepting(port), { timeoutMs: 10_000, intervalMs: 50 });
  }

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${String(port)}`,
    async kill() {
      const current = child;
      if (current === undefined) return;
      const exited = exitCode(current);
      current.kill('SIGKILL');
      await exited;
      child = undefined;
    },
    restart: launch,
  };
}
