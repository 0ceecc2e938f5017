import { performance } from 'node:perf_hooks';
import { ConfigError } from '../../common/errors.js';

/**
 * Snapshots of captured tables: the current image of every row, enqueued into the outbox as upserts at
 * fresh versions, a chunk of the key at a time, so rows that were there before the capture trigger
 * (or that a read model lost) reach the read model. The relay sends them like any change. Each
 * database does the chunks its own way (`SnapshotStore`: postgres/snapshot.ts, oracle/oracle-snapshot.ts);
 * why live changes never lose to a snapshot is in docs/design-notes.md.
 */

/** A table the capture trigger is attached to, as `tweetbus_captured_tables()` lists it. */
export interface CapturedTable {
  /** As the database names it (PostgreSQL: schema-qualified when the schema is not on the search path). */
  readonly table: string;
  readonly collection: string;
  readonly keyColumn: string;
}

export interface SnapshotProgress {
  readonly table: string;
  readonly collection: string;
  /** Rows enqueued so far by this snapshot, resumed chunks included. */
  readonly enqueued: number;
  /** The table's rows when the snapshot started (rows come and go while it runs). */
  readonly total: number;
}

export interface SnapshotResult {
  readonly table: string;
  readonly collection: string;
  /** Rows this run enqueued (a resumed snapshot's earlier chunks not counted). */
  readonly enqueued: number;
  /** Whether it went on from the last chunk of an unfinished snapshot. */
  readonly resumed: boolean;
  readonly ms: number;
  /** Stopped by its signal before the last chunk: unfinished, to go on next time. */
  readonly stopped: boolean;
}

export interface SnapshotOptions {
  /** Rows per chunk, each one transaction; their rows' writers wait that long at most. Default 1000. */
  readonly chunkSize?: number;
  /** Stops between chunks (the snapshot stays unfinished, and goes on after its last chunk next time). */
  readonly signal?: AbortSignal;
  /** Called after each chunk committed; the next chunk waits for it. */
  readonly onProgress?: (progress: SnapshotProgress) => void | Promise<void>;
}

export const defaultSnapshotChunkSize = 1_000;

/** Where a snapshot stands: its last key and rows so far, and whether it finished. */
export interface SnapshotState {
  readonly lastKey: string | null;
  readonly rowsEnqueued: number;
  readonly finished: boolean;
}

/** One database's snapshot primitives; each chunk, with its progress, is one transaction. */
export interface SnapshotStore {
  /** The snapshot of `table` recorded so far; undefined when none ever started. */
  state(table: CapturedTable): Promise<SnapshotState | undefined>;
  /** Records a new snapshot of `table`, from the first key. */
  restart(table: CapturedTable): Promise<void>;
  /** The table's rows now, for the progress bar. */
  count(table: CapturedTable): Promise<number>;
  /**
   * Enqueues the next `maxRows` rows after `afterKey` (null: from the first) and records the progress,
   * in one transaction; `finished` when no rows were left after them.
   */
  chunk(table: CapturedTable, afterKey: string | null, maxRows: number): Promise<{ readonly enqueued: number; readonly lastKey: string | null; readonly finished: boolean }>;
}

/** A database's captured tables and its snapshot primitives. */
export interface SnapshotTarget {
  tables(): Promise<CapturedTable[]>;
  readonly store: SnapshotStore;
}

/** The captured tables of `collection`; a ConfigError naming the collections there are when none is. */
export function tablesOf(all: readonly CapturedTable[], collection: string): CapturedTable[] {
  const tables = all.filter((t) => t.collection === collection);
  if (tables.length > 0) return tables;
  const known = [...new Set(all.map((t) => t.collection))];
  throw new ConfigError([
    `no table is captured into collection "${collection}": ${known.length === 0 ? 'no table has the tweetbus_capture() trigger' : `the captured collections are ${known.map((c) => `"${c}"`).join(', ')}`}`,
  ]);
}

/**
 * Enqueues the current image of every row of `table`, chunk by chunk. An unfinished snapshot of the
 * same table and collection (the process died) goes on after its last chunk; otherwise a new one
 * starts from the first key.
 */
export async function runSnapshot(store: SnapshotStore, table: CapturedTable, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  const chunkSize = options.chunkSize ?? defaultSnapshotChunkSize;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new ConfigError([`the snapshot's chunk size must be a positive whole number, not ${String(chunkSize)}`]);
  const started = performance.now();
  const state = await store.state(table);
  const resumed = state !== undefined && !state.finished;
  if (!resumed) await store.restart(table);
  const total = await store.count(table);
  let lastKey = resumed ? state.lastKey : null;
  let enqueued = resumed ? state.rowsEnqueued : 0;
  let thisRun = 0;
  let stopped = false;
  for (;;) {
    const chunk = await store.chunk(table, lastKey, chunkSize);
    enqueued += chunk.enqueued;
    thisRun += chunk.enqueued;
    if (chunk.lastKey !== null) lastKey = chunk.lastKey;
    await options.onProgress?.({ table: table.table, collection: table.collection, enqueued, total });
    if (chunk.finished) break;
    if (options.signal?.aborted === true) {
      stopped = true;
      break;
    }
  }
  return { table: table.table, collection: table.collection, enqueued: thisRun, resumed, ms: performance.now() - started, stopped };
}

/** A snapshot's rate: rows enqueued per second of its run. */
export function rowsPerSecond(result: SnapshotResult): number {
  return result.ms > 0 ? Math.round(result.enqueued / (result.ms / 1000)) : result.enqueued;
}

/**
 * SNAPSHOT_ON_ATTACH: snapshots each captured table whose snapshot never finished (a table seen for
 * the first time, or one whose snapshot was cut short), once, and records it. Two publishers that
 * start together may both snapshot a new table: the second copy of each row is a duplicate at a
 * higher version, which the read model applies harmlessly.
 */
export async function snapshotOnAttach(target: SnapshotTarget, options: { readonly chunkSize?: number; readonly signal?: AbortSignal; readonly onDone?: (result: SnapshotResult) => void }): Promise<SnapshotResult[]> {
  const results: SnapshotResult[] = [];
  for (const table of await target.tables()) {
    if (options.signal?.aborted === true) break;
    if ((await target.store.state(table))?.finished === true) continue;
    const result = await runSnapshot(target.store, table, { chunkSize: options.chunkSize, signal: options.signal });
    options.onDone?.(result);
    results.push(result);
  }
  return results;
}
