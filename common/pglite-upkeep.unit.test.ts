import { afterEach, describe, expect, it } from 'vitest';
import { logSink } from './log-sink.fixture.js';
import { newPglite } from './pglite.fixture.js';
import { startPgliteUpkeep, upkeepStatisticsTarget, type PgliteUpkeep } from './pglite-upkeep.js';
import { sqlFromPglite, type SqlDatabase } from './sql.js';

const opened: { db: SqlDatabase; upkeep: PgliteUpkeep }[] = [];

async function aDatabase(intervalMs = 3_600_000) {
  const db = sqlFromPglite(await newPglite(), { owned: true });
  await db.exec(`
    CREATE TABLE churned (id int PRIMARY KEY, v int);
    CREATE TABLE quiet (id int PRIMARY KEY, v int);
    INSERT INTO quiet SELECT g, g FROM generate_series(1, 1000) g;`);
  // The inserts must reach the statistics before ANALYZE resets their count.
  await db.query('SELECT pg_stat_force_next_flush()');
  await db.query('SELECT 1');
  await db.exec('VACUUM ANALYZE quiet');
  const log = logSink('debug');
  const upkeep = startPgliteUpkeep(db, { logger: log.logger, intervalMs });
  opened.push({ db, upkeep });
  return { db, upkeep, log };
}

async function stats(db: SqlDatabase, table: string) {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query(
    'SELECT n_dead_tup::int AS dead, n_mod_since_analyze::int AS modified, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = $1',
    [table],
  );
  return rows[0];
}

afterEach(async () => {
  for (const { db, upkeep } of opened.splice(0)) {
    await upkeep.close();
    await db.close();
  }
});

describe('upkeep of an embedded database (its autovacuum)', () => {
  it('vacuums and analyzes a table whose dead rows and changes pass PostgreSQL\'s thresholds, and leaves a quiet one alone', async () => {
    const { db, upkeep } = await aDatabase();
    await db.exec('INSERT INTO churned SELECT g, g FROM generate_series(1, 1000) g');
    await db.exec('UPDATE churned SET v = v + 1 WHERE id <= 600');
    expect(await stats(db, 'churned')).toMatchObject({ dead: 600, analyzed: false });

    const actions = await upkeep.runOnce();

    expect(actions).toEqual([{ table: 'public.churned', analyzed: true, vacuumed: true }]);
    expect(await stats(db, 'churned')).toEqual({ dead: 0, modified: 0, analyzed: true });
    expect(await upkeep.runOnce()).toEqual([]);
  });

  it('only analyzes when rows were added but none died, and waits below the threshold', async () => {
    const { db, upkeep } = await aDatabase();
    await db.exec('INSERT INTO quiet SELECT g, g FROM generate_series(1001, 1140) g');
    // 140 changes on about 1,000 rows: below 50 + 10% (150).
    expect(await upkeep.runOnce()).toEqual([]);
    await db.exec('INSERT INTO quiet SELECT g, g FROM generate_series(1141, 1200) g');
    expect(await upkeep.runOnce()).toEqual([{ table: 'public.quiet', analyzed: true, vacuumed: false }]);
  });

  it("analyzes with a small statistics target (its sample stays in the database's memory for good), and leaves the session's own target as it was", async () => {
    const { db, upkeep } = await aDatabase();
    await db.exec('INSERT INTO churned SELECT g, g FROM generate_series(1, 5000) g');

    expect(await upkeep.runOnce()).toEqual([{ table: 'public.churned', analyzed: true, vacuumed: false }]);

    // A histogram has one bound more than the target's buckets; PostgreSQL's default (100) would give 101.
    const { rows } = await db.query(
      "SELECT array_length(histogram_bounds::text::int[], 1) AS bounds FROM pg_stats WHERE tablename = 'churned' AND attname = 'v'",
    );
    expect(rows).toEqual([{ bounds: upkeepStatisticsTarget + 1 }]);
    expect((await db.query('SHOW default_statistics_target')).rows).toEqual([{ default_statistics_target: '100' }]);
  });

  it('checks by itself every interval, and stops when closed', async () => {
    const { db, upkeep, log } = await aDatabase(50);
    await db.exec('INSERT INTO churned SELECT g, g FROM generate_series(1, 500) g');
    await expect.poll(async () => (await stats(db, 'churned'))?.analyzed, { timeout: 5_000 }).toBe(true);
    expect(log.lines.some((l) => l.msg === 'analyzed' && l.table === 'public.churned')).toBe(true);
    await upkeep.close();
    const before = log.lines.length;
    await db.exec('INSERT INTO churned SELECT g, g FROM generate_series(501, 2000) g');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(log.lines.length).toBe(before);
    expect((await stats(db, 'churned'))?.modified).toBe(1500);
  });
});
