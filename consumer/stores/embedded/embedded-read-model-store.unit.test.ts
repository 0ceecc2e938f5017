import { newPglite } from '../../../common/pglite.fixture.js';
import { createLogger } from '../../../common/logger.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anUpsert, contractClock, readModelStoreContract } from '../read-model-store.contract.js';
import { createEmbeddedReadModelStore, embeddedRowsPerStatement } from './embedded-read-model-store.js';
import { sqlFromPglite, type SqlDatabase } from '../../../common/sql.js';
import { createPostgresReadModelStore } from '../postgres/postgres-read-model-store.js';

describe('embedded (PGlite) read-model store', () => {
  // Starting PGlite costs seconds; the tests share one instance and each gets its own schema.
  let pglite: PGlite;
  let schemas = 0;

  beforeAll(async () => {
    pglite = await newPglite();
  });

  afterAll(async () => {
    await pglite.close();
  });

  readModelStoreContract(async () => {
    schemas += 1;
    const schema = `contract_${schemas}`;
    const store = await createEmbeddedReadModelStore({ pglite }, { schema, now: contractClock.now, logger: createLogger({ level: 'silent' }) });
    return {
      store,
      async dispose() {
        await store.close();
        await pglite.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  });
});

describe('embedded read-model store: a batch larger than one statement', () => {
  let pglite: PGlite;

  beforeAll(async () => {
    pglite = await newPglite();
  });

  afterAll(async () => {
    await pglite.close();
  });

  /** Keys k0…k(n-1) at `version`; every third key twice more in the batch: once newer, once stale. */
  function aLargeBatch(keys: number, version: number) {
    const events = Array.from({ length: keys }, (_, i) => anUpsert(`k${String(i)}`, version, { n: i }));
    for (let i = 0; i < keys; i += 3) events.push(anUpsert(`k${String(i)}`, version + 1, { n: -i }), anUpsert(`k${String(i)}`, version - 1, { n: 0 }));
    return events;
  }

  it('applies it in parts, in order, with each event the outcome it would have had alone', async () => {
    const store = await createEmbeddedReadModelStore({ pglite }, { schema: 'large_batches', now: contractClock.now, logger: createLogger({ level: 'silent' }) });
    try {
      const keys = Math.floor(embeddedRowsPerStatement * 2.5);
      await store.applyBatch([anUpsert('k1', 9), anUpsert('k2', 5)]);
      const events = aLargeBatch(keys, 5);

      const outcomes = await store.applyBatch(events);

      const expected = events.map((event, i) => {
        if (event.key === 'k1') return { status: 'skipped', reason: 'stale' }; // 9 was stored first
        if (event.key === 'k2' && i < keys) return { status: 'skipped', reason: 'duplicate' };
        return event.version === 4n ? { status: 'skipped', reason: 'stale' } : { status: 'applied' };
      });
      expect(outcomes).toEqual(expected);
      expect(await store.get('orders', 'k3')).toMatchObject({ version: 6n, data: { n: -3 } });
      expect(await store.get('orders', 'k4')).toMatchObject({ version: 5n, data: { n: 4 } });
      expect(await store.get('orders', `k${String(keys - 2)}`)).toMatchObject({ version: 5n });
    } finally {
      await store.close();
      await pglite.exec('DROP SCHEMA IF EXISTS large_batches CASCADE');
    }
  });

  it('takes ceil(n / maxRowsPerStatement) statements per round, in one transaction, and one statement outside any when that is all', async () => {
    const base = sqlFromPglite(pglite, { owned: false });
    const applies: string[] = [];
    const isApply = (text: string) => text.includes('jsonb_to_recordset');
    const counting: SqlDatabase = {
      ...base,
      query: (text, params) => {
        if (isApply(text)) applies.push('alone');
        return base.query(text, params);
      },
      transaction: (fn) =>
        base.transaction((tx) =>
          fn({
            query: (text, params) => {
              if (isApply(text)) applies.push('in a transaction');
              return tx.query(text, params);
            },
          }),
        ),
    };
    const store = await createPostgresReadModelStore({ db: counting }, { schema: 'statements', maxRowsPerStatement: 3, logger: createLogger({ level: 'silent' }) });
    try {
      await store.applyBatch(['a', 'b', 'c'].map((key) => anUpsert(key, 1)));
      expect(applies).toEqual(['alone']);

      applies.length = 0;
      // Round one: 7 distinct keys (3 statements); round two: a again (1).
      await store.applyBatch([...['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((key) => anUpsert(key, 2)), anUpsert('a', 3)]);
      expect(applies).toEqual(Array(4).fill('in a transaction'));
      expect(await store.get('orders', 'a')).toMatchObject({ version: 3n });
      expect(await store.get('orders', 'g')).toMatchObject({ version: 2n });

      await expect(createPostgresReadModelStore({ db: counting }, { schema: 'statements', maxRowsPerStatement: 0, logger: createLogger({ level: 'silent' }) })).rejects.toThrow(
        /maxRowsPerStatement must be at least 1/,
      );
    } finally {
      await store.close();
      await pglite.exec('DROP SCHEMA IF EXISTS statements CASCADE');
    }
  });

  it('writes none of it when one of its statements fails', async () => {
    const store = await createEmbeddedReadModelStore({ pglite }, { schema: 'failing_batches', now: contractClock.now, logger: createLogger({ level: 'silent' }) });
    try {
      const keys = Math.floor(embeddedRowsPerStatement * 2.5);
      // The last key is in the batch's third statement.
      await pglite.exec(`
        CREATE FUNCTION failing_batches.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.key = 'k${String(keys - 1)}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON failing_batches.documents FOR EACH ROW EXECUTE FUNCTION failing_batches.refuse();`);

      await expect(store.applyBatch(aLargeBatch(keys, 5))).rejects.toThrow(/refused for the test/);

      expect(await store.get('orders', 'k0')).toBeUndefined();
      expect((await pglite.query<{ n: number }>('SELECT count(*)::int AS n FROM failing_batches.documents')).rows).toEqual([{ n: 0 }]);
    } finally {
      await store.close();
      await pglite.exec('DROP SCHEMA IF EXISTS failing_batches CASCADE');
    }
  });
});

describe('embedded read-model store on disk', () => {
  it('keeps documents and checkpoints across a restart, and closing twice is harmless', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tweetbus-read-model-'));
    try {
      const first = await createEmbeddedReadModelStore({ dataDir: join(dir, 'read-model') }, { logger: createLogger({ level: 'silent' }) });
      await first.applyBatch([anUpsert('1001', 3, { status: 'OPEN' })]);
      await first.save('consumer', '77');
      await first.close();
      await first.close();

      const second = await createEmbeddedReadModelStore({ dataDir: join(dir, 'read-model') }, { logger: createLogger({ level: 'silent' }) });
      try {
        expect(await second.get('orders', '1001')).toMatchObject({ version: 3n, data: { status: 'OPEN' } });
        expect(await second.load('consumer')).toBe('77');
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
