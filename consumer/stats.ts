/** What the pipeline has done since the process started, for `/api/_stats`. */
export interface ConsumerStatsSnapshot {
  readonly applied: number;
  readonly skipped: number;
  readonly deadLettered: number;
  readonly batches: number;
  /** ISO-8601 time of the last batch that applied at least one event. */
  readonly lastAppliedAt: string | undefined;
}

/** In-process counters. The pipeline records only work that is already durable. */
export interface ConsumerStats {
  recordBatch(counts: { applied: number; skipped: number; deadLettered: number }, at: Date): void;
  snapshot(): ConsumerStatsSnapshot;
}

export function createConsumerStats(): ConsumerStats {
  let applied = 0;
  let skipped = 0;
  let deadLettered = 0;
  let batches = 0;
  let lastAppliedAt: string | undefined;
  return {
    recordBatch(counts, at) {
      applied += counts.applied;
      skipped += counts.skipped;
      deadLettered += counts.deadLettered;
      batches += 1;
      if (counts.applied > 0) lastAppliedAt = at.toISOString();
    },
    snapshot() {
      return { applied, skipped, deadLettered, batches, lastAppliedAt };
    },
  };
}
