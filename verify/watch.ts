import { sleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { VersionInventory } from '../common/version-digest.js';
import { driftCounts, findDrift, type Drift, type DriftKind } from './drift.js';
import { healDrift, type HealOutcome, type Resend } from './heal.js';

/** The last verify's answer, for the live page's "source = read model" badge. */
export interface DriftStatus {
  readonly checkedAt: string;
  readonly tableRows: number;
  readonly readModelRows: number;
  readonly drifting: number;
  readonly counts: Record<DriftKind, number>;
  /** The first few drifting keys. */
  readonly keys: readonly Drift[];
  readonly ms: number;
}

export interface DriftWatch {
  /** The last verify's answer; undefined before the first one ended. */
  status(): DriftStatus | undefined;
  /** Verifies now, heals what drifts, and verifies again at once (the healed keys arrive within seconds). */
  heal(): Promise<HealOutcome>;
  close(): Promise<void>;
}

export interface DriftWatchOptions {
  readonly table: VersionInventory;
  readonly readModel: VersionInventory;
  readonly resend: Resend;
  /** From the end of one verify to the start of the next. */
  readonly intervalMs: number;
  /** How long a differing key may take to agree (a change in flight) before it counts. */
  readonly settleMs: number;
  readonly maxAheadMs: number;
  /** The `source` of the table's events (`findDrift`'s `owner`). */
  readonly owner: string;
  readonly logger: Logger;
}

const shownKeys = 5;

/**
 * Verifies a small table against its read model again and again (the demo's tables are small), so
 * the live page can show whether the read model equals the source, and heal it on request. A failed
 * verify is logged and tried again at the next turn.
 */
export function startDriftWatch(options: DriftWatchOptions): DriftWatch {
  const logger = options.logger.child({ component: 'driftWatch' });
  const stop = new AbortController();
  let wake = new AbortController();
  let latest: DriftStatus | undefined;
  const pause = (ms: number): Promise<void> => sleep(ms, stop.signal);

  async function verify(settleMs: number): Promise<readonly Drift[]> {
    const report = await findDrift(options.table, options.readModel, { settleMs, sleep: pause, owner: options.owner });
    if (stop.signal.aborted) return report.drift;
    latest = {
      checkedAt: new Date().toISOString(),
      tableRows: report.tableRows,
      readModelRows: report.readModelRows,
      drifting: report.drift.length,
      counts: driftCounts(report.drift),
      keys: report.drift.slice(0, shownKeys),
      ms: Math.round(report.ms),
    };
    return report.drift;
  }

  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await verify(options.settleMs);
      } catch (err) {
        logger.warn({ err }, 'verify failed; trying again at the next turn');
      }
      await sleep(options.intervalMs, AbortSignal.any([stop.signal, wake.signal]));
      wake = new AbortController();
    }
  })();

  return {
    status: () => latest,
    async heal() {
      const drift = await verify(0);
      const outcome = await healDrift(drift, options.resend, { now: new Date(), maxAheadMs: options.maxAheadMs });
      logger.info({ upserts: outcome.upserts, deletes: outcome.deletes, refused: outcome.refused.length }, 'healed the drift the live page asked about');
      wake.abort();
      return outcome;
    },
    async close() {
      stop.abort();
      await loop;
    },
  };
}
