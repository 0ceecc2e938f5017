import { createLogger } from '../../../common/logger.js';
import oracledb from 'oracledb';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.js';
import { logSink } from '../../../common/log-sink.fixture.js';
import { aChangeEvent } from '../../../events/change-event.fixture.js';
import type { OutboxRow } from '../outbox.js';
import { createOracleOutbox, parseOracleUrl, type ClosableOraclePool, type OracleConnection } from './oracle-outbox.js';

const quietLogger = createLogger({ level: 'silent' });

interface Call {
  readonly method: 'execute' | 'executeMany';
  readonly sql: string;
  readonly binds: unknown;
  readonly options: unknown;
}

type Answer = { rows?: unknown[]; rowsAffected?: number } | Error;

/**
 * A fake node-oracledb pool: records every statement with its binds and options, and answers each
 * from `answer` (by the statement's text). Counts commits, rollbacks, connections returned and pool closes.
 */
function fakeOracle(answer: (sql: string, binds: unknown) => Answer = () => ({})) {
  const calls: Call[] = [];
  const state = { commits: 0, rollbacks: 0, taken: 0, released: 0, poolCloses: 0, failCommit: false };
  const reply = (method: Call['method'], sql: string, binds: unknown, options: unknown) => {
    calls.push({ method, sql, binds, options });
    const result = answer(sql, binds);
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  };
  const connection: OracleConnection = {
    execute: (sql, binds, options) => reply('execute', sql, binds, options),
    executeMany: (sql, binds, options) => reply('executeMany', sql, binds, options),
    commit: () => {
      if (state.failCommit) return Promise.reject(new Error('ORA-03113: end-of-file on communication channel'));
      state.commits += 1;
      return Promise.resolve();
    },
    rollback: () => {
      state.rollbacks += 1;
      return Promise.resolve();
    },
    close: () => {
      state.released += 1;
      return Promise.resolve();
    },
  };
  const pool: ClosableOraclePool = {
    getConnection: () => {
      state.taken += 1;
      return Promise.resolve(connection);
    },
    close: () => {
      state.poolCloses += 1;
      return Promise.resolve();
    },
  };
  const statements = (pattern: RegExp) => calls.filter((c) => pattern.test(c.sql));
  return { pool, calls, state, statements };
}

const isHeads = (sql: string) => sql.includes('NOT EXISTS');
const isFollowers = (sql: string) => sql.includes(':head_ids');
const isLockFollowers = (sql: string) => sql.includes(':candidate_ids');

/** An outbox row as node-oracledb returns it (OUT_FORMAT_OBJECT, NUMBERs and the CLOB fetched as strings). */
function oracleRow(overrides: { id: string; seq: number | bigint; key?: string; version?: bigint } & Record<string, unknown>): Record<string, unknown> {
  const { id, seq, key = '8172', version = 42n, ...columns } = overrides;
  return {
    ID: id,
    SEQ: String(seq),
    AGGREGATETYPE: 'orders',
    AGGREGATEID: key,
    TYPE: 'orders.upserted',
    PAYLOAD: JSON.stringify({ id: key, status: 'SHIPPED' }),
    VERSION: version.toString(),
    OP: 'upsert',
    SOURCE: 'dvx_orders',
    CREATED_AT: '2026-01-02T03:04:05.678Z',
    CORRELATION_ID: null,
    ...columns,
  };
}

function outboxRow(id: string, seq: bigint): OutboxRow {
  return { seq, event: aChangeEvent({ id }) };
}

describe('Oracle outbox relay (fake connection)', () => {
  it('claims key heads with FOR UPDATE SKIP LOCKED, fetching no more than the limit, and commits the claim', async () => {
    const oracle = fakeOracle((sql) => (isHeads(sql) ? { rows: [oracleRow({ id: 'a', seq: 1, key: 'k1' }), oracleRow({ id: 'b', seq: 2, key: 'k2' })] } : {}));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a', leaseMs: 20_000 });

    const rows = await outbox.readBatch(2);

    expect(rows.map((r) => r.event.id)).toEqual(['a', 'b']);
    const [heads, ...rest] = oracle.calls;
    expect(heads?.sql).toMatch(/FOR UPDATE SKIP LOCKED/);
    expect(heads?.sql).not.toMatch(/FETCH FIRST/);
    expect(heads?.binds).toEqual({ instance_id: 'relay-a' });
    expect(heads?.options).toMatchObject({ maxRows: 2, prefetchRows: 2, fetchArraySize: 2, outFormat: oracledb.OUT_FORMAT_OBJECT });
    // The batch is full: no followers are looked for.
    expect(rest.map((c) => c.method)).toEqual(['executeMany']);
    expect(rest[0]?.sql).toMatch(/SET claimed_by = :instance_id/);
    expect(rest[0]?.binds).toEqual([
      { event_id: 'a', instance_id: 'relay-a', lease_ms: 20_000 },
      { event_id: 'b', instance_id: 'relay-a', lease_ms: 20_000 },
    ]);
    expect(oracle.state).toMatchObject({ commits: 1, rollbacks: 0, taken: 1, released: 1 });
  });

  it('fetches NUMBER columns and the payload CLOB as strings', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.readBatch(10);

    expect(oracle.calls[0]?.options).toMatchObject({
      fetchInfo: { SEQ: { type: oracledb.DB_TYPE_VARCHAR }, VERSION: { type: oracledb.DB_TYPE_VARCHAR }, PAYLOAD: { type: oracledb.DB_TYPE_VARCHAR } },
    });
  });

  it('returns versions and positions above 2^53 exactly, as bigints', async () => {
    const version = 9_007_199_254_740_993n;
    const seq = 9_007_199_254_740_995n;
    const oracle = fakeOracle((sql) => (isHeads(sql) ? { rows: [oracleRow({ id: 'big', seq, version, CORRELATION_ID: 'corr-1' })] } : {}));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    const [row] = await outbox.readBatch(1);

    expect(row?.seq).toBe(seq);
    expect(row?.event).toEqual({
      id: 'big',
      source: 'dvx_orders',
      type: 'orders.upserted',
      collection: 'orders',
      key: '8172',
      version,
      op: 'upsert',
      data: { id: '8172', status: 'SHIPPED' },
      createdAt: '2026-01-02T03:04:05.678Z',
      correlationId: 'corr-1',
    });
  });

  it('reads a delete with no payload as a delete with null data', async () => {
    const deletion = oracleRow({ id: 'd', seq: 3, OP: 'delete', TYPE: 'orders.deleted', PAYLOAD: null });
    const oracle = fakeOracle((sql) => (isHeads(sql) ? { rows: [deletion] } : {}));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    const [row] = await outbox.readBatch(5);

    expect(row?.event).toMatchObject({ op: 'delete', type: 'orders.deleted', data: null });
  });

  it('claims the following rows of the claimed keys, each key only up to the first row it could not lock', async () => {
    const oracle = fakeOracle((sql) => {
      if (isHeads(sql)) return { rows: [oracleRow({ id: 'k1-1', seq: 1, key: 'k1' }), oracleRow({ id: 'k2-1', seq: 2, key: 'k2' })] };
      if (isFollowers(sql)) {
        return {
          rows: [
            oracleRow({ id: 'k1-2', seq: 3, key: 'k1' }),
            oracleRow({ id: 'k2-2', seq: 4, key: 'k2' }),
            oracleRow({ id: 'k1-3', seq: 5, key: 'k1' }),
            oracleRow({ id: 'k1-4', seq: 6, key: 'k1' }),
          ],
        };
      }
      // k1-3 is locked by another session (or claimed by another instance): k1 stops before it.
      if (isLockFollowers(sql)) return { rows: [{ ID: 'k1-2' }, { ID: 'k2-2' }, { ID: 'k1-4' }] };
      return {};
    });
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    const rows = await outbox.readBatch(10);

    expect(rows.map((r) => r.event.id)).toEqual(['k1-1', 'k2-1', 'k1-2', 'k2-2']);
    const [followers] = oracle.statements(/:head_ids/);
    expect(followers?.binds).toEqual({ head_ids: { val: '["k1-1","k2-1"]', type: oracledb.DB_TYPE_CLOB } });
    expect(followers?.sql).not.toMatch(/FOR UPDATE/);
    expect(followers?.options).toMatchObject({ maxRows: 8 });
    const [lock] = oracle.statements(/:candidate_ids/);
    expect(lock?.sql).toMatch(/FOR UPDATE SKIP LOCKED/);
    expect(lock?.binds).toEqual({ candidate_ids: { val: '["k1-2","k2-2","k1-3","k1-4"]', type: oracledb.DB_TYPE_CLOB }, instance_id: 'relay-a' });
    const [claim] = oracle.statements(/SET claimed_by/);
    expect((claim?.binds as { event_id: string }[]).map((b) => b.event_id).sort()).toEqual(['k1-1', 'k1-2', 'k2-1', 'k2-2']);
    expect(oracle.state.commits).toBe(1);
  });

  it('commits without claiming anything when no row is claimable', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    expect(await outbox.readBatch(10)).toEqual([]);

    expect(oracle.calls).toHaveLength(1);
    expect(oracle.state).toMatchObject({ commits: 1, released: 1 });
  });

  it('dead-letters an unreadable row in the claiming transaction and returns the rows behind it', async () => {
    const oracle = fakeOracle((sql) =>
      isHeads(sql)
        ? {
            rows: [
              oracleRow({ id: 'broken', seq: 1, key: 'k1', AGGREGATETYPE: 'not-a-collection!' }),
              oracleRow({ id: 'garbled', seq: 2, key: 'k2', PAYLOAD: '{not json' }),
              oracleRow({ id: 'fine', seq: 3, key: 'k3' }),
            ],
          }
        : {},
    );
    const { logger, lines } = logSink();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { instanceId: 'relay-a', logger });

    const rows = await outbox.readBatch(3);

    expect(rows.map((r) => r.event.id)).toEqual(['fine']);
    const [fail] = oracle.statements(/SET failed_at = SYSTIMESTAMP/);
    expect(fail?.method).toBe('executeMany');
    const reasons = fail?.binds as { event_id: string; reason: string }[];
    expect(reasons.map((b) => b.event_id)).toEqual(['broken', 'garbled']);
    expect(reasons[0]?.reason).toMatch(/collection/);
    expect(reasons[1]?.reason).toMatch(/payload is not JSON/);
    const [claim] = oracle.statements(/SET claimed_by/);
    expect(claim?.binds).toEqual([expect.objectContaining({ event_id: 'fine' })]);
    expect(oracle.state.commits).toBe(1);
    expect(lines.filter((l) => l.msg === 'outbox row dead-lettered: it can never be published').map((l) => l.outboxRow)).toEqual([
      { id: 'broken', seq: '1' },
      { id: 'garbled', seq: '2' },
    ]);
  });

  it('rolls back, returns the connection and rethrows when a statement fails', async () => {
    const oracle = fakeOracle((sql) => {
      if (isHeads(sql)) return { rows: [oracleRow({ id: 'a', seq: 1 })] };
      if (sql.includes('SET claimed_by')) return new Error('ORA-00060: deadlock detected');
      return {};
    });
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await expect(outbox.readBatch(1)).rejects.toThrow('ORA-00060');

    expect(oracle.state).toMatchObject({ commits: 0, rollbacks: 1, taken: 1, released: 1 });
  });

  it('returns the connection when the commit fails', async () => {
    const oracle = fakeOracle();
    oracle.state.failCommit = true;
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await expect(outbox.markPublished([outboxRow('a', 1n)])).rejects.toThrow('ORA-03113');

    expect(oracle.state).toMatchObject({ rollbacks: 1, released: 1 });
  });

  it('marks published rows with one executeMany by event id, then commits', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.markPublished([outboxRow('a', 1n), outboxRow('b', 2n)]);

    expect(oracle.calls).toHaveLength(1);
    const [mark] = oracle.calls;
    expect(mark?.method).toBe('executeMany');
    expect(mark?.sql).toMatch(/SET published_at = SYSTIMESTAMP\s+WHERE id = :event_id AND published_at IS NULL/);
    expect(mark?.binds).toEqual([{ event_id: 'a' }, { event_id: 'b' }]);
    expect(mark?.options).toEqual({ bindDefs: { event_id: { type: oracledb.DB_TYPE_VARCHAR, maxSize: 512 } } });
    expect(oracle.state).toMatchObject({ commits: 1, released: 1 });
  });

  it('marks failed rows with their reasons in one executeMany, cutting a reason to the column', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.markFailed([
      { row: outboxRow('a', 1n), reason: 'too large for a post' },
      { row: outboxRow('b', 2n), reason: 'x'.repeat(5000) },
    ]);

    const [mark] = oracle.calls;
    expect(mark?.method).toBe('executeMany');
    const binds = mark?.binds as { event_id: string; reason: string }[];
    expect(binds[0]).toEqual({ event_id: 'a', reason: 'too large for a post' });
    expect(binds[1]?.event_id).toBe('b');
    expect(binds[1]?.reason).toHaveLength(1000);
    expect(oracle.state.commits).toBe(1);
  });

  it('does nothing for empty marks and appends', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.markPublished([]);
    await outbox.markFailed([]);
    await outbox.append([]);

    expect(oracle.calls).toEqual([]);
    expect(oracle.state.taken).toBe(0);
  });

  it('appends with MERGE … WHEN NOT MATCHED in one executeMany and one commit', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });
    const upsert = aChangeEvent({ id: 'e1', version: 1_801_234_567_890_123_456n, correlationId: 'corr-1' });
    const deletion = aChangeEvent({ id: 'e2', op: 'delete', key: '9', version: 7n });

    await outbox.append([upsert, deletion, aChangeEvent({ id: 'e1', version: 1n })]);

    expect(oracle.calls).toHaveLength(1);
    const [merge] = oracle.calls;
    expect(merge?.method).toBe('executeMany');
    expect(merge?.sql).toMatch(/^MERGE INTO tweetbus_outbox/);
    expect(merge?.sql).toMatch(/WHEN NOT MATCHED THEN/);
    expect(merge?.sql).not.toMatch(/WHEN MATCHED/);
    expect(merge?.binds).toEqual([
      {
        event_id: 'e1',
        collection: 'orders',
        event_key: '8172',
        event_type: 'orders.upserted',
        payload: '{"id":"8172","status":"SHIPPED"}',
        event_version: 1_801_234_567_890_123_456n,
        op: 'upsert',
        source_name: 'pg:dvx_orders',
        created_at: '2026-01-02T03:04:05.678Z',
        correlation_id: 'corr-1',
      },
      expect.objectContaining({ event_id: 'e2', event_key: '9', payload: null, op: 'delete', event_version: 7n, correlation_id: null }),
    ]);
    expect(merge?.options).toMatchObject({ bindDefs: { payload: { type: oracledb.DB_TYPE_CLOB }, event_version: { type: oracledb.DB_TYPE_NUMBER } } });
    expect(oracle.state).toMatchObject({ commits: 1, released: 1 });
  });

  it('appends once more when another transaction committed the same id first (ORA-00001)', async () => {
    let attempts = 0;
    const oracle = fakeOracle((sql) => {
      if (!sql.startsWith('MERGE')) return {};
      attempts += 1;
      return attempts === 1 ? Object.assign(new Error('ORA-00001: unique constraint violated'), { errorNum: 1 }) : { rowsAffected: 0 };
    });
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.append([aChangeEvent()]);

    expect(attempts).toBe(2);
    expect(oracle.state).toMatchObject({ rollbacks: 1, commits: 1, released: 2 });
  });

  it('does not retry an append that failed for another reason', async () => {
    const oracle = fakeOracle(() => Object.assign(new Error('ORA-02290: check constraint violated'), { errorNum: 2290 }));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await expect(outbox.append([aChangeEvent()])).rejects.toThrow('ORA-02290');

    expect(oracle.calls).toHaveLength(1);
    expect(oracle.state).toMatchObject({ rollbacks: 1, released: 1 });
  });

  it('deletes at most `limit` published, not failed rows older than the cutoff, skipping rows others hold', async () => {
    const oracle = fakeOracle((sql) => (sql.includes('FOR UPDATE SKIP LOCKED') ? { rows: [{ ID: 'a' }, { ID: 'b' }] } : { rowsAffected: 2 }));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    expect(await outbox.deletePublished(new Date('2024-05-01T10:00:00Z'), 3)).toBe(2);

    const [expired, deletion] = oracle.calls;
    expect(expired?.sql).toMatch(/published_at < FROM_TZ\(TO_TIMESTAMP\(:cutoff/);
    expect(expired?.sql).toMatch(/failed_at IS NULL/);
    expect(expired?.sql).toMatch(/FOR UPDATE SKIP LOCKED/);
    expect(expired?.binds).toEqual({ cutoff: '2024-05-01T10:00:00.000Z' });
    expect(expired?.options).toMatchObject({ maxRows: 3, prefetchRows: 3, fetchArraySize: 3 });
    expect(deletion?.method).toBe('executeMany');
    expect(deletion?.sql).toMatch(/^DELETE FROM tweetbus_outbox WHERE id = :event_id$/);
    expect(deletion?.binds).toEqual([{ event_id: 'a' }, { event_id: 'b' }]);
    expect(oracle.state).toMatchObject({ commits: 1, released: 1 });
  });

  it('deletes nothing and says so when no published row is old enough', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    expect(await outbox.deletePublished(new Date('2024-05-01T10:00:00Z'), 3)).toBe(0);

    expect(oracle.calls).toHaveLength(1);
  });

  it('names the owner schema in every statement when the relay user is another one', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a', schema: 'TWEETBUS' });

    await outbox.readBatch(1);
    await outbox.markPublished([outboxRow('a', 1n)]);
    await outbox.check();

    for (const call of oracle.calls) expect(call.sql).toMatch(/TWEETBUS\.tweetbus_outbox/);
  });

  it('checks the outbox table and returns the connection even when the check fails', async () => {
    const oracle = fakeOracle(() => new Error('ORA-00942: table or view does not exist'));
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await expect(outbox.check()).rejects.toThrow('ORA-00942');

    expect(oracle.calls[0]?.sql).toMatch(/FROM tweetbus_outbox WHERE 1 = 0/);
    expect(oracle.state.released).toBe(1);
  });

  it('leaves a given pool open on close, and close can be called twice', async () => {
    const oracle = fakeOracle();
    const outbox = createOracleOutbox({ pool: oracle.pool }, { logger: quietLogger, instanceId: 'relay-a' });

    await outbox.close();
    await outbox.close();

    expect(oracle.state.poolCloses).toBe(0);
    expect(oracle.state.taken).toBe(0);
  });

  it('refuses settings that cannot work', () => {
    const { pool } = fakeOracle();
    expect(() => createOracleOutbox({ pool }, { logger: quietLogger, instanceId: '' })).toThrow(/instanceId/);
    expect(() => createOracleOutbox({ pool }, { logger: quietLogger, instanceId: 'a', leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => createOracleOutbox({ pool }, { logger: quietLogger, instanceId: 'a', schema: 'x; DROP TABLE y' })).toThrow(/schema/);
    expect(() => createOracleOutbox({ url: 'postgres://u:p@h/db' }, { logger: quietLogger, instanceId: 'a' })).toThrow(ConfigError);
  });
});

describe('Oracle URLs', () => {
  it('reads user, password and an Easy Connect string, decoding percent-escapes', () => {
    expect(parseOracleUrl('oracle://tweetbus:p%40ss%2Fw0rd@db.example.com:1521/FREEPDB1')).toEqual({
      user: 'tweetbus',
      password: 'p@ss/w0rd',
      connectString: 'db.example.com:1521/FREEPDB1',
    });
  });

  it('leaves the port to Easy Connect when the URL has none', () => {
    expect(parseOracleUrl('oracle://u:p@db/ORCLPDB1').connectString).toBe('db/ORCLPDB1');
  });

  it('reads the owner schema from ?schema=', () => {
    expect(parseOracleUrl('oracle://relay:secret@db:1521/FREEPDB1?schema=TWEETBUS').schema).toBe('TWEETBUS');
  });

  it.each([
    ['not a url at all', /is not a URL/],
    ['postgres://u:secret@db:5432/test', /scheme is "postgres"/],
    ['oracle://db:1521/FREEPDB1', /user is missing/],
    ['oracle://tweetbus@db:1521/FREEPDB1', /password is missing/],
    ['oracle://tweetbus:secret@db:1521', /service name .* is missing/],
    ['oracle://tweetbus:secret@db:1521/', /service name .* is missing/],
    ['oracle://tweetbus:secret@db:99999/FREEPDB1', /is not a URL/],
    ['oracle://tweetbus:secret@db:1521/FREEPDB1?poolMax=3', /"poolMax" is not a known parameter/],
    ['oracle://tweetbus:secret@db:1521/FREEPDB1?schema=a-b', /schema must be an unquoted Oracle identifier/],
    ['oracle://tweetbus:%E0%A4%A@db:1521/FREEPDB1', /not valid percent-encoding/],
  ])('refuses %s, saying what is wrong and naming the variable', (url, reason) => {
    let error: unknown;
    try {
      parseOracleUrl(url, 'OUTBOX_DATABASE_URL');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(reason);
    expect(message).toMatch(/OUTBOX_DATABASE_URL should look like oracle:\/\/user:password@host:port\/service/);
    expect(message).not.toMatch(/secret/);
  });
});
