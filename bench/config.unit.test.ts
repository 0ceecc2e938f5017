import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig, loadRelayConfig } from './config.js';

describe('bench configuration', () => {
  it('defaults to 500 events, 3 runs and 4 writers', () => {
    expect(loadConfig({}, [])).toMatchObject({ events: 500, runs: 3, writers: 4, dryRun: false, logLevel: 'warn' });
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
    expect(() => loadConfig({ BENCH_RUNS: '0' }, [])).toThrow(/BENCH_RUNS .*at least 1/);
  });

  it('refuses an unknown flag with the usage', () => {
    expect(() => loadConfig({}, ['--fast'])).toThrow(ConfigError);
    expect(() => loadConfig({}, ['--fast'])).toThrow(/usage/);
  });
});

describe('relay bench configuration', () => {
  it('defaults to a backlog of 100,000 rows, 3 runs, batch sizes 20 and 500, and the local test database', () => {
    expect(loadRelayConfig({}, [])).toEqual({
      rows: 100_000,
      runs: 3,
      batchSizes: [20, 500],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      timeoutMs: 900_000,
      logLevel: 'warn',
      dryRun: false,
    });
  });

  it('reads the batch sizes as a comma-separated list, once each, in the order given', () => {
    expect(loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: '100, 20,100' }, []).batchSizes).toEqual([100, 20]);
    expect(loadRelayConfig({}, ['--batch-sizes', '1000']).batchSizes).toEqual([1000]);
  });

  it('lets the command line win over the environment', () => {
    expect(loadRelayConfig({ BENCH_RELAY_ROWS: '5000', BENCH_RUNS: '2' }, ['20000', '--runs', '1', '--dry-run'])).toMatchObject({ rows: 20_000, runs: 1, dryRun: true });
    expect(loadRelayConfig({ BENCH_RELAY_ROWS: '5000' }, ['--rows=300'])).toMatchObject({ rows: 300 });
  });

  it('refuses a batch size the relay would refuse, naming the variable', () => {
    expect(() => loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: '20,1001' }, [])).toThrow(/BENCH_RELAY_BATCH_SIZES.*at most 1000/);
    expect(() => loadRelayConfig({}, ['--batch-sizes', '0'])).toThrow(/--batch-sizes.*at least 1/);
    expect(() => loadRelayConfig({ BENCH_RELAY_BATCH_SIZES: 'twenty' }, [])).toThrow(/BENCH_RELAY_BATCH_SIZES.*whole number/);
  });

  it('refuses a database URL that is not postgres://', () => {
    expect(() => loadRelayConfig({ BENCH_DATABASE_URL: 'mysql://localhost/test' }, [])).toThrow(/BENCH_DATABASE_URL/);
  });

  it('refuses a pipeline flag with the relay usage', () => {
    expect(() => loadRelayConfig({}, ['--writers', '4'])).toThrow(/usage: relay\.bench\.js/);
  });
});
