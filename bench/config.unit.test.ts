import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig } from './config.js';

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
