import { setFlagsFromString } from 'node:v8';

/**
 * A service's start-up, kept from sizing its heap for good. V8 sizes its young generation by what
 * survives its collections: each semi-space starts at 1 MiB and doubles, up to 16 MiB, while much
 * survives. While a service loads its modules and opens its embedded database nearly everything
 * survives, so before the first event the young generation is at its largest, about 25 MiB resident
 * that an idle service then keeps. Imported first by an entry point, before the other modules load,
 * this module holds the young generation at its start size and has V8 favour size over speed; the
 * entry point calls `leanStartDone()` once the service is ready, and from then on V8 sizes the heap
 * for the work, as it would have. Together about 20 MiB less resident at rest on Node 20
 * (docs/performance.md, "Memory"). Newer V8 releases hold the growth factor at 2 or more, so on those
 * this saves less.
 * Both end with the start: size over speed, left on, halved the consumer's rate into PostgreSQL
 * (22,000 against 46,000 events/s, side by side), and set from the process's start it did the same.
 */
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--optimize-for-size');

/** How much the old generation may grow past what survived a full collection, with `oldGeneration: 'tight'`. */
export const tightOldGenerationGrowthPercent = 30;

export interface LeanStartOptions {
  /**
   * `small`: the young generation stays at its start size for good. The publisher's peak after 5,000
   * changes through an embedded outbox was about 35 MiB lower (139-143 against 175-182 MiB) for 2-5%
   * fewer inserts a second. `grow` (the default): V8's own sizing; the consumer allocates several
   * kilobytes an event and lets it grow.
   */
  readonly youngGeneration?: 'small' | 'grow';
  /**
   * `tight`: after each full collection the old generation may grow by `tightOldGenerationGrowthPercent`
   * of what survived before the next one, where V8 lets a small heap grow by 1.1 to 4 times. A
   * service whose live set is small (an embedded store's, about 25 MiB) otherwise promotes garbage
   * until its heap is three or four times that: through an embedded outbox 20,000 changes took the
   * publisher's heap to 95 MiB, of which 25 lived. `grow` (the default): V8's own sizing.
   */
  readonly oldGeneration?: 'tight' | 'grow';
}

/**
 * The heap of a process whose store is embedded (the demo, and a service with the embedded outbox or
 * read model): PGlite is its limit, not the collector, and little stays alive, so both generations
 * stay small. Servers' stores keep V8's sizing: their services allocate for tens of thousands of
 * events a second.
 */
export const embeddedStoreHeap = { youngGeneration: 'small', oldGeneration: 'tight' } as const satisfies LeanStartOptions;

/** Speed over size again, and V8's own sizing of the heap unless `options` ask to keep a part of it small. */
export function leanStartDone(options: LeanStartOptions = {}): void {
  if (options.youngGeneration !== 'small') setFlagsFromString('--semi-space-growth-factor=2');
  if (options.oldGeneration === 'tight') setFlagsFromString(`--heap-growing-percent=${String(tightOldGenerationGrowthPercent)}`);
  setFlagsFromString('--no-optimize-for-size');
}
