import { expect } from 'vitest';
import type { ChangeEvent } from '../events/envelope.js';
import { canonicalJson } from '../events/json.js';
import type { ReadModelReader, StoredDocument } from './stores/read-model-store.js';

/** What the read model holds of a document, in the terms the version gate compares, the data as canonical JSON. */
export interface Held {
  readonly version: bigint;
  readonly eventId: string;
  readonly deleted: boolean;
  readonly data: string;
}

interface Predicted {
  readonly collection: string;
  readonly key: string;
  held: Held | undefined;
}

/** Each document the events touch, and what it must hold once they are handled. */
export type ReadModelPrediction = readonly Readonly<Predicted>[];

const docKey = (collection: string, key: string) => JSON.stringify([collection, key]);
const heldOf = (doc: StoredDocument): Held => ({ version: doc.version, eventId: doc.eventId, deleted: doc.deleted, data: canonicalJson(doc.data) });
const heldAfter = (event: ChangeEvent): Held => ({ version: event.version, eventId: event.id, deleted: event.op === 'delete', data: canonicalJson(event.data) });

/**
 * A model of the version gate (DESIGN rules 2 and 3): reads what the store holds now for every key
 * the events touch, then plays the events in order, each applied only over a lower version. Call it
 * before the events are handed over; `expectReadModel` afterwards.
 */
export async function predictReadModel(store: ReadModelReader, events: readonly ChangeEvent[]): Promise<ReadModelPrediction> {
  const expected = new Map<string, Predicted>();
  for (const { collection, key } of events) {
    const id = docKey(collection, key);
    if (expected.has(id)) continue;
    const stored = await store.get(collection, key, { includeDeleted: true });
    expected.set(id, { collection, key, held: stored === undefined ? undefined : heldOf(stored) });
  }
  for (const event of events) {
    const predicted = expected.get(docKey(event.collection, event.key));
    if (predicted !== undefined && (predicted.held === undefined || predicted.held.version < event.version)) predicted.held = heldAfter(event);
  }
  return [...expected.values()];
}

/**
 * The store holds exactly what the model predicts, the data byte for byte in JSON: a value the store
 * changed on the way (U+FFFD for a lone surrogate, a number rounded) fails here.
 */
export async function expectReadModel(store: ReadModelReader, expected: ReadModelPrediction): Promise<void> {
  for (const { collection, key, held } of expected) {
    const stored = await store.get(collection, key, { includeDeleted: true });
    expect(stored === undefined ? undefined : heldOf(stored), `${collection}/${key}`).toEqual(held);
  }
}
