import { describe, expect, it } from 'vitest';
import { defaultKafkaRequestTimeoutMs } from '../transports/kafka/kafka-client.js';
import { defaultXRequestTimeoutMs } from '../transports/x/x-client.js';
import { defaultShutdownDrainMs, defaultShutdownGraceMs } from './process.js';

/**
 * Issue 24: on SIGTERM a service drains its work in flight, then closes its transport under it; a
 * request to a peer that never answers must fail before the grace period ends, or the service would
 * exit 1 with its work unsettled.
 */
describe('shutdown bounds', () => {
  it('every transport request times out within the grace period, after the drain', () => {
    for (const [name, timeoutMs] of Object.entries({ x: defaultXRequestTimeoutMs, kafka: defaultKafkaRequestTimeoutMs })) {
      expect(defaultShutdownDrainMs + timeoutMs, name).toBeLessThan(defaultShutdownGraceMs);
    }
  });
});
