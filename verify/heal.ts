import { versionAheadProblem } from '../events/version-clock.js';
import type { Drift } from './drift.js';

const healSliceSize = 1_000;

export interface HealOutcome {
  /** Keys sent again as upserts of their current row. */
  readonly upserts: number;
  /** Keys sent as deletes: their row is gone. */
  readonly deletes: number;
  /**
   * Keys left alone because the read model holds them at a version too far in the future (more
   * than VERSION_MAX_AHEAD_MS): healing them would move the write database's clock there.
   */
  readonly refused: readonly Drift[];
}

/** Sends keys again at versions above `above` (publisher/capture/postgres/table-inventory.ts `resendKeys`). */
export type Resend = (keys: readonly string[], above: bigint) => Promise<{ readonly upserts: number; readonly deletes: number }>;

/**
 * Heals drift: every drifting key is sent again from the write table, at a version above the highest
 * the read model holds for them, so the version gate applies each: a row as an upsert of its current
 * image, a key whose row is gone as a delete. A document at a version more than `maxAheadMs` past
 * `now` is refused instead (docs/design-notes.md, "The future is bounded").
 */
export async function healDrift(drift: readonly Drift[], resend: Resend, options: { readonly now: Date; readonly maxAheadMs: number }): Promise<HealOutcome> {
  const refused: Drift[] = [];
  const keys: string[] = [];
  let above = 0n;
  for (const d of drift) {
    const stored = d.readModelVersion;
    if (stored !== undefined && versionAheadProblem(stored, options.now, options.maxAheadMs) !== undefined) {
      refused.push(d);
      continue;
    }
    keys.push(d.key);
    if (stored !== undefined && stored > above) above = stored;
  }
  let upserts = 0;
  let deletes = 0;
  // One transaction per slice, so the rows a heal reads FOR SHARE wait on it only briefly.
  for (let i = 0; i < keys.length; i += healSliceSize) {
    const sent = await resend(keys.slice(i, i + healSliceSize), above);
    upserts += sent.upserts;
    deletes += sent.deletes;
  }
  return { upserts, deletes, refused };
}
