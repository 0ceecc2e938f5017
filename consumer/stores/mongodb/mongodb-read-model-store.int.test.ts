import { createLogger } from '../../../common/logger.js';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe } from 'vitest';
import { contractClock, readModelStoreContract } from '../read-model-store.contract.js';
import { createMongoReadModelStore } from './mongodb-read-model-store.js';

const mongoUrl = process.env['MONGODB_URL'];

describe.skipIf(mongoUrl === undefined)(
  mongoUrl === undefined ? 'MongoDB read-model store (skipped: MONGODB_URL not set)' : 'MongoDB read-model store',
  () => {
    // One client for the whole file, as in production; each test gets its own database.
    let client: MongoClient;

    beforeAll(async () => {
      client = new MongoClient(mongoUrl ?? 'mongodb://unused');
      await client.connect();
    });

    afterAll(async () => {
      await client.close();
    });

    readModelStoreContract(async () => {
      const database = `tweetbus_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      const store = await createMongoReadModelStore({ client }, { database, now: contractClock.now, logger: createLogger({ level: 'silent' }) });
      return {
        store,
        async dispose() {
          await store.close();
          await client.db(database).dropDatabase();
        },
      };
    });
  },
);
