import { describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { pgTestDatabaseUrl } from '../common/pg-test-schema.js';
import { openBenchWriteDatabase } from './databases.js';
import { planChanges, writeChanges } from './workload.js';

const logger = createLogger({ level: 'silent' });

describe("the bench's writers", () => {
  it('kept to a pace, start change i no earlier than i / pace seconds after the first, and still commit every change', async () => {
    const write = await openBenchWriteDatabase('embedded', { databaseUrl: pgTestDatabaseUrl, writers: 4 }, logger);
    try {
      const paced = await writeChanges(write.db, planChanges(30), 4, 100);

      expect(paced.commits.size).toBe(30);
      expect(paced.inserts + paced.updates).toBe(30);
      // The 30th change may start 290 ms after the first (1 ms for the timer's rounding).
      expect(paced.writeMs).toBeGreaterThanOrEqual(289);
    } finally {
      await write.dispose();
    }
  });
});
