import { expect } from 'vitest';
import type { SqlQueryable } from '../common/sql.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';

/**
 * The check every fault drill ends with: the read model holds exactly the write table's rows, each
 * with the same values (timestamps compared as instants), and nothing else.
 */

const instantPattern = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)$/;

function canonical(fields: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(fields).sort()) {
    const value = fields[name];
    if (value instanceof Date) out[name] = value.toISOString();
    else if (typeof value === 'string' && instantPattern.test(value)) out[name] = new Date(value).toISOString();
    else out[name] = value;
  }
  return JSON.stringify(out);
}

export interface Drift {
  /** In the write table, not in the read model. */
  readonly missing: string[];
  /** In the read model, not in the write table (a deleted row still live, or a stranger's). */
  readonly extra: string[];
  /** In both, with other values. */
  readonly different: string[];
}

export interface WriteTable {
  readonly db: SqlQueryable;
  /** Default `dvx_orders`, keyed by `id`, captured as the collection `orders`. */
  readonly table?: string;
  readonly keyColumn?: string;
  readonly collection?: string;
}

/** Compares the write table with the read model's collection, key by key. */
export async function driftBetween(write: WriteTable, store: ReadModelStore): Promise<Drift> {
  const { db, table = 'dvx_orders', keyColumn = 'id', collection = 'orders' } = write;
  const { rows } = await db.query(`SELECT * FROM ${table}`);
  const source = new Map(rows.map((row) => [String(row[keyColumn]), canonical(row)]));
  const documents = await store.find(collection, {}, { limit: 10_000_000 });
  const read = new Map(documents.map((doc) => [doc.key, canonical(doc.data ?? {})]));
  const drift: Drift = { missing: [], extra: [], different: [] };
  for (const [key, image] of source) {
    const doc = read.get(key);
    if (doc === undefined) drift.missing.push(key);
    else if (doc !== image) drift.different.push(key);
  }
  for (const key of read.keys()) if (!source.has(key)) drift.extra.push(key);
  for (const list of [drift.missing, drift.extra, drift.different]) list.sort();
  return drift;
}

/** Resolves when there is no drift; a failure lists the keys that differ. */
export async function expectReadModelEqualsWriteTable(write: WriteTable, store: ReadModelStore): Promise<void> {
  expect(await driftBetween(write, store), 'read model vs write table, row by row').toEqual({ missing: [], extra: [], different: [] });
}

/** A probe for `waitUntil`: `true` once the read model equals the write table. */
export function noDrift(write: WriteTable, store: ReadModelStore): () => Promise<true | undefined> {
  return async () => {
    const drift = await driftBetween(write, store);
    return drift.missing.length + drift.extra.length + drift.different.length === 0 ? true : undefined;
  };
}
