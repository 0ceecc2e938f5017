import { describe, expect, it } from 'vitest';
import { configErrorOf as configErrorOfLoad } from '../common/config/config-error.fixture.js';
import type { ConfigError } from '../common/errors.js';
import { loadConfig } from './config.js';

const hmacKey = 'hmac-key-hmac-key-hmac-key-hmac-key';
const minimal = { X_BEARER_TOKEN: 'bearer-SECRET-123', TRUST_HMAC_KEY: hmacKey };

const configErrorOf = (env: Record<string, string>): ConfigError => configErrorOfLoad(() => loadConfig(env));

describe('consumer configuration', () => {
  it('defaults to the embedded store, the X transport and open trust', () => {
    expect(loadConfig(minimal)).toEqual({
      port: 3002,
      host: '127.0.0.1',
      logLevel: 'info',
      collections: ['orders'],
      trust: 'open',
      store: { kind: 'embedded', dataDir: 'data/read-model', optimize: false },
      transport: {
        kind: 'x',
        apiUrl: 'https://api.x.com',
        caFile: undefined,
        bearerToken: 'bearer-SECRET-123',
        hashtagPrefix: '',
        hashtag: undefined,
        checkpointName: 'consumer',
        firstStartCatchUpMs: 3_600_000,
      },
      stuckAfterMs: 60_000,
      maxVersionAheadMs: 3_600_000,
      signing: { key: hmacKey },
      trustedAuthorIds: [],
      notices: [],
    });
  });

  it('reads CONSUMER_STUCK_AFTER_MS, and names it when it is not a number of milliseconds', () => {
    expect(loadConfig({ ...minimal, CONSUMER_STUCK_AFTER_MS: '120000' }).stuckAfterMs).toBe(120_000);
    expect(loadConfig({ ...minimal, RELAY_STUCK_AFTER_MS: '120000' }).stuckAfterMs).toBe(60_000);
    expect(() => loadConfig({ ...minimal, CONSUMER_STUCK_AFTER_MS: '1m' })).toThrow(/CONSUMER_STUCK_AFTER_MS should hold milliseconds/);
  });

  it('reads every variable it knows', () => {
    const config = loadConfig({
      ...minimal,
      CONSUMER_PORT: '4002',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'debug',
      COLLECTIONS: 'orders, customers',
      STORE: 'mongodb',
      MONGODB_URL: 'mongodb://user:pw@mongo:27017',
      MONGODB_DATABASE: 'readmodel',
      X_API_URL: 'https://127.0.0.1:3443',
      X_CA_FILE: 'data/x-emulator/cert.pem',
      X_HASHTAG_PREFIX: 'tb_',
      CHECKPOINT_NAME: 'consumer-2',
    });

    expect(config).toMatchObject({
      port: 4002,
      host: '0.0.0.0',
      logLevel: 'debug',
      collections: ['orders', 'customers'],
      store: { kind: 'mongodb', url: 'mongodb://user:pw@mongo:27017', database: 'readmodel' },
      transport: { apiUrl: 'https://127.0.0.1:3443', caFile: 'data/x-emulator/cert.pem', hashtagPrefix: 'tb_', checkpointName: 'consumer-2' },
    });
  });

  it('puts the embedded store under DATA_DIR/read-model', () => {
    expect(loadConfig({ ...minimal, DATA_DIR: '/var/lib/tweetbus' }).store).toEqual({ kind: 'embedded', dataDir: '/var/lib/tweetbus/read-model', optimize: false });
  });

  it("reads PGLITE_OPTIMIZE for the embedded store, and names it when it is not a boolean", () => {
    expect(loadConfig({ ...minimal, PGLITE_OPTIMIZE: 'true' }).store).toMatchObject({ kind: 'embedded', optimize: true });
    expect(loadConfig({ ...minimal, PGLITE_OPTIMIZE: 'no' }).store).toMatchObject({ kind: 'embedded', optimize: false });
    const error = configErrorOf({ ...minimal, PGLITE_OPTIMIZE: 'fast' });
    expect(error.issues).toEqual([expect.stringMatching(/^PGLITE_OPTIMIZE should hold true or false/)]);
  });

  it('treats a blank variable as unset', () => {
    expect(loadConfig({ ...minimal, STORE: '', CONSUMER_PORT: ' ' })).toMatchObject({ port: 3002, store: { kind: 'embedded' } });
  });

  it('names X_BEARER_TOKEN when it is missing', () => {
    const error = configErrorOf({});

    expect(error.issues).toEqual([
      expect.stringMatching(/^X_BEARER_TOKEN is required: the X app's app-only bearer token/),
      expect.stringMatching(/^TRUST_HMAC_KEY is required over X/),
    ]);
  });

  it('names STORE and its choices when it is not one of them', () => {
    const error = configErrorOf({ ...minimal, STORE: 'redis' });

    expect(error.issues).toEqual(['STORE should hold one of embedded (default), postgres, mongodb']);
  });

  it('names POSTGRES_URL when STORE=postgres has none', () => {
    expect(configErrorOf({ ...minimal, STORE: 'postgres' }).issues).toEqual([
      'POSTGRES_URL is required with STORE=postgres: the PostgreSQL connection URL',
    ]);
  });

  it('names COLLECTIONS when a name could not be a hashtag', () => {
    const error = configErrorOf({ ...minimal, COLLECTIONS: 'orders,bad-name' });

    expect(error.issues).toEqual([expect.stringMatching(/^COLLECTIONS should hold a comma-separated list of distinct collection names/)]);
  });

  it('names the policies there are when TRUST is none of them', () => {
    expect(configErrorOf({ ...minimal, TRUST: 'anyone' }).issues).toEqual([
      expect.stringMatching(/^TRUST should hold "open" \(posts from anyone, demo only\), "authors" .*, "signed" .* or "signed,authors"/),
    ]);
  });

  it('reads X_CATCH_UP_ON_FIRST_START as 0 or a duration up to the 7 days recent search reaches', () => {
    const window = (value: string): unknown => {
      const { transport } = loadConfig({ ...minimal, X_CATCH_UP_ON_FIRST_START: value });
      return transport.kind === 'x' ? transport.firstStartCatchUpMs : undefined;
    };
    expect(window('0')).toBe(0);
    expect(window('30m')).toBe(1_800_000);
    expect(window('1.5h')).toBe(5_400_000);
    expect(window('7d')).toBe(604_800_000);
    expect(window('90000')).toBe(90_000);
    for (const bad of ['8d', 'an hour', '-1h', '1w']) {
      expect(configErrorOf({ ...minimal, X_CATCH_UP_ON_FIRST_START: bad }).issues, bad).toEqual([expect.stringMatching(/^X_CATCH_UP_ON_FIRST_START should hold .*0 \(from now\)/)]);
    }
  });

  it('reads VERSION_MAX_AHEAD_MS, an hour by default, from a second to a year', () => {
    expect(loadConfig(minimal).maxVersionAheadMs).toBe(3_600_000);
    expect(loadConfig({ ...minimal, VERSION_MAX_AHEAD_MS: '60000' }).maxVersionAheadMs).toBe(60_000);
    expect(configErrorOf({ ...minimal, VERSION_MAX_AHEAD_MS: '10' }).issues).toEqual([expect.stringMatching(/^VERSION_MAX_AHEAD_MS should hold milliseconds a version may stand past the clock/)]);
  });

  it('TRUST=signed needs TRUST_HMAC_KEY on every transport, and no author list', () => {
    expect(loadConfig({ ...minimal, TRUST: 'signed' }).trust).toBe('signed');
    const redis = { TRANSPORT: 'redis-streams', TRUST: 'signed' };
    expect(configErrorOf(redis).issues).toEqual([expect.stringMatching(/^TRUST_HMAC_KEY is required with TRUST=signed: only events signed with it apply/)]);
    expect(loadConfig({ ...redis, TRUST_HMAC_KEY: hmacKey }).signing).toEqual({ key: hmacKey });
    expect(configErrorOf({ TRANSPORT: 'kafka', KAFKA_BROKERS: 'localhost:9092', TRUST: 'signed' }).issues).toEqual([expect.stringMatching(/^TRUST_HMAC_KEY is required with TRUST=signed/)]);
  });

  it('TRUST=signed,authors needs the author list, and X', () => {
    const config = loadConfig({ ...minimal, TRUST: 'signed,authors', X_TRUSTED_AUTHOR_IDS: '2244994945' });
    expect([config.trust, config.trustedAuthorIds]).toEqual(['signed,authors', ['2244994945']]);
    expect(configErrorOf({ ...minimal, TRUST: 'signed,authors' }).issues).toEqual([expect.stringMatching(/^X_TRUSTED_AUTHOR_IDS is required with TRUST=signed,authors/)]);
    expect(configErrorOf({ TRANSPORT: 'redis-streams', TRUST: 'signed,authors', X_TRUSTED_AUTHOR_IDS: '1', TRUST_HMAC_KEY: hmacKey }).issues).toEqual([
      'TRUST=signed,authors trusts X accounts, and needs TRANSPORT=x (not redis-streams)',
    ]);
  });

  it('TRUST=authors reads X_TRUSTED_AUTHOR_IDS, which must be account ids, and works over X only', () => {
    const config = loadConfig({ ...minimal, TRUST: 'authors', X_TRUSTED_AUTHOR_IDS: '1000000000000000001, 2244994945' });
    expect(config).toMatchObject({ trust: 'authors', trustedAuthorIds: ['1000000000000000001', '2244994945'] });
    expect(configErrorOf({ ...minimal, TRUST: 'authors' }).issues).toEqual([expect.stringMatching(/^X_TRUSTED_AUTHOR_IDS is required with TRUST=authors/)]);
    expect(configErrorOf({ ...minimal, TRUST: 'authors', X_TRUSTED_AUTHOR_IDS: '@jack' }).issues).toEqual([
      expect.stringMatching(/^X_TRUSTED_AUTHOR_IDS should hold a comma-separated list of X account ids \(digits, not @names/),
    ]);
    expect(configErrorOf({ TRANSPORT: 'redis-streams', TRUST: 'authors', X_TRUSTED_AUTHOR_IDS: '1' }).issues).toEqual(['TRUST=authors trusts X accounts, and needs TRANSPORT=x (not redis-streams)']);
  });

  it('reports every problem at once', () => {
    const error = configErrorOf({ CONSUMER_PORT: '99999', LOG_LEVEL: 'loud', STORE: 'mongodb' });

    expect(error.issues.map((issue) => issue.split(' ')[0])).toEqual(['CONSUMER_PORT', 'LOG_LEVEL', 'MONGODB_URL', 'X_BEARER_TOKEN', 'TRUST_HMAC_KEY']);
  });

  it('never repeats a secret value in an error', () => {
    const secrets = {
      X_BEARER_TOKEN: 'has spaces SECRET-TOKEN',
      POSTGRES_URL: 'mysql://admin:SECRET-PW@db/x',
      MONGODB_URL: 'http://admin:SECRET-MONGO@db',
    };
    const error = configErrorOf({ ...secrets, STORE: 'postgres' });

    expect(error.issues.length).toBeGreaterThanOrEqual(3);
    expect(error.message).not.toMatch(/SECRET/);
  });

  it('needs TRUST_HMAC_KEY over X, of 32 characters at least, and takes a previous key for rotation', () => {
    expect(() => loadConfig({ X_BEARER_TOKEN: 'b' })).toThrow(/TRUST_HMAC_KEY is required over X/);
    expect(() => loadConfig({ ...minimal, TRUST_HMAC_KEY: 'short' })).toThrow(/TRUST_HMAC_KEY should hold at least 32 characters/);
    expect(() => loadConfig({ ...minimal, TRUST_HMAC_KEY: 'short' })).not.toThrow(/short/);
    expect(loadConfig({ ...minimal, TRUST_HMAC_PREVIOUS_KEY: 'p'.repeat(40) }).signing).toEqual({ key: hmacKey, previousKey: 'p'.repeat(40) });
    expect(loadConfig({ TRANSPORT: 'redis-streams' }).signing).toBeUndefined();
  });
});
