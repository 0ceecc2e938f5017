import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSink } from '../../common/log-sink.fixture.js';
import { waitUntil } from '../../common/wait.fixture.js';
import { aChangeEvent } from '../../events/change-event.fixture.js';
import { freePort } from '../../test/processes.fixture.js';
import { createRedisStreamsPublisher } from './redis-streams-publisher.js';
import { createRedisStreamsSource } from './redis-streams-source.js';

/**
 * Issue 24: a wrong Redis password never reaches a log line. ioredis puts a failed command's
 * arguments on the error (`err.command.args`: the password of AUTH), and the clients log errors
 * whole. A redis-server of the test's own, with `requirepass`, on a free port, killed by its pid.
 */

const rightPassword = `R3dis-right-${randomUUID().slice(0, 8)}`;
const wrongPassword = `R3disWrongPW-${randomUUID().slice(0, 8)}`;
let server: ChildProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', rightPassword], { stdio: 'ignore' });
  await waitUntil('the test redis-server', async () => {
    const probe = createRedisStreamsPublisher({ url: `redis://:${rightPassword}@127.0.0.1:${String(port)}` }, { logger: logSink('silent').logger, checkTimeoutMs: 500 });
    try {
      await probe.check();
      return true;
    } catch {
      return undefined;
    } finally {
      await probe.close();
    }
  }, { timeoutMs: 10_000, intervalMs: 100 });
});

afterAll(() => {
  server.kill('SIGKILL');
});

describe('a wrong Redis password', () => {
  it('is never written to the log by the publisher or the source, for the user and password forms alike', async () => {
    const sink = logSink('debug');
    for (const url of [`redis://:${wrongPassword}@127.0.0.1:${String(port)}`, `redis://default:${wrongPassword}@127.0.0.1:${String(port)}`]) {
      const publisher = createRedisStreamsPublisher({ url }, { logger: sink.logger, checkTimeoutMs: 1_000 });
      await expect(publisher.publish([aChangeEvent()])).rejects.toThrow();
      await expect(publisher.check()).rejects.toThrow();
      await publisher.close();

      const source = createRedisStreamsSource({ url }, { stream: `auth-${randomUUID()}`, group: 'g', consumer: 'c', logger: sink.logger, blockMs: 100, reconnectBackoff: () => 100 });
      await expect(source.start(() => Promise.resolve({ rejected: [] }))).rejects.toThrow();
      await source.close();
    }
    const text = sink.raw.join('');
    // The failures were logged (with their reasons), and the password with none of them.
    expect(text).toMatch(/WRONGPASS|invalid username-password/);
    expect(text).not.toContain(wrongPassword);
  });
});
