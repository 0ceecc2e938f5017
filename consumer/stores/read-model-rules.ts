import { TweetbusError } from '../../common/errors.js';
import { collectionNamePattern, textProblem, unsafeKeyReason, type ChangeEvent } from '../../events/envelope.js';
import type { JsonPrimitive } from '../../events/json.js';
import type { ApplyOutcome, FieldFilter, StoredDocument } from './read-model-store.js';

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
 * A filter value as the list of values any of which matches. Text no store can hold (`textProblem`)
 * is left out: no stored document holds it (events are validated), and PostgreSQL would refuse it.
 */
export function filterAlternatives(value: FieldFilter[string]): readonly JsonPrimitive[] {
  return (isPrimitiveList(value) ? value : [value]).filter((v) => typeof v !== 'string' || textProblem(v) === undefined);
}

/** Keys are validated (`textProblem`), so a key no store can hold names no document. */
export function isStorableKey(key: string): boolean {
  return textProblem(key) === undefined;
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
    // NUL is in no collection name and no stored key (textProblem), so it joins the two unambiguously.
    const id = `${event.collection}\u0000${event.key}`;
    const round = seen.get(id) ?? 0;
    seen.set(id, round + 1);
    const target = rounds[round] ?? [];
    if (round === rounds.length) rounds.push(target);
    target.push({ index, event });
  });
  return rounds;
}

/** A NUL, or a UTF-16 surrogate without its pair (matched code unit by code unit: no `u` flag). */
// eslint-disable-next-line no-control-regex -- a NUL is one of the two things this finds
const unstorableUnit = new RegExp('\\u0000|[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]', 'g');

/**
 * A hostile message must still be storable as a dead letter, and still say what it held: each NUL
 * and lone surrogate (`textProblem`) is written as its JSON escape, `\u0000` or `\uD800`, the same
 * on every store. (A UTF-8 driver would otherwise write U+FFFD for a surrogate, and PostgreSQL
 * refuses NUL.) Everything else, surrogate pairs included, is kept as it is.
 */
export function storableText(text: string): string {
  return text.replace(unstorableUnit, (unit) => `\\u${unit.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
}

/**
 * The outcomes of a batch in the order the events were given. Every adapter fills `outcomes` by
 * position; a hole is a bug in the adapter, never a state to return.
 */
export function outcomesInOrder(events: readonly ChangeEvent[], outcomes: readonly (ApplyOutcome | undefined)[]): ApplyOutcome[] {
  return events.map((event, i) => {
    const outcome = outcomes[i];
    if (outcome === undefined) throw new TweetbusError('store.invalid', `no outcome for event ${event.id}`);
    return outcome;
  });
}

/** Tombstones are hidden from reads unless the caller asks for them. */
export function visibleDocument(doc: StoredDocument, options: { includeDeleted?: boolean }): StoredDocument | undefined {
  return doc.deleted && options.includeDeleted !== true ? undefined : doc;
}

/** A usable limit, or 0 (no rows) for anything that is not a positive whole number. */
export function clampLimit(limit: number): number {
  return Number.isSafeInteger(limit) && limit > 0 ? limit : 0;
}
