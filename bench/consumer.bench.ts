import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createLogger, type Logger } from '../common/logger.js';
import { createScope } from '../common/scope.js';
import { wireConsumer } from '../consumer/wiring.js';
import { openTrust } from '../consumer/trust.js';
import type { ReadModelStore } from '../consumer/stores/read-model-store.js';
import type { ChangeEvent } from '../events/envelope.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import { createRedisStreamsPublisher } from '../transports/redis-streams/redis-streams-publisher.js';
import { loadConsumerBenchConfig, type ConsumerBenchConfig } from './config.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, updateResults } from './report.js';
import { openBenchReadModel } from './databases.js';
import { renderConsumerResults } from './results.js';
import { orderEvents } from './workload.js';
import { bulkUpsertRate } from './ceilings.js';

/**
 * The consumer alone, against the ceiling of its store: a backlog of N events in a Redis stream is
 * drained by the consumer as `npm start` wires it (the Redis Streams source, the pipeline, the store),
 * and the same events are upserted into a fresh store of the same kind directly, 1,000 a call (the
 * store's own bulk upsert, what no consumer can beat). The ratio says how much of the store's speed
 * the consumer keeps.
 */

interface RunResult {
  readonly ceilingPerSecond: number;
  readonly consumerPerSecond: number;
  readonly ratio: number;
}

const collection = 'orders';

/** The consumer draining the backlog from Redis into a fresh store; the clock runs from its start to the last apply. */
async function consume(config: ConsumerBenchConfig, events: readonly ChangeEvent[], logger: Logger): Promise<number> {
  const stream = `tweetbus:bench:${String(process.pid)}:${randomUUID()}`;
  const publisher = createRedisStreamsPublisher({ url: config.redisUrl }, { stream, maxLen: events.length * 2, logger });
  const { store, dispose } = await openBenchReadModel(config.store, 'consumer_bench', logger);
  const scope = createScope(logger);
  try {
    for (let i = 0; i < events.length; i += 1_000) await publisher.publish(events.slice(i, i + 1_000));
    let applied = 0;
    let lastApply = Number.NaN;
    let drained: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      drained = resolve;
    });
    const counting: ReadModelStore = {
      ...store,
      async applyBatch(batch) {
        const outcomes = await store.applyBatch(batch);
        applied += batch.length;
        lastApply = performance.now();
        if (applied >= events.length) drained();
        return outcomes;
      },
    };
    const started = performance.now();
    await wireConsumer(
      {
        transport: { kind: 'redis-streams', url: config.redisUrl, stream, group: 'bench', consumerName: 'bench', deadLetterStream: `${stream}:dead`, claimIdleMs: 30_000 },
        store: counting,
        service: { port: 0, host: '127.0.0.1', collections: [collection], trust: openTrust() },
      },
      logger,
      scope,
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`gave up after ${String(config.timeoutMs)} ms: ${String(applied)} of ${String(events.length)} applied`));
        }, config.timeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    return events.length / ((lastApply - started) / 1000);
  } finally {
    await scope.close();
    await publisher.close();
    await dispose();
    await deleteStreams(config.redisUrl, [stream, `${stream}:dead`]);
  }
}

async function main(): Promise<void> {
  const config = loadBenchConfig(loadConsumerBenchConfig);
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'bench', destination: 'stderr' });
  print(`tweetbus consumer benchmark: a Redis Streams backlog of ${String(config.events)} events into the ${config.store.kind} read model, ${String(config.runs)} run(s)`);
  print(`machine: ${machine()}\n`);
  const events = orderEvents(config.events);
  // One untimed round first: the first store a process opens runs cold (its code not yet compiled
  // by the JIT), which made the first run's ceiling up to half the others'.
  const warmUp = events.slice(0, Math.min(events.length, 10_000));
  await bulkUpsertRate(config.store, warmUp, logger);
  await consume(config, warmUp, logger);
  const results: RunResult[] = [];
  for (let run = 1; run <= config.runs; run += 1) {
    const ceilingPerSecond = await bulkUpsertRate(config.store, events, logger);
    const consumerPerSecond = await consume(config, events, logger);
    results.push({ ceilingPerSecond, consumerPerSecond, ratio: consumerPerSecond / ceilingPerSecond });
    print(`run ${String(run)}: store's bulk upsert ${fixed(ceilingPerSecond, 0)} events/s, consumer ${fixed(consumerPerSecond, 0)} events/s (${fixed(100 * consumerPerSecond / ceilingPerSecond, 0)}%)`);
  }
  const median = medianBy(results, (r) => r.ratio);
  print('');
  print(table(['run', 'bulk upsert events/s', 'consumer events/s', 'consumer / ceiling'], results.map((r, i) => [
    `${String(i + 1)}${r === median ? '*' : ''}`, fixed(r.ceilingPerSecond, 0), fixed(r.consumerPerSecond, 0), `${fixed(100 * r.ratio, 0)}%`,
  ])));
  print(`\nmedian (by ratio): the consumer keeps ${fixed(100 * median.ratio, 0)}% of the ${config.store.kind} store's bulk upsert rate`);
  if (config.dryRun) {
    print('\n--dry-run: bench/results.md left unchanged');
    return;
  }
  const path = await updateResults((existing) =>
    renderConsumerResults(existing, {
      date: resultDate(),
      machine: machine(),
      store: config.store.kind,
      events: config.events,
      runs: config.runs,
      ceilingPerSecond: median.ceilingPerSecond,
      consumerPerSecond: median.consumerPerSecond,
    }),
  );
  print(`\nresults added to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
