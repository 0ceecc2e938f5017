import { newPglite } from '../../../common/pglite.fixture.js';
import { createLogger } from '../../../common/logger.js';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlFromPglite } from '../../../common/sql.js';
import { createPgliteOutboxListener } from './outbox-listener.js';
import { describePostgresOutboxContract } from './postgres-outbox.contract.js';
import { applyDemoOrdersSchema } from './schema.js';

// One PGlite per file (starting one takes seconds); each test gets a schema of its own.
const shared = newPglite();
let schemas = 0;
afterAll(async () => {
  await (await shared).close();
});

describePostgresOutboxContract('PGlite', async () => {
  const pglite = await shared;
  const db = sqlFromPglite(pglite, { owned: false });
  schemas += 1;
  const schema = `outbox_test_${schemas}`;
  await db.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
  return {
    db,
    dispose: () => db.exec(`SET search_path TO public; DROP SCHEMA ${schema} CASCADE`),
  };
});

describe('PGlite outbox wake-up', () => {
  it('wakes the relay when a captured change commits', async () => {
    const pglite = await shared;
    const db = sqlFromPglite(pglite, { owned: false });
    await db.exec('CREATE SCHEMA wake_test; SET search_path TO wake_test');
    await applyDemoOrdersSchema(db);
    const listener = createPgliteOutboxListener(pglite, { logger: createLogger({ level: 'silent' }) });
    await listener.ready;
    const woken = new Promise<string>((resolve) => listener.wake(() => { resolve('woken'); }));

    await db.query(`INSERT INTO dvx_orders (id, status) VALUES ('o1', 'NEW')`);

    await expect(woken).resolves.toBe('woken');
    await listener.close();
    await listener.close();
  });
});
