import { z } from 'zod';
import type { Logger } from './logger.js';
import type { SqlDatabase } from './sql.js';

/**
 * What PostgreSQL's autovacuum daemon does, for an embedded PGlite database, which has none running:
 * a table whose changes since its last ANALYZE pass the threshold is analyzed, and one whose dead
 * rows pass it is vacuumed, with PostgreSQL's default thresholds (`autovacuum_analyze_threshold` 50
 * plus `autovacuum_analyze_scale_factor` 0.1 of its rows; 50 plus 0.2 for VACUUM).
 *
 * Without it an outbox that churns keeps the statistics of its first minute and every dead row it
 * ever had, and each commit gets slower (bench/results.md). The check is cheap: one flush of the
 * statistics and one read of `pg_stat_user_tables` every `intervalMs`.
 *
 * ANALYZE samples 300 rows per point of the statistics target, and holds the sample in memory. An
 * embedded database's memory is WebAssembly memory, which never shrinks: whatever it touches once
 * stays resident for the life of the process. So ANALYZE runs here with a target of
 * `upkeepStatisticsTarget` (3,000 sample rows) instead of PostgreSQL's 100 (30,000): on an outbox
 * of 20,000 rows that is 3 MiB of resident memory instead of 20 (docs/performance.md, "Memory"). The
 * tables of an embedded database are small, and their plans turn on row counts, which it estimates as
 * well.
 */
export interface PgliteUpkeep {
  /** One check now (after the one in progress, if any); resolves with what it did. */
  runOnce(): Promise<readonly UpkeepAction[]>;
  /** Stops the checks and waits for the one in progress. Harmless to call twice. */
  close(): Promise<void>;
}

export interface UpkeepAction {
  /** `schema.table`, quoted where it must be. */
  readonly table: string;
  readonly analyzed: boolean;
  readonly vacuumed: boolean;
}

export interface PgliteUpkeepOptions {
  readonly logger: Logger;
  /** Default 10 s. */
  readonly intervalMs?: number;
}

export const upkeepThresholds = { base: 50, analyzeScale: 0.1, vacuumScale: 0.2 } as const;

/** The statistics target of the upkeep's ANALYZE (PostgreSQL's `default_statistics_target` is 100). */
export const upkeepStatisticsTarget = 10;

const statsSchema = z.object({
  name: z.string(),
  live: z.coerce.number(),
  dead: z.coerce.number(),
  modified: z.coerce.number(),
});

export function startPgliteUpkeep(db: SqlDatabase, options: PgliteUpkeepOptions): PgliteUpkeep {
  const logger = options.logger.child({ component: 'pgliteUpkeep' });
  const intervalMs = options.intervalMs ?? 10_000;
  let running: Promise<readonly UpkeepAction[]> = Promise.resolve([]);
  let closed = false;

  async function check(): Promise<readonly UpkeepAction[]> {
    // Statistics reach pg_stat_* when a backend flushes them; the embedded one is asked to now.
    await db.query('SELECT pg_stat_force_next_flush()');
    const result = await db.query(
      `SELECT format('%I.%I', schemaname, relname) AS name, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified
         FROM pg_stat_user_tables ORDER BY schemaname, relname`,
    );
    const actions: UpkeepAction[] = [];
    for (const row of result.rows) {
      const { name, live, dead, modified } = statsSchema.parse(row);
      const vacuum = dead > upkeepThresholds.base + upkeepThresholds.vacuumScale * live;
      const analyze = modified > upkeepThresholds.base + upkeepThresholds.analyzeScale * live;
      if (!vacuum && !analyze) continue;
      const started = performance.now();
      // VACUUM cannot run in a transaction; ANALYZE does, so its target is set for it alone.
      if (vacuum) await db.query(`VACUUM ${name}`);
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL default_statistics_target = ${String(upkeepStatisticsTarget)}`);
        await tx.query(`ANALYZE ${name}`);
      });
      logger.debug({ table: name, live, dead, modified, vacuum, ms: Math.round(performance.now() - started) }, vacuum ? 'vacuumed and analyzed' : 'analyzed');
      actions.push({ table: name, analyzed: true, vacuumed: vacuum });
    }
    return actions;
  }

  function runOnce(): Promise<readonly UpkeepAction[]> {
    const next = running.catch(() => []).then(check);
    running = next;
    return next;
  }

  const timer = setInterval(() => {
    if (closed) return;
    runOnce().catch((err: unknown) => {
      if (!closed) logger.warn({ err }, 'could not check the embedded database for ANALYZE and VACUUM; trying again later');
    });
  }, intervalMs);
  timer.unref();

  return {
    runOnce,
    async close() {
      closed = true;
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
