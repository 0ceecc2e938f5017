import { describe, expect, it } from 'vitest';
import { logSink } from './log-sink.fixture.js';
import { createScope } from './scope.js';

describe('scope', () => {
  it('closes the last opened first, every part even when one fails, and only once', async () => {
    const sink = logSink();
    const scope = createScope(sink.logger);
    const closed: string[] = [];
    scope.defer(() => {
      closed.push('database');
      return Promise.resolve();
    });
    scope.defer(() => {
      closed.push('adapter');
      return Promise.reject(new Error('socket already gone'));
    });
    scope.defer(() => {
      closed.push('service');
      return Promise.resolve();
    });
    await Promise.all([scope.close(), scope.close()]);
    await scope.close();
    expect(closed).toEqual(['service', 'adapter', 'database']);
    expect(sink.lines.filter((l) => l.msg === 'a part did not close cleanly')).toHaveLength(1);
  });
});
