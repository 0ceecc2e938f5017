import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { configErrorOf } from '../common/config/config-error.fixture.js';
import type { ConfigError } from '../common/errors.js';
import { loadConfig } from './config.js';

const xCredentials = {
  X_API_KEY: 'key',
  X_API_SECRET: 'super-secret-value',
  X_ACCESS_TOKEN: 'token',
  X_ACCESS_SECRET: 'another-secret',
  TRUST_HMAC_KEY: 'hmac-key-hmac-key-hmac-key-hmac-key',
};

const configError = (env: Record<string, string>): ConfigError => configErrorOf(() => loadConfig(env));

describe('publisher configuration', () => {
  it('defaults to the embedded outbox and the X API when only credentials are given', () => {
    const config = loadConfig(xCredentials);

    expect(config).toEqual({
      port: 3001,
      host: '127.0.0.1',
      logLevel: 'info',
      collections: ['orders'],
      sourceName: 'legacy',
      outbox: { kind: 'embedded', dataDir: './data', path: 'data/outbox', optimize: false },
      relay: { batchSize: 20, maxBatchSize: 1000, pollIntervalMs: 500, instanceId: `${hostname()}-${String(process.pid)}`, leaderRetryMs: 2000, claimLeaseMs: 15_000, stuckAfterMs: 60_000 },
      retention: { maxAgeMs: 24 * 3_600_000, batchSize: 1000, intervalMs: 60_000 },
      transport: {
        kind: 'x',
        apiUrl: 'https://api.x.com',
        caFile: undefined,
        credentials: { appKey: 'key', appSecret: 'super-secret-value', accessToken: 'token', accessSecret: 'another-secret' },
        hashtagPrefix: '',
        hashtag: undefined,
      },
      signing: { key: 'hmac-key-hmac-key-hmac-key-hmac-key' },
      maxVersionAheadMs: 3_600_000,
      notices: [],
    });
  });

  it('reads every variable it documents', () => {
    const config = loadConfig({
      ...xCredentials,
      PUBLISHER_PORT: '0',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'debug',
      COLLECTIONS: 'orders, customers',
      SOURCE_NAME: 'oracle-dvx',
      RELAY_BATCH_SIZE: '5',
      RELAY_POLL_INTERVAL_MS: '250',
      RELAY_INSTANCE_ID: 'relay-a',
      RELAY_MAX_BATCH_SIZE: '200',
      RELAY_LEADER_RETRY_MS: '500',
      RELAY_CLAIM_LEASE_MS: '30000',
      RELAY_STUCK_AFTER_MS: '90000',
      OUTBOX_RETENTION_HOURS: '0.5',
      OUTBOX_RETENTION_BATCH_SIZE: '200',
      OUTBOX_RETENTION_INTERVAL_MS: '5000',
      OUTBOX: 'postgres',
      OUTBOX_DATABASE_URL: 'postgres://app:pw@db:5432/write',
      OUTBOX_APPLY_SCHEMA: 'false',
      TRANSPORT: 'x',
      X_API_URL: 'https://127.0.0.1:3443/',
      X_CA_FILE: '/certs/cert.pem',
      X_HASHTAG_PREFIX: 'tb_',
    });

    expect(config).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      logLevel: 'debug',
      collections: ['orders', 'customers'],
      sourceName: 'oracle-dvx',
      relay: { batchSize: 5, maxBatchSize: 200, pollIntervalMs: 250, instanceId: 'relay-a', leaderRetryMs: 500, claimLeaseMs: 30_000, stuckAfterMs: 90_000 },
      retention: { maxAgeMs: 1_800_000, batchSize: 200, intervalMs: 5000 },
      outbox: { kind: 'postgres', databaseUrl: 'postgres://app:pw@db:5432/write', applySchema: false },
      transport: { apiUrl: 'https://127.0.0.1:3443', caFile: '/certs/cert.pem', hashtagPrefix: 'tb_' },
    });
  });

  it('grows the relay\'s batch up to RELAY_MAX_BATCH_SIZE, which may not be below RELAY_BATCH_SIZE', () => {
    const redis = { TRANSPORT: 'redis-streams' };
    expect(loadConfig({ ...redis, RELAY_BATCH_SIZE: '1000' }).relay).toMatchObject({ batchSize: 1000, maxBatchSize: 1000 });
    expect(loadConfig({ ...redis, RELAY_MAX_BATCH_SIZE: '20' }).relay).toMatchObject({ batchSize: 20, maxBatchSize: 20 });
    expect(configError({ ...redis, RELAY_BATCH_SIZE: '50', RELAY_MAX_BATCH_SIZE: '40' }).issues).toEqual([
      'RELAY_MAX_BATCH_SIZE (40) should be at least RELAY_BATCH_SIZE (50)',
    ]);
    expect(configError({ ...redis, RELAY_MAX_BATCH_SIZE: '1001' }).issues).toEqual([expect.stringMatching(/^RELAY_MAX_BATCH_SIZE should hold a whole number/)]);
  });

  it('snapshots on attach only when SNAPSHOT_ON_ATTACH says so, on every outbox', () => {
    const redis = { TRANSPORT: 'redis-streams' };
    expect(loadConfig(redis).snapshotOnAttach).toBeUndefined();
    expect(loadConfig({ ...redis, SNAPSHOT_ON_ATTACH: 'true', SNAPSHOT_CHUNK_SIZE: '500' }).snapshotOnAttach).toEqual({ chunkSize: 500 });
    expect(loadConfig({ ...redis, SNAPSHOT_ON_ATTACH: 'true', OUTBOX_DATABASE_URL: 'oracle://relay:pw@db:1521/FREEPDB1' })).toMatchObject({
      outbox: { kind: 'oracle' },
      snapshotOnAttach: { chunkSize: 1_000 },
    });
    expect(configError({ ...redis, SNAPSHOT_ON_ATTACH: 'yes please' }).issues).toEqual([expect.stringMatching(/^SNAPSHOT_ON_ATTACH should hold true or false/)]);
  });

  it('names every missing X credential', () => {
    const error = configError({});

    expect(error.issues.map((i) => i.split(' ')[0])).toEqual(['X_API_KEY', 'X_API_SECRET', 'X_ACCESS_TOKEN', 'X_ACCESS_SECRET', 'TRUST_HMAC_KEY']);
  });

  it('needs TRUST_HMAC_KEY over X only: it signs every post, so the consumer tells them from hand-typed ones', () => {
    expect(configError({ ...xCredentials, TRUST_HMAC_KEY: '' }).issues).toEqual([expect.stringMatching(/^TRUST_HMAC_KEY is required over X \(TRANSPORT=x\)/)]);
    expect(configError({ ...xCredentials, TRUST_HMAC_KEY: 'too-short' }).issues).toEqual([expect.stringMatching(/^TRUST_HMAC_KEY should hold at least 32 characters/)]);
    expect(loadConfig({ TRANSPORT: 'redis-streams' }).signing).toBeUndefined();
  });

  it('requires OUTBOX_DATABASE_URL for the postgres outbox', () => {
    const error = configError({ ...xCredentials, OUTBOX: 'postgres' });

    expect(error.issues).toEqual([expect.stringMatching(/^OUTBOX_DATABASE_URL is required/)]);
  });

  it('takes the outbox kind from the URL scheme when OUTBOX is unset', () => {
    expect(loadConfig({ ...xCredentials, OUTBOX_DATABASE_URL: 'postgresql://db/write' }).outbox).toEqual({
      kind: 'postgres',
      databaseUrl: 'postgresql://db/write',
      applySchema: true,
    });
    expect(loadConfig({ ...xCredentials, OUTBOX_DATABASE_URL: 'oracle://relay:pw@db:1521/FREEPDB1' }).outbox).toEqual({
      kind: 'oracle',
      databaseUrl: 'oracle://relay:pw@db:1521/FREEPDB1',
    });
  });

  it('refuses a URL whose scheme does not match the outbox kind', () => {
    const error = configError({ ...xCredentials, OUTBOX: 'oracle', OUTBOX_DATABASE_URL: 'postgres://app:hunter2@db/write' });

    expect(error.issues).toEqual([expect.stringMatching(/^OUTBOX_DATABASE_URL should hold an oracle:\/\/user:password@host/)]);
    expect(error.message).not.toMatch(/hunter2/);
  });

  it('refuses an Oracle URL without a password, with the other problems, at load', () => {
    const error = configError({ ...xCredentials, OUTBOX_DATABASE_URL: 'oracle://relay@db:1521/FREEPDB1', PUBLISHER_PORT: 'eighty' });

    expect(error.issues).toEqual([
      expect.stringMatching(/^PUBLISHER_PORT/),
      expect.stringMatching(/^OUTBOX_DATABASE_URL should look like oracle:\/\/user:password@host:port\/service: the password is missing/),
    ]);
  });

  it('names each wrong variable and what it should hold', () => {
    const error = configError({
      ...xCredentials,
      PUBLISHER_PORT: 'eighty',
      LOG_LEVEL: 'loud',
      COLLECTIONS: 'orders,bad-name',
      OUTBOX: 'mongodb',
      TRANSPORT: 'pigeon',
      X_API_URL: 'ftp://example.com',
    });

    expect(error.issues.map((i) => i.split(' ')[0])).toEqual(['PUBLISHER_PORT', 'LOG_LEVEL', 'COLLECTIONS', 'OUTBOX', 'TRANSPORT', 'X_API_URL']);
    expect(error.message).toMatch(/TRANSPORT should hold one of x, kafka, redis-streams/);
    expect(error.message).toMatch(/PUBLISHER_PORT should hold a TCP port number/);
  });

  it('never repeats a value in its error text, so no secret leaks', () => {
    const error = configError({
      ...xCredentials,
      OUTBOX: 'postgres',
      OUTBOX_DATABASE_URL: 'mysql://app:hunter2@db/write',
      PUBLISHER_PORT: 'super-secret-value',
    });

    expect(error.message).toMatch(/OUTBOX_DATABASE_URL should hold a postgres:\/\//);
    expect(error.message).not.toMatch(/hunter2|super-secret-value/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...xCredentials, PUBLISHER_PORT: '', OUTBOX: ' ' })).toMatchObject({ port: 3001, outbox: { kind: 'embedded' } });
  });

  it('reads PGLITE_OPTIMIZE for the embedded outbox', () => {
    expect(loadConfig({ ...xCredentials, PGLITE_OPTIMIZE: '1' }).outbox).toMatchObject({ kind: 'embedded', optimize: true });
    expect(() => loadConfig({ ...xCredentials, PGLITE_OPTIMIZE: 'maybe' })).toThrow(/PGLITE_OPTIMIZE should hold true or false/);
  });
});
