import { describe, expect, it } from 'vitest';
import { logSink } from './log-sink.fixture.js';

/** An error as ioredis makes it for a failed command: its arguments on `command`. */
function commandError(message: string, name: string, args: readonly string[]): Error {
  return Object.assign(new Error(message), { command: { name, args } });
}

describe('the logger', () => {
  it('never writes the arguments of a failed command, on the error or anywhere in its cause chain', () => {
    const { logger, raw, lines } = logSink('info');
    const auth = commandError('WRONGPASS invalid username-password pair', 'auth', ['default', 'pw-SECRET-1']);
    const wrapped = new Error('connecting to Redis failed', { cause: commandError('HELLO failed', 'hello', ['3', 'AUTH', 'default', 'pw-SECRET-2']) });
    logger.error({ err: auth }, 'auth failed');
    logger.error({ err: wrapped }, 'hello failed');
    logger.warn({ err: commandError('OOM', 'xadd', ['tweetbus:events', '*', 'event', '{"id":"pw-SECRET-3"}']) }, 'xadd failed');
    logger.warn({ reply: { command: { name: 'config', args: ['SET', 'requirepass', 'pw-SECRET-4'] } } }, 'config');

    expect(raw.join('')).not.toMatch(/pw-SECRET/);
    expect(lines[0]).toMatchObject({ err: { message: 'WRONGPASS invalid username-password pair', command: { name: 'auth', args: '[redacted]' } } });
    expect(lines[2]).toMatchObject({ err: { command: { name: 'xadd', args: '[redacted]' } } });
    expect(lines[1]).toMatchObject({ err: { message: 'connecting to Redis failed: HELLO failed' } });
  });
});
