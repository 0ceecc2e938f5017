import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { bucketBitsFor, bucketOf, digestBuilder, type KeyVersion, type VersionInventory } from '../common/version-digest.js';
import { versionAt } from '../events/version-clock.js';
import { loadVerifyConfig } from './config.js';
import { compare, differingBuckets, findDrift } from './drift.js';
import { healDrift } from './heal.js';
import { formatDriftReport, formatHealOutcome } from './report.js';

/** An inventory over rows in memory, counting what it was asked to read. */
function inMemory(rows: KeyVersion[]): VersionInventory & { listed: number; rows: KeyVersion[] } {
  const inventory = {
    rows,
    listed: 0,
    count: () => Promise.resolve(inventory.rows.length),
    digests: (bits: number) => {
      const builder = digestBuilder(bits);
      for (const row of inventory.rows) builder.add(row);
      return Promise.resolve(builder.digests());
    },
    inBuckets: (bits: number, buckets: readonly number[]) => {
      const found = inventory.rows.filter((row) => buckets.includes(bucketOf(row, bits)));
      inventory.listed += found.length;
      return Promise.resolve(found);
    },
    versionsOf: (keys: readonly string[]) => Promise.resolve(inventory.rows.filter((row) => keys.includes(row.key))),
  };
  return inventory;
}

const rows = (n: number): KeyVersion[] => Array.from({ length: n }, (_, i) => ({ key: `k${String(i)}`, version: BigInt(1000 + i) }));

describe('verify: digests', () => {
  it('puts about 16 keys in a bucket, at most 2^16 buckets', () => {
    expect(bucketBitsFor(0)).toBe(0);
    expect(bucketBitsFor(16)).toBe(0);
    expect(bucketBitsFor(17)).toBe(1);
    expect(bucketBitsFor(100_000)).toBe(13);
    expect(bucketBitsFor(1e12)).toBe(16);
  });

  it('finds the buckets whose digests differ, a bucket on one side only included', () => {
    const a = [{ bucket: 1, rows: 2, sum: 10n }, { bucket: 2, rows: 1, sum: 5n }, { bucket: 3, rows: 1, sum: 7n }];
    const b = [{ bucket: 1, rows: 2, sum: 10n }, { bucket: 2, rows: 1, sum: 6n }, { bucket: 4, rows: 1, sum: 1n }];
    expect(differingBuckets(a, b)).toEqual([2, 3, 4]);
    expect(differingBuckets(a, a)).toEqual([]);
  });
});

describe('verify: drift', () => {
  it('classifies each differing key, in key order', () => {
    const table = [{ key: 'm', version: 5n }, { key: 'b', version: 9n }, { key: 'a', version: 5n }, { key: 'u', version: null }, { key: 'same', version: 1n }];
    const readModel = [{ key: 'x', version: 3n }, { key: 'b', version: 4n }, { key: 'a', version: 8n }, { key: 'u', version: 2n }, { key: 'same', version: 1n }];
    expect(compare(table, readModel)).toEqual([
      { key: 'a', kind: 'ahead', tableVersion: 5n, readModelVersion: 8n },
      { key: 'b', kind: 'behind', tableVersion: 9n, readModelVersion: 4n },
      { key: 'm', kind: 'missing', tableVersion: 5n },
      { key: 'u', kind: 'unversioned', tableVersion: null, readModelVersion: 2n },
      { key: 'x', kind: 'extra', readModelVersion: 3n },
    ]);
  });

  it('leaves out documents of other sources whose key the table does not hold, and says who holds one it does', () => {
    const table = [{ key: 'a', version: 5n }, { key: 'b', version: 5n }];
    const readModel = [
      { key: 'a', version: 9n, source: 'x:@fan' },
      { key: 'b', version: 5n, source: 'dvx_orders' },
      { key: 'h1', version: 3n, source: 'x:@fan' },
      { key: 'l7', version: 3n, source: 'legacy' },
      { key: 'gone', version: 3n, source: 'dvx_orders' },
    ];
    expect(compare(table, readModel, 'dvx_orders')).toEqual([
      { key: 'a', kind: 'ahead', tableVersion: 5n, readModelVersion: 9n, readModelSource: 'x:@fan' },
      { key: 'gone', kind: 'extra', readModelVersion: 3n },
    ]);
    expect(compare(table, readModel).map((d) => d.key)).toEqual(['a', 'gone', 'h1', 'l7']);
  });

  it('lists only the keys of the buckets that differ', async () => {
    const table = inMemory(rows(10_000));
    const readModel = inMemory(rows(10_000).filter((row) => row.key !== 'k42'));
    const report = await findDrift(table, readModel, { settleMs: 0 });
    expect(report.drift).toEqual([{ key: 'k42', kind: 'missing', tableVersion: 1042n }]);
    expect(report.buckets).toBe(1024);
    expect(report.differingBuckets).toBe(1);
    expect(table.listed + readModel.listed).toBeLessThan(60);
  });

  it('reads the differing keys again until they agree, and reports what never does', async () => {
    const table = inMemory(rows(100));
    const readModel = inMemory(rows(100).map((row) => (row.key === 'k1' || row.key === 'k2' ? { ...row, version: 1n } : row)));
    let waits = 0;
    const report = await findDrift(table, readModel, {
      settleMs: 150,
      pollMs: 10,
      sleep: (ms) => {
        waits += 1;
        // k1 arrives during the second wait; k2 never does, so the settling time runs out.
        if (waits === 2) readModel.rows = readModel.rows.map((row) => (row.key === 'k1' ? { key: 'k1', version: 1001n } : row));
        return new Promise((resolve) => setTimeout(resolve, ms));
      },
    });
    expect(report.drift).toEqual([{ key: 'k2', kind: 'behind', tableVersion: 1002n, readModelVersion: 1n }]);
    expect(waits).toBeGreaterThan(2);
  });
});

describe('verify: heal', () => {
  const now = new Date('2026-12-06T12:00:00Z');
  const hour = 3_600_000;

  it('sends every drifting key again above the highest version the read model holds, in slices of 1,000', async () => {
    const calls: { keys: readonly string[]; above: bigint }[] = [];
    const drift = [
      { key: 'a', kind: 'missing' as const, tableVersion: 5n },
      { key: 'b', kind: 'ahead' as const, tableVersion: 5n, readModelVersion: versionAt(now.getTime() + 60_000) },
      { key: 'c', kind: 'extra' as const, readModelVersion: 7n },
      ...Array.from({ length: 1_500 }, (_, i) => ({ key: `m${String(i)}`, kind: 'missing' as const, tableVersion: 1n })),
    ];
    const outcome = await healDrift(drift, (keys, above) => {
      calls.push({ keys, above });
      return Promise.resolve({ upserts: keys.length - (keys.includes('c') ? 1 : 0), deletes: keys.includes('c') ? 1 : 0 });
    }, { now, maxAheadMs: hour });
    expect(calls.map((call) => call.keys.length)).toEqual([1_000, 503]);
    expect(calls.every((call) => call.above === versionAt(now.getTime() + 60_000))).toBe(true);
    expect(outcome).toEqual({ upserts: 1_502, deletes: 1, refused: [] });
  });

  it('refuses a key held more than VERSION_MAX_AHEAD_MS in the future, and sends nothing when nothing is left', async () => {
    const far = { key: 'f', kind: 'ahead' as const, tableVersion: 5n, readModelVersion: versionAt(now.getTime() + 2 * hour) };
    let called = false;
    const outcome = await healDrift([far], () => {
      called = true;
      return Promise.resolve({ upserts: 0, deletes: 0 });
    }, { now, maxAheadMs: hour });
    expect(called).toBe(false);
    expect(outcome.refused).toEqual([far]);
    expect(formatHealOutcome(outcome)).toContain('1 refused: the read model holds them more than VERSION_MAX_AHEAD_MS in the future ("f")');
  });
});

describe('npm run verify: its configuration and report', () => {
  it('reads the outbox as the publisher does and the read model as the consumer does', () => {
    const config = loadVerifyConfig({ OUTBOX_DATABASE_URL: 'postgres://u@db/app', STORE: 'postgres', POSTGRES_URL: 'postgres://u@rm/app' }, ['--collection', 'orders', '--heal', '--settle', '1s']);
    expect(config).toMatchObject({
      collection: 'orders',
      heal: true,
      settleMs: 1_000,
      waitMs: 30_000,
      outbox: { kind: 'postgres' },
      store: { kind: 'postgres', url: 'postgres://u@rm/app' },
    });
    expect(loadVerifyConfig({ DATA_DIR: '/d' }, ['--collection', 'orders'])).toMatchObject({ heal: false, outbox: { kind: 'embedded', path: '/d/outbox' }, store: { kind: 'embedded', dataDir: '/d/read-model' } });
  });

  it('reports every problem at once', () => {
    let thrown: unknown;
    try {
      loadVerifyConfig({ STORE: 'mongodb' }, ['--wait', 'forever']);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const issues = thrown instanceof ConfigError ? thrown.issues.join('\n') : '';
    for (const name of ['MONGODB_URL', '--collection', '--wait']) expect(issues).toContain(name);
    expect(() => loadVerifyConfig({}, ['--collection', 'orders', '--heal=yes'])).toThrow(/command line/);
  });

  it('prints one line when the read model agrees, and the drift by kind and key when it does not', () => {
    const base = { tableRows: 10_000, readModelRows: 9_999, buckets: 1_024, differingBuckets: 1, keysListed: 19, ms: 12.4 };
    const subject = { collection: 'orders', table: 'dvx_orders' };
    expect(formatDriftReport(subject, { ...base, drift: [] })).toBe(
      'orders (table dvx_orders): 10,000 rows, 9,999 documents; 1,024 buckets compared, 1 differed, 19 keys listed; 12 ms\nno drift: the read model equals the table\n',
    );
    const text = formatDriftReport(subject, { ...base, drift: [{ key: '8172', kind: 'missing', tableVersion: 5n }, { key: 'x', kind: 'extra', readModelVersion: 3n }] });
    expect(text).toContain('drift: 2 keys (missing 1, extra 1)');
    expect(text).toContain('  missing     "8172"  table v5, read model no document');
    expect(text).toContain('  extra       "x"  table no row, read model v3');
  });
});
