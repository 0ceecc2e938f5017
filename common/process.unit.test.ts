import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';
import { readPemFile, runService, stopOnSignals, type ProcessTarget } from './process.js';

/** A process stand-in: signals are emitted by the test, exits are recorded instead of taken. */
function aFakeProcess(): ProcessTarget & { emit(signal: NodeJS.Signals): void; exited: Promise<number>; exits: number[] } {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  let exited: (code: number) => void = () => undefined;
  const exitedOnce = new Promise<number>((resolve) => (exited = resolve));
  return {
    exitCode: undefined,
    once(signal, listener) {
      emitter.once(signal, listener);
    },
    exit(code) {
      exits.push(code);
      exited(code);
    },
    emit(signal) {
      emitter.emit(signal, signal);
    },
    exited: exitedOnce,
    exits,
  };
}

/** A logger whose lines the test can read back. */
function aLogSink(): { logger: ReturnType<typeof createLogger>; lines: () => { level: number; msg: string; signal?: string }[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => {
          const parsed: unknown = JSON.parse(line);
          if (typeof parsed !== 'object' || parsed === null || !('level' in parsed) || !('msg' in parsed)) throw new Error(`not a log line: ${line}`);
          const { level, msg } = parsed;
          if (typeof level !== 'number' || typeof msg !== 'string') throw new Error(`not a log line: ${line}`);
          return 'signal' in parsed && typeof parsed.signal === 'string' ? { level, msg, signal: parsed.signal } : { level, msg };
        }),
  };
}

/** A close function that counts its calls and then settles as `outcome` says. */
function aCountingClose(outcome: () => Promise<void> = () => Promise.resolve()): { close: () => Promise<void>; calls: () => number } {
  let calls = 0;
  return {
    close: () => {
      calls += 1;
      return outcome();
    },
    calls: () => calls,
  };
}

describe('stopOnSignals', () => {
  it('closes once on the first signal, logs, and exits with 0', async () => {
    const target = aFakeProcess();
    const sink = aLogSink();
    const counting = aCountingClose();
    stopOnSignals({ logger: sink.logger, close: counting.close, message: 'shutting down', stoppedMessage: 'stopped', target });

    target.emit('SIGTERM');
    target.emit('SIGINT');
    expect(await target.exited).toBe(0);
    expect(counting.calls()).toBe(1);
    expect(target.exits).toEqual([0]);
    expect(sink.lines().map(({ msg, signal }) => ({ msg, signal }))).toEqual([
      { msg: 'shutting down', signal: 'SIGTERM' },
      { msg: 'stopped', signal: undefined },
    ]);
  });

  it('exits with 1 and says so when closing outlasts the grace period', async () => {
    const target = aFakeProcess();
    const sink = aLogSink();
    stopOnSignals({ logger: sink.logger, close: () => new Promise<void>(() => undefined), message: 'stopping', graceMs: 10, target });

    target.emit('SIGINT');
    expect(await target.exited).toBe(1);
    expect(sink.lines().at(-1)).toMatchObject({ level: 50, msg: 'shutdown took too long; exiting anyway' });
  });

  it('exits with 1 when closing fails', async () => {
    const target = aFakeProcess();
    const sink = aLogSink();
    stopOnSignals({ logger: sink.logger, close: () => Promise.reject(new Error('stuck')), message: 'stopping', target });

    target.emit('SIGTERM');
    expect(await target.exited).toBe(1);
    expect(sink.lines().at(-1)).toMatchObject({ level: 50, msg: 'shutdown failed' });
  });
});

describe('runService', () => {
  it('stops on signals once the service has started', async () => {
    const target = aFakeProcess();
    const sink = aLogSink();
    const counting = aCountingClose();
    await runService({ logger: sink.logger, start: () => Promise.resolve(), close: counting.close, failedMessage: 'failed to start', message: 'stopping', target });
    expect(counting.calls()).toBe(0);

    target.emit('SIGTERM');
    expect(await target.exited).toBe(0);
    expect(counting.calls()).toBe(1);
  });

  it('closes what was built and sets exit code 1 when starting fails, naming a configuration problem', async () => {
    const target = aFakeProcess();
    const sink = aLogSink();
    const counting = aCountingClose(() => Promise.reject(new Error('half built')));
    const start = (): Promise<void> => Promise.reject(new ConfigError(['X_CA_FILE must be the path of a readable PEM certificate file (ENOENT)']));
    await runService({ logger: sink.logger, start, close: counting.close, failedMessage: 'failed to start', message: 'stopping', target });

    expect(counting.calls()).toBe(1);
    expect(target.exitCode).toBe(1);
    expect(target.exits).toEqual([]);
    const lines = sink.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe(60);
    expect(lines[0]?.msg).toContain('X_CA_FILE');
    target.emit('SIGTERM');
    expect(counting.calls()).toBe(1);
  });
});

describe('readPemFile', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('returns the file as text', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tweetbus-pem-'));
    const path = join(dir, 'cert.pem');
    await writeFile(path, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(await readPemFile(path, 'X_CA_FILE')).toContain('BEGIN CERTIFICATE');
  });

  it('names the variable and the reason when the file cannot be read', async () => {
    const error = await readPemFile(join(tmpdir(), 'tweetbus-no-such-dir', 'cert.pem'), 'X_CA_FILE').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ issues: ['X_CA_FILE must be the path of a readable PEM certificate file (ENOENT)'] });
  });
});
