import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger.js';
import { within } from '../common/timeout.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { OutboxReader } from '../publisher/capture/outbox.js';
import { createOutboxRelay, defaultRelayBatch } from '../publisher/relay.js';
import { createInMemoryBus } from '../transports/in-memory/in-memory-bus.js';
import type { BenchConfig, BenchStore } from './config.js';
import { openBenchReadModel, openBenchWriteDatabase } from './databases.js';
import { measureTransport, type BenchKafka } from './transports.js';
import { fillBacklog, writeChanges, type Change } from './workload.js';

/**
 * What each part of the pipeline does alone, on the same machine, in the same run: the pipeline can
 * be no faster than its slowest part, so its rate over each of these says where the time goes.
 */
export interface Ceilings {
  /** The writers committing the same changes into a fresh write database of the run's kind, with nothing reading it. */
  readonly writers: { readonly perSecond: number; readonly first: number; readonly last: number };
  /** The transport alone (see `measureTransport`). */
  readonly publishPerSecond: number;
  readonly readPerSecond: number;
  /** The relay with its defaults, reading and marking a backlog of N outbox rows into an in-memory bus. */
  readonly relayPerSecond: number;
  /** The store's own bulk upsert: N events, 1,000 a call, into a fresh store of the run's kind. */
  readonly upsertPerSecond: number;
}

export async function measureCeilings(
  config: BenchConfig,
  plan: readonly Change[],
  events: readonly ChangeEvent[],
  settings: { readonly kafka: BenchKafka | undefined; readonly host: string },
  logger: Logger,
): Promise<Ceilings> {
  const writers = await writersAlone(config, plan, logger);
  const transport = await measureTransport(config.transport, events, { ...settings, timeoutMs: config.timeoutMs }, logger);
  const relayPerSecond = await relayAlone(config, events.length, logger);
  const upsertPerSecond = await bulkUpsertRate(config.store, events, logger);
  return { writers, ...transport, relayPerSecond, upsertPerSecond };
}

async function writersAlone(config: BenchConfig, plan: readonly Change[], logger: Logger): Promise<Ceilings['writers']> {
  const write = await openBenchWriteDatabase(config.writeDb, config, logger);
  try {
    // As a relay that keeps up leaves it: writers do not notify (on PostgreSQL; see WakeGate).
    await write.capture.wakeGate?.disarm();
    const written = await writeChanges(write.db, plan, config.writers);
    return { perSecond: plan.length / (written.writeMs / 1000), ...written.commitsPerSecond };
  } finally {
    await write.dispose();
  }
}

/** Counts the rows marked published, and notes when the count reaches `rows`. */
function countingMarks(reader: OutboxReader, rows: number, onDrained: () => void): OutboxReader {
  let marked = 0;
  return {
    readBatch: (limit) => reader.readBatch(limit),
    republishSince: (since) => reader.republishSince(since),
    markFailed: (failures) => reader.markFailed(failures),
    async markPublished(published) {
      await reader.markPublished(published);
      marked += published.length;
      if (marked >= rows) onDrained();
    },
  };
}

async function relayAlone(config: BenchConfig, rows: number, logger: Logger): Promise<number> {
  const write = await openBenchWriteDatabase(config.writeDb, config, logger);
  const bus = createInMemoryBus();
  let drainedAt = Number.NaN;
  let drained: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    drained = () => {
      drainedAt = performance.now();
      resolve();
    };
  });
  const relay = createOutboxRelay({ reader: countingMarks(write.capture.outbox, rows, drained), publisher: bus.publisher(), logger, ...defaultRelayBatch, pollIntervalMs: 500 });
  try {
    await fillBacklog(write.db, rows);
    const started = performance.now();
    relay.start();
    await within(done, config.timeoutMs, () => `the relay alone (gave up with ${String(bus.length)} of ${String(rows)} events on the bus)`);
    if (bus.length !== rows) throw new Error(`the relay alone put ${String(bus.length)} events on the bus for ${String(rows)} rows`);
    return rows / ((drainedAt - started) / 1000);
  } finally {
    await relay.stop();
    await write.dispose();
  }
}

/** The store's own bulk upsert: `events`, 1,000 per `applyBatch`, into a fresh store of the kind `kind` names; events/s. */
export async function bulkUpsertRate(kind: BenchStore, events: readonly ChangeEvent[], logger: Logger): Promise<number> {
  const { store, dispose } = await openBenchReadModel(kind, 'bench_ceiling', logger);
  try {
    const started = performance.now();
    for (let i = 0; i < events.length; i += 1_000) await store.applyBatch(events.slice(i, i + 1_000));
    return events.length / ((performance.now() - started) / 1000);
  } finally {
    await dispose();
  }
}
