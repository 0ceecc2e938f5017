import { createLogger } from '../../../common/logger.js';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlFromPgPool, type SqlDatabase } from '../../../common/sql.js';
import { anUpsert, contractClock, readModelStoreContract } from '../read-model-store.contract.js';
import { createPostgresReadModelStore } from './postgres-read-model-store.js';

const postgresUrl = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function uniqueSchema(): string {
  return `rm_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

describe('PostgreSQL read-model store', () => {
  let admin: SqlDatabase;

  beforeAll(() => {
    admin = sqlFromPgPool(new Pool({ connectionString: postgresUrl, max: 2 }), { owned: true });
  });

  afterAll(async () => {
    await admin.close();
  });

  describe('through its own pool', () => {
    readModelStoreContract(async () => {
      const schema = uniqueSchema();
      const store = await createPostgresReadModelStore({ connectionString: postgresUrl }, { schema, now: contractClock.now, logger: createLogger({ level: 'silent' }) });
      return {
        store,
        async dispose() {
          await store.close();
          await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    });
  });

  it('creates its schema idempotently and leaves a connection it was given open', async () => {
    const schema = uniqueSchema();
    const db = sqlFromPgPool(new Pool({ connectionString: postgresUrl, max: 2 }), { owned: true });
    try {
      const [first, second] = await Promise.all([
        createPostgresReadModelStore({ db }, { schema, logger: createLogger({ level: 'silent' }) }),
        createPostgresReadModelStore({ db }, { schema, logger: createLogger({ level: 'silent' }) }),
      ]);
      await first.applyBatch([anUpsert('1', 1, { status: 'OPEN' })]);
      await first.close();
      await second.close();

      const result = await db.query(`SELECT count(*)::int AS n FROM "${schema}".documents`);
      expect(result.rows).toEqual([{ n: 1 }]);
    } finally {
      await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.close();
    }
  });

  it('a concurrent writer of the same key never lets an older version win', async () => {
    const schema = uniqueSchema();
    const a = await createPostgresReadModelStore({ connectionString: postgresUrl }, { schema, logger: createLogger({ level: 'silent' }) });
    const b = await createPostgresReadModelStore({ connectionString: postgresUrl }, { schema, logger: createLogger({ level: 'silent' }) });
    try {
      const versions = Array.from({ length: 20 }, (_, i) => i + 1);
      const outcomes = await Promise.all(
        versions.map((v) => (v % 2 === 0 ? a : b).applyBatch([anUpsert('race', v, { v })])),
      );

      expect((await a.get('orders', 'race'))?.version).toBe(20n);
      expect(outcomes.flat().filter((o) => o.status === 'skipped' && o.reason === 'duplicate')).toEqual([]);
    } finally {
      await a.close();
      await b.close();
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});
