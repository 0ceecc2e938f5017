import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig, loadConsumerBenchConfig, loadRelayConfig, relayBatchLabel, type RelayBatch } from './config.js';

describe('bench configuration', () => {
  it('defaults to 500 events, 3 runs and 4 writers, over X into the embedded read model', () => {
    expect(loadConfig({}, [])).toEqual({
      transport: { kind: 'x' },
      store: { kind: 'embedded' },
      writeDb: 'embedded',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      events: 500,
      runs: 3,
      writers: 4,
      pace: undefined,
      timeoutMs: 300_000,
      logLevel: 'warn',
      pgliteOptimize: false,
      dryRun: false,
    });
  });

  it('paces the writers at BENCH_PACE or --pace changes a second, the flag winning, and refuses a pace that is not one', () => {
    expect(loadConfig({ BENCH_PACE: '50' }, []).pace).toBe(50);
    expect(loadConfig({ BENCH_PACE: '50' }, ['--pace', '200']).pace).toBe(200);
    expect(() => loadConfig({ BENCH_PACE: 'slow' }, [])).toThrow(/BENCH_PACE should hold a whole number of changes a second from 1 to 100000/);
    expect(() => loadConfig({}, ['--pace', '0'])).toThrow(/command line: --pace should hold a whole number of changes a second/);
  });

  it('runs over Redis Streams at REDIS_URL, or the local Redis', () => {
    expect(loadConfig({}, ['--transport', 'redis-streams']).transport).toEqual({ kind: 'redis-streams', url: 'redis://127.0.0.1:6379' });
    expect(loadConfig({ BENCH_TRANSPORT: 'redis-streams', REDIS_URL: 'redis://cache:6380/2' }, []).transport).toEqual({ kind: 'redis-streams', url: 'redis://cache:6380/2' });
  });

  it('writes into PostgreSQL at BENCH_DATABASE_URL, or the local test database', () => {
    expect(loadConfig({}, ['--store=postgres']).store).toEqual({ kind: 'postgres', databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(loadConfig({ BENCH_STORE: 'postgres', BENCH_DATABASE_URL: 'postgresql://db/bench' }, []).store).toEqual({ kind: 'postgres', databaseUrl: 'postgresql://db/bench' });
  });

  it('lets --transport and --store win over BENCH_TRANSPORT and BENCH_STORE', () => {
    const config = loadConfig({ BENCH_TRANSPORT: 'redis-streams', BENCH_STORE: 'postgres' }, ['--transport', 'x', '--store', 'embedded']);
    expect(config).toMatchObject({ transport: { kind: 'x' }, store: { kind: 'embedded' } });
  });

  it('refuses a transport or store it cannot run, naming the flag or variable', () => {
    expect(() => loadConfig({}, ['--transport', 'nats'])).toThrow(ConfigError);
    expect(() => loadConfig({}, ['--transport', 'nats'])).toThrow(/command line: --transport should hold one of x, redis-streams, kafka/);
    expect(() => loadConfig({}, ['--store', 'mongodb'])).toThrow(/command line: --store should hold one of embedded, postgres/);
    expect(() => loadConfig({ BENCH_TRANSPORT: 'redis' }, [])).toThrow(/BENCH_TRANSPORT should hold one of x, redis-streams, kafka/);
    expect(() => loadConfig({ BENCH_STORE: 'pg' }, [])).toThrow(/BENCH_STORE should hold one of embedded, postgres/);
  });

  it('writes into the embedded write database, or into a PostgreSQL schema with --write-db postgres (BENCH_WRITE_DB)', () => {
    expect(loadConfig({ BENCH_WRITE_DB: 'postgres' }, []).writeDb).toBe('postgres');
    expect(loadConfig({ BENCH_WRITE_DB: 'postgres' }, ['--write-db', 'embedded']).writeDb).toBe('embedded');
    expect(() => loadConfig({}, ['--write-db', 'oracle'])).toThrow(/command line: --write-db should hold one of embedded, postgres/);
  });

  it('runs Kafka on KAFKA_BROKERS, or on the mock cluster when it is unset', () => {
    expect(loadConfig({}, ['--transport', 'kafka']).transport).toEqual({ kind: 'kafka', brokers: undefined });
    expect(loadConfig({ KAFKA_BROKERS: 'k1:9092,k2:9092' }, ['--transport', 'kafka']).transport).toEqual({ kind: 'kafka', brokers: 'k1:9092,k2:9092' });
  });

  it('refuses a Redis URL that is not redis:// and a database URL that is not postgres://', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' }, ['--transport', 'redis-streams'])).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ BENCH_DATABASE_URL: 'mysql://localhost/test' }, ['--store', 'postgres'])).toThrow(/BENCH_DATABASE_URL/);
  });

  it('takes N from BENCH_EVENTS and the runs from BENCH_RUNS', () => {
    expect(loadConfig({ BENCH_EVENTS: '200', BENCH_RUNS: '5' }, [])).toMatchObject({ events: 200, runs: 5 });
  });

  it('lets the command line win over the environment', () => {
    expect(loadConfig({ BENCH_EVENTS: '200' }, ['1000', '--runs', '1', '--dry-run'])).toMatchObject({ events: 1000, runs: 1, dryRun: true });
    expect(loadConfig({ BENCH_EVENTS: '200' }, ['--events=300'])).toMatchObject({ events: 300 });
  });

  it('names the variable that holds a bad value', () => {
    expect(() => loadConfig({ BENCH_EVENTS: 'lots' }, [])).toThrow(/BENCH_EVENTS/);
    expect(() => loadConfig({ BENCH_RUNS: '0' }, [])).toThrow(/BENCH_RUNS should hold a whole number from 1 to 99/);
  });

  it('reports every bad variable and flag at once', () => {
    expect(() => loadConfig({ BENCH_EVENTS: 'lots', BENCH_WRITERS: '65' }, ['--runs', '0'])).toThrow(
      /BENCH_EVENTS should hold[^]*BENCH_WRITERS should hold a whole number from 1 to 64[^]*command line: --runs should hold/,
    );
  });

  it('refuses an unknown flag with the usage', () => {
    expect(() => loadConfig({}, ['--fast'])).toThrow(ConfigError);
    expect(() => loadConfig({}, ['--fast'])).toThrow(/usage/);
  });
});

describe('relay bench configuration', () => {
  it('defaults to a backlog of 100,000 rows, 3 runs, the publisher\'s batch (20 growing to 1000) then fixed 20 and 500, and the local test database', () => {
    expect(loadRelayConfig({}, [])).toEqual({
      rows: 100_000,
      runs: 3,
      batchSizes: [{ batchSize: 20, maxBatchSize: 1000 }, { batchSize: 20, maxBatchSize: 20 }, { batchSize: 500, maxBatchSize: 500 }],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      timeoutMs: 900_000,
      logLevel: 'warn',
      pgliteOptimize: false,
      dryRun: false,
    });
  });

  it('reads the batch sizes as a comma-separated list, once each, in the order given', () => {
    const labels = (sizes: readonly RelayBatch[]) => sizes.map(relayBatchLabel);
    expect(labels(loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: '100, 20,100' }, []).batchSizes)).toEqual(['100', '20']);
    expect(loadRelayConfig({}, ['--batch-sizes', '1000']).batchSizes).toEqual([{ batchSize: 1000, maxBatchSize: 1000 }]);
    expect(loadRelayConfig({}, ['--batch-sizes', '50-400,default,20-1000']).batchSizes).toEqual([{ batchSize: 50, maxBatchSize: 400 }, { batchSize: 20, maxBatchSize: 1000 }]);
  });

  it('lets the command line win over the environment', () => {
    expect(loadRelayConfig({ BENCH_RELAY_ROWS: '5000', BENCH_RUNS: '2' }, ['20000', '--runs', '1', '--dry-run'])).toMatchObject({ rows: 20_000, runs: 1, dryRun: true });
    expect(loadRelayConfig({ BENCH_RELAY_ROWS: '5000' }, ['--rows=300'])).toMatchObject({ rows: 300 });
  });

  it('refuses a batch size the relay would refuse, naming the variable', () => {
    expect(() => loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: '20,1001' }, [])).toThrow(/BENCH_RELAY_BATCH_SIZES should hold comma-separated batch settings.*sizes from 1 to 1000/);
    expect(() => loadRelayConfig({}, ['--batch-sizes', '0'])).toThrow(/command line: --batch-sizes should hold comma-separated batch settings.*sizes from 1 to 1000/);
    expect(() => loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: 'twenty' }, [])).toThrow(/BENCH_RELAY_BATCH_SIZES should hold comma-separated batch settings/);
    expect(() => loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: '500-20' }, [])).toThrow(/BENCH_RELAY_BATCH_SIZES should hold/);
  });

  it('refuses a database URL that is not postgres://', () => {
    expect(() => loadRelayConfig({ BENCH_DATABASE_URL: 'mysql://localhost/test' }, [])).toThrow(/BENCH_DATABASE_URL/);
  });

  it('refuses a pipeline flag with the relay usage', () => {
    expect(() => loadRelayConfig({}, ['--writers', '4'])).toThrow(/usage: relay\.bench\.js/);
  });
});

describe('consumer bench configuration', () => {
  it('defaults to a backlog of 50,000 events, 3 runs, into the embedded store, from the local Redis', () => {
    expect(loadConsumerBenchConfig({}, [])).toEqual({
      events: 50_000,
      runs: 3,
      store: { kind: 'embedded' },
      redisUrl: 'redis://127.0.0.1:6379',
      timeoutMs: 600_000,
      logLevel: 'warn',
      pgliteOptimize: false,
      dryRun: false,
    });
  });

  it('lets the command line win over the environment, and names what is wrong', () => {
    expect(loadConsumerBenchConfig({ BENCH_CONSUMER_EVENTS: '1000', BENCH_STORE: 'embedded' }, ['2000', '--store', 'postgres'])).toMatchObject({
      events: 2000,
      store: { kind: 'postgres', databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' },
    });
    expect(() => loadConsumerBenchConfig({ BENCH_CONSUMER_EVENTS: '0' }, [])).toThrow(/BENCH_CONSUMER_EVENTS should hold a whole number from 1/);
    expect(() => loadConsumerBenchConfig({}, ['--transport', 'x'])).toThrow(/usage: consumer\.bench\.js/);
  });

  it("reads PGLITE_OPTIMIZE as the services do, so the embedded store runs as theirs", () => {
    expect(loadConsumerBenchConfig({ PGLITE_OPTIMIZE: 'true' }, []).pgliteOptimize).toBe(true);
    expect(() => loadConsumerBenchConfig({ PGLITE_OPTIMIZE: 'fast' }, [])).toThrow(/PGLITE_OPTIMIZE should hold true or false/);
  });
});
