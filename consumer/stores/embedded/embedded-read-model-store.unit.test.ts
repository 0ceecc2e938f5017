import { newPglite } from '../../../common/pglite.fixture.js';
import { createLogger } from '../../../common/logger.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anUpsert, contractClock, readModelStoreContract } from '../read-model-store.contract.js';
import { createEmbeddedReadModelStore } from './embedded-read-model-store.js';

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
