import { describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { defaultRedisUrl } from '../transports/config.js';
import { measureCeilings } from './ceilings.js';
import type { BenchConfig } from './config.js';
import { orderEvents, planChanges } from './workload.js';

const logger = createLogger({ level: 'silent' });

function benchConfig(overrides: Partial<BenchConfig>): BenchConfig {
  return {
    transport: { kind: 'redis-streams', url: defaultRedisUrl },
    store: { kind: 'embedded' },
    writeDb: 'embedded',
    databaseUrl: pgTestDatabaseUrl,
    events: 200,
    runs: 1,
    writers: 4,
    pace: undefined,
    timeoutMs: 20_000,
    logLevel: 'silent',
    pgliteOptimize: false,
    dryRun: true,
    ...overrides,
  };
}

const measured = (value: number): void => {
  expect(Number.isFinite(value)).toBe(true);
  expect(value).toBeGreaterThan(0);
};

describe('the ceilings measured beside the pipeline', () => {
  // Each part really ran to the end: the writers committed every change, the transport carried every
  // event, the relay drained the backlog (it throws otherwise); every rate is a real, finite number.
  it.each([
    ['Redis Streams, embedded databases', benchConfig({})],
    ['X (an emulator of its own), PostgreSQL databases', benchConfig({ transport: { kind: 'x' }, store: { kind: 'postgres', databaseUrl: pgTestDatabaseUrl }, writeDb: 'postgres', events: 60 })],
  ])('measures each part alone: %s', async (_, config) => {
    const ceilings = await measureCeilings(config, planChanges(config.events), orderEvents(config.events), { kafka: undefined, host: '127.0.0.1' }, logger);
    measured(ceilings.writers.perSecond);
    measured(ceilings.writers.first);
    measured(ceilings.writers.last);
    measured(ceilings.publishPerSecond);
    measured(ceilings.readPerSecond);
    measured(ceilings.relayPerSecond);
    measured(ceilings.upsertPerSecond);
  });

  it('gives up, saying how far a part got, when it cannot finish in time', async () => {
    const config = benchConfig({ timeoutMs: 1 });
    await expect(measureCeilings(config, planChanges(20), orderEvents(20), { kafka: undefined, host: '127.0.0.1' }, logger)).rejects.toThrow(/gave up/);
  });
});
