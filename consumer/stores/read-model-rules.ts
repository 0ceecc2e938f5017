import { TweetbusError } from '../../common/errors.js';
import { collectionNamePattern, unsafeKeyReason, type ChangeEvent } from '../../events/envelope.js';
import type { JsonPrimitive } from '../../events/json.js';
import type { ApplyOutcome, FieldFilter } from './read-model-store.js';

/**
 * Rules every read-model store shares, so the adapters cannot drift apart: which names are
 * acceptable, how a skipped event is classified, and how a batch is split so no statement touches
 * one key twice.
 */

/** Only names a decoder could have produced; anything else cannot hold documents. */
export function isReadModelCollectionName(name: string): boolean {
  return collectionNamePattern.test(name);
}

/** Throws `store.invalid` for a filter field that could not be a document key (`$x`, `a.b`, `__proto__`). */
export function assertSafeFilter(filter: FieldFilter): void {
  for (const field of Object.keys(filter)) {
    const reason = unsafeKeyReason(field);
    if (reason !== undefined) throw new TweetbusError('store.invalid', `filter field rejected: ${reason}`);
  }
}

/**
 * A filter value as the list of values any of which matches. Text with a NUL character is left out:
 * no stored document can hold one (events are validated), and PostgreSQL would reject it.
 */
export function filterAlternatives(value: FieldFilter[string]): readonly JsonPrimitive[] {
  return (isPrimitiveList(value) ? value : [value]).filter((v) => typeof v !== 'string' || !v.includes('\u0000'));
}

/** Keys are validated to be free of NUL, so a key with one names no document. */
export function isStorableKey(key: string): boolean {
  return !key.includes('\u0000');
}

function isPrimitiveList(value: FieldFilter[string]): value is readonly JsonPrimitive[] {
  return Array.isArray(value);
}

/** Classifies an event that the version gate did not let through. */
export function skippedOutcome(stored: bigint, version: bigint): ApplyOutcome {
  return { status: 'skipped', reason: stored === version ? 'duplicate' : 'stale' };
}

export interface IndexedEvent {
  /** Position in the batch, so outcomes come back in the order given. */
  readonly index: number;
  readonly event: ChangeEvent;
}

/**
 * Splits a batch into rounds in which each `(collection, key)` appears at most once, keeping the
 * order of events per key: the n-th event for a key goes into round n. One statement (or one bulk
 * write) per round then never touches a row twice, and most batches are a single round.
 */
export function splitIntoRounds(events: readonly ChangeEvent[]): IndexedEvent[][] {
  const rounds: IndexedEvent[][] = [];
  const seen = new Map<string, number>();
  events.forEach((event, index) => {
    const id = JSON.stringify([event.collection, event.key]);
    const round = seen.get(id) ?? 0;
    seen.set(id, round + 1);
    const target = rounds[round] ?? [];
    if (round === rounds.length) rounds.push(target);
    target.push({ index, event });
  });
  return rounds;
}

/** PostgreSQL text cannot hold NUL; a hostile message must still be storable as a dead letter. */
export function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}
