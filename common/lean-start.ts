import { setFlagsFromString } from 'node:v8';

/**
 * A service's start-up, kept from sizing its heap for good. V8 sizes its young generation by what
 * survives its collections: each semi-space starts at 1 MiB and doubles, up to 16 MiB, while much
 * survives. While a service loads its modules and opens its embedded database nearly everything
 * survives, so before the first event the young generation is at its largest, about 25 MiB resident
 * that an idle service then keeps. Imported first by an entry point, before the other modules load,
 * this module holds the young generation at its start size and has V8 favour size over speed; the
 * entry point calls `leanStartDone()` once the service is ready, and from then on V8 sizes the heap
 * for the work, as it would have. Together about 20 MiB less resident at rest on Node 20 (README,
 * "Benchmarks"). Newer V8 releases hold the growth factor at 2 or more, so on those this saves less.
 * Both end with the start: size over speed, left on, halved the consumer's rate into PostgreSQL
 * (22,000 against 46,000 events/s, side by side), and set from the process's start it did the same.
 */
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--optimize-for-size');

/**
 * Speed over size again, and V8's own sizing of the young generation: its default growth factor (2
 * in Node 20 and 24). With `youngGeneration: 'small'` the young generation stays at its start size
 * for good: the publisher's peak after 5,000 changes through an embedded outbox was about 35 MiB
 * lower (139-143 against 175-182 MiB) for 2-5% fewer inserts a second. The consumer allocates
 * several kilobytes an event and lets it grow.
 */
export function leanStartDone(options: { readonly youngGeneration?: 'small' | 'grow' } = {}): void {
  if (options.youngGeneration !== 'small') setFlagsFromString('--semi-space-growth-factor=2');
  setFlagsFromString('--no-optimize-for-size');
}
