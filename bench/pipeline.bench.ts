import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger, redactUrl, type Logger } from '../common/logger.js';
import type { SqlDatabase } from '../common/sql.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { ApplyOutcome, ReadModelStore } from '../consumer/stores/read-model-store.js';
import type { DemoConfig } from '../demo/config.js';
import { startDemo, type Demo } from '../demo/demo.js';
import { defaultRateLimits, type RateLimitQuota } from '../x-emulator/server.js';
import { loadConfig, type BenchConfig, type BenchStore } from './config.js';
import type { Capture } from '../publisher/wiring.js';
import { fixed, loadBenchConfig, machine, medianBy, print, resultDate, table, untilHealthy, updateResults } from './report.js';
import { renderResults, type CeilingsResultRow, type ResultRow } from './results.js';
import { benchTransport, describeTransport, openBenchKafka, prepareTransport, raisedPostQuotas, transportLabel, type BenchKafka } from './transports.js';
import { orderEvents, planChanges, writeChanges, type Change } from './workload.js';
import { measureCeilings, type Ceilings } from './ceilings.js';
import { measureServicesAlone, type ServicesAlone } from './services.js';
import { openBenchWriteDatabase, openPostgresReadModel } from './databases.js';

const mib = 1024 * 1024;
const host = '127.0.0.1';
const sampleEveryMs = 50;

// ---- measurements ----------------------------------------------------------------------------------

interface MemoryPeak {
  rss: number;
  heapUsed: number;
}

/** Samples process memory every 50 ms into `peak` until the returned function is called (idempotent). */
function sampleMemory(peak: MemoryPeak): () => void {
  const sample = (): void => {
    const { rss, heapUsed } = process.memoryUsage();
    peak.rss = Math.max(peak.rss, rss);
    peak.heapUsed = Math.max(peak.heapUsed, heapUsed);
  };
  sample();
  let timer: NodeJS.Timeout | undefined = setInterval(sample, sampleEveryMs);
  return () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    sample();
  };
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** The first time `applyBatch` resolved for an event (whatever its outcome), by event id. */
interface Arrival {
  readonly at: number;
  readonly outcome: ApplyOutcome['status'];
}

/**
 * Latency is measured per event, not per document: the read model keeps only the latest version of
 * each key (and its `applied_at` is taken before the write commits, in whole milliseconds), so most
 * versions leave no trace there. Instead the bench wraps the store's `applyBatch` and notes, for every
 * event id, the moment the call that carried it resolved: the store promises the event is durable
 * then, and it is exactly when the consumer moves on. The writer learns the ids of the events its
 * transaction created by reading them back from the outbox inside that same transaction
 * (`tx_id = pg_current_xact_id()`), so the match is exact even with concurrent writers and several
 * versions of one key in flight.
 */
function recordApplies(store: ReadModelStore, arrivals: Map<string, Arrival>, onApplied: (events: readonly ChangeEvent[], outcomes: readonly ApplyOutcome[]) => void): ReadModelStore {
  return {
    async applyBatch(events) {
      const outcomes = await store.applyBatch(events);
      const at = performance.now();
      events.forEach((event, i) => {
        if (!arrivals.has(event.id)) arrivals.set(event.id, { at, outcome: outcomes[i]?.status ?? 'applied' });
      });
      onApplied(events, outcomes);
      return outcomes;
    },
    get: (collection, key, options) => store.get(collection, key, options),
    find: (collection, filter, options) => store.find(collection, filter, options),
    inventory: (collection) => store.inventory(collection),
    load: (name) => store.load(name),
    save: (name, position) => store.save(name, position),
    putDeadLetter: (letter) => store.putDeadLetter(letter),
    listDeadLetters: (options) => store.listDeadLetters(options),
    check: () => store.check(),
    close: () => store.close(),
  };
}

/** Counts the messages (posts, or stream entries) the consumer decoded. */
function countMessages(decode: MessageDecoder, counter: { messages: number }): MessageDecoder {
  return (message) => {
    counter.messages += 1;
    return decode(message);
  };
}

// ---- one run -----------------------------------------------------------------------------------------

interface RunResult {
  readonly events: number;
  readonly keys: number;
  readonly inserts: number;
  readonly updates: number;
  readonly eventsPerSecond: number;
  /** First commit to last commit. */
  readonly writeMs: number;
  /** The writers' commits/s in the first and last tenth of the run. */
  readonly commitsPerSecond: { readonly first: number; readonly last: number };
  /** First commit to last apply. */
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Posts the relay made; only over X. */
  readonly posts: number | undefined;
  readonly messagesDecoded: number;
  readonly applied: number;
  readonly skipped: number;
  readonly deadLetters: number;
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
  readonly setupMs: number;
}

/** Resolves once `isDone` holds, re-checked whenever `notify` is called; rejects after `timeoutMs`. */
function waitUntil(isDone: () => boolean, timeoutMs: number, describe: () => string): { promise: Promise<void>; notify: () => void } {
  let notify: () => void = () => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`gave up after ${timeoutMs} ms: ${describe()}`));
    }, timeoutMs);
    notify = () => {
      if (!isDone()) return;
      clearTimeout(timer);
      resolve();
    };
  });
  notify();
  return { promise, notify };
}

/** Runs every step, even after one fails; a failure is logged, since the run's own result matters more. */
async function cleanUp(steps: readonly (() => Promise<void>)[], logger: Logger): Promise<void> {
  for (const step of steps) {
    const [result] = await Promise.allSettled([step()]);
    if (result.status === 'rejected') logger.warn({ err: result.reason }, 'the bench could not clean up after a run');
  }
}

function describeStore(store: BenchStore): string {
  return store.kind === 'embedded' ? 'embedded (PGlite)' : `postgres (${redactUrl(store.databaseUrl)}, a schema per run)`;
}

/** X's real quota on posting, from the emulator's own table of X's limits. */
function realPostQuota(): RateLimitQuota | undefined {
  return defaultRateLimits.createTweet.find((q) => q.scope === 'user' && q.header === 'x-rate-limit');
}

async function runOnce(config: BenchConfig, plan: readonly Change[], run: number, logger: Logger, kafka: BenchKafka | undefined): Promise<RunResult> {
  const setupStarted = performance.now();
  // From before setup to convergence: the peak includes starting the embedded databases.
  const runPeak: MemoryPeak = { rss: 0, heapUsed: 0 };
  const stopSampling = sampleMemory(runPeak);
  const dataDir = await mkdtemp(join(tmpdir(), 'tweetbus-bench-'));

  // Convergence: the latest applied version per key, against the final versions once writing ends.
  const arrivals = new Map<string, Arrival>();
  const latest = new Map<string, bigint>();
  const behind = new Set<string>();
  // Both are set once writing has finished.
  const watch: { finals?: Map<string, bigint>; converged?: { promise: Promise<void>; notify: () => void } } = {};
  const counter = { messages: 0 };
  // Far above N posts, so the quota never interferes (see the note printed at start).
  const quota = Math.max(1_000_000, config.events * 10);

  // Run in this order after the run, whatever happened: the demo first, then what it used.
  const cleanups: (() => Promise<void>)[] = [];
  let demo: Demo | undefined;
  try {
    // The demo's own wiring, on free ports in a throwaway directory, with the bench's probes attached.
    const demoConfig: DemoConfig = {
      dataDir,
      fresh: false,
      host,
      ports: { writeApp: 0, publisher: 0, consumer: 0, xEmulator: 0 },
      logLevel: config.logLevel,
      pgliteOptimize: config.pgliteOptimize,
      hashtagPrefix: '',
      stuckAfterMs: { consumer: 60_000, relay: 60_000 },
      transport: benchTransport(config.transport, String(run), kafka),
    };
    cleanups.push(await prepareTransport(demoConfig.transport, kafka, logger));
    let writeDatabase: { db: SqlDatabase; capture: Capture } | undefined;
    if (config.writeDb === 'postgres') {
      const write = await openBenchWriteDatabase('postgres', config, logger);
      cleanups.push(() => write.dispose());
      writeDatabase = write;
    }
    let readModel: ReadModelStore | undefined;
    if (config.store.kind === 'postgres') {
      const postgres = await openPostgresReadModel(config.store.databaseUrl, 'pipeline_bench', logger);
      cleanups.push(() => postgres.dispose());
      readModel = postgres.store;
    }
    demo = await startDemo(
      demoConfig,
      logger,
      {
        emulator: {
          rateLimits: raisedPostQuotas(quota),
        },
        // The live page's verify would scan the tables the bench is timing.
        driftWatch: false,
        decorateStore: (store) =>
          recordApplies(store, arrivals, (events, outcomes) => {
            events.forEach((event, i) => {
              if (outcomes[i]?.status !== 'applied') return;
              const before = latest.get(event.key);
              if (before === undefined || before < event.version) latest.set(event.key, event.version);
              const target = watch.finals?.get(event.key);
              if (target !== undefined && event.version >= target) behind.delete(event.key);
            });
            watch.converged?.notify();
          }),
        decorateDecoder: (decode) => countMessages(decode, counter),
        ...(readModel === undefined ? {} : { store: readModel }),
        ...(writeDatabase === undefined ? {} : { writeDatabase }),
      },
    );
    const { emulator, writeDb, publisher, source, store } = demo;
    await untilHealthy(() => source.check(), 30_000, `the ${config.transport.kind} source to connect`);
    const setupMs = performance.now() - setupStarted;

    // ---- the measured part ----
    const written = await writeChanges(writeDb, plan, config.writers, config.pace);
    const commits = [...written.commits.values()];
    const finals = new Map<string, bigint>();
    for (const c of commits) {
      const before = finals.get(c.key);
      if (before === undefined || before < c.version) finals.set(c.key, c.version);
    }
    watch.finals = finals;
    for (const [key, version] of finals) {
      const seen = latest.get(key);
      if (seen === undefined || seen < version) behind.add(key);
    }
    const converged = waitUntil(
      () => behind.size === 0,
      config.timeoutMs,
      () => `${behind.size} of ${finals.size} keys still behind; ${arrivals.size} of ${commits.length} events applied; relay ${JSON.stringify(publisher.relay.stats())}`,
    );
    watch.converged = converged;
    await converged.promise;
    stopSampling();

    // Cross-check with the read model itself, not only with what the decorator saw (`recordApplies`
    // passes reads straight through).
    const documents = await store.find('orders', {}, { limit: finals.size + 1 });
    const stored = new Map(documents.map((d) => [d.key, d.version]));
    const wrong = [...finals].filter(([key, version]) => stored.get(key) !== version);
    if (wrong.length > 0 || stored.size !== finals.size) {
      throw new Error(`the read model disagrees with the write database for ${wrong.length} keys (${stored.size} documents, ${finals.size} keys)`);
    }

    const firstCommit = Math.min(...commits.map((c) => c.at));
    const lastCommit = Math.max(...commits.map((c) => c.at));
    const latencies: number[] = [];
    let lastApply = firstCommit;
    let applied = 0;
    let skipped = 0;
    for (const [id, commit] of written.commits) {
      const arrival = arrivals.get(id);
      if (arrival === undefined) continue;
      latencies.push(arrival.at - commit.at);
      lastApply = Math.max(lastApply, arrival.at);
      if (arrival.outcome === 'applied') applied += 1;
      else skipped += 1;
    }
    latencies.sort((a, b) => a - b);
    const totalMs = lastApply - firstCommit;
    const posts = emulator?.recentPosts(Number.MAX_SAFE_INTEGER).filter((p) => p.author_id === emulator.credentials.userId).length;
    const deadLetters = (await store.listDeadLetters({ limit: 1000 })).length;

    return {
      events: commits.length,
      keys: finals.size,
      inserts: written.inserts,
      updates: written.updates,
      eventsPerSecond: commits.length / (totalMs / 1000),
      writeMs: lastCommit - firstCommit,
      commitsPerSecond: written.commitsPerSecond,
      totalMs,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      posts,
      messagesDecoded: counter.messages,
      applied,
      skipped,
      deadLetters,
      peakRssMiB: runPeak.rss / mib,
      peakHeapMiB: runPeak.heapUsed / mib,
      setupMs,
    };
  } finally {
    stopSampling();
    const started = demo;
    await cleanUp([...(started === undefined ? [] : [() => started.close()]), ...cleanups.reverse(), () => rm(dataDir, { recursive: true, force: true })], logger);
  }
}

// ---- reporting ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const config = loadBenchConfig(loadConfig);
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'bench', destination: 'stderr' });
  const quota = realPostQuota();
  const realLimit = quota === undefined ? 'a quota' : `${quota.limit} posts / ${quota.windowMs / 60_000} min per user`;

  const overX = config.transport.kind === 'x';
  print(`tweetbus pipeline benchmark: ${config.events} row changes per run, ${config.runs} run(s), ${config.writers} writers${config.pace === undefined ? '' : `, paced at ${String(config.pace)} changes/s`}`);
  const kafka = config.transport.kind === 'kafka' ? await openBenchKafka(config.transport) : undefined;
  print(`transport: ${describeTransport(config.transport, kafka)}; store: ${describeStore(config.store)}`);
  print(`machine: ${machine()}`);
  if (overX) {
    print(
      `note: the emulator's post quota is raised for this bench. Real X allows ${realLimit}; there the relay\n` +
        `      would wait out the quota (events wait in the outbox). This measures the software, not X's quota.`,
    );
  }
  print('');

  const peak: MemoryPeak = { rss: 0, heapUsed: 0 };
  const results: RunResult[] = [];
  const ceilings: Ceilings[] = [];
  const plan = planChanges(config.events);
  const events = orderEvents(config.events);
  try {
    for (let run = 1; run <= config.runs; run += 1) {
      const result = await runOnce(config, plan, run, logger, kafka);
      results.push(result);
      peak.rss = Math.max(peak.rss, result.peakRssMiB * mib);
      peak.heapUsed = Math.max(peak.heapUsed, result.peakHeapMiB * mib);
      print(
        `run ${run}: ${fixed(result.eventsPerSecond)} events/s, p50 ${fixed(result.p50Ms)} ms, p99 ${fixed(result.p99Ms)} ms, ` +
          `${result.posts === undefined ? `${result.messagesDecoded} messages` : `${result.posts} posts`}, peak RSS ${fixed(result.peakRssMiB, 0)} MiB (setup ${fixed(result.setupMs, 0)} ms)`,
      );
      const alone = await measureCeilings(config, plan, events, { kafka, host }, logger);
      ceilings.push(alone);
      print(
        `       alone: writers ${fixed(alone.writers.perSecond, 0)} commits/s, publish ${fixed(alone.publishPerSecond, 0)}, read ${fixed(alone.readPerSecond, 0)}, ` +
          `relay ${fixed(alone.relayPerSecond, 0)}, bulk upsert ${fixed(alone.upsertPerSecond, 0)} events/s`,
      );
    }
  } finally {
    await kafka?.stop();
  }

  const median = medianBy(results, (r) => r.eventsPerSecond);

  print('');
  print(
    table(
      ['run', 'events', 'keys', 'ins/upd', 'events/s', 'write ms', 'commits/s first/last 10%', 'total ms', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'posts', 'ev/post', 'messages', 'stale', 'RSS MiB', 'heap MiB'],
      results.map((r, i) => [
        `${i + 1}${r === median ? '*' : ''}`,
        String(r.events),
        String(r.keys),
        `${r.inserts}/${r.updates}`,
        fixed(r.eventsPerSecond),
        fixed(r.writeMs, 0),
        `${fixed(r.commitsPerSecond.first, 0)} / ${fixed(r.commitsPerSecond.last, 0)} (${fixed((100 * r.commitsPerSecond.last) / r.commitsPerSecond.first, 0)}%)`,
        fixed(r.totalMs, 0),
        fixed(r.p50Ms),
        fixed(r.p90Ms),
        fixed(r.p99Ms),
        fixed(r.maxMs),
        r.posts === undefined ? '-' : String(r.posts),
        r.posts === undefined ? '-' : fixed(r.events / r.posts, 2),
        String(r.messagesDecoded),
        String(r.skipped),
        fixed(r.peakRssMiB, 0),
        fixed(r.peakHeapMiB, 0),
      ]),
    ),
  );
  print('* the median run (by events/s)');
  const { posts } = median;
  print(
    `\nmedian (transport ${transportLabel(config.transport, kafka)}, store ${config.store.kind}): ${fixed(median.eventsPerSecond)} events/s, ` +
      `commit-to-applied p50 ${fixed(median.p50Ms)} ms, p99 ${fixed(median.p99Ms)} ms; ` +
      `peak over all runs: RSS ${fixed(peak.rss / mib, 0)} MiB, heap ${fixed(peak.heapUsed / mib, 0)} MiB; ` +
      (posts === undefined ? '' : `${posts} posts for ${median.events} events (${fixed(median.events / posts, 2)} events per post); `) +
      `${median.messagesDecoded} messages decoded, ${median.deadLetters} dead letters`,
  );
  if (quota !== undefined && posts !== undefined) {
    const waits = Math.ceil(posts / quota.limit) - 1;
    print(
      waits === 0
        ? `on real X these ${posts} posts fit in one quota window (${realLimit}).`
        : `on real X these ${posts} posts would wait out the quota ${waits} time(s): at least ${waits * (quota.windowMs / 60_000)} min ` +
            `(${realLimit}), whatever the software does.`,
    );
  }

  const medianOf = (values: readonly number[]): number => medianBy(values, (v) => v);
  // Each service alone, once: over Redis Streams, where nothing but a Redis is needed besides them.
  let services: ServicesAlone | undefined;
  if (config.transport.kind === 'redis-streams') {
    services = await measureServicesAlone(config.transport.url, events, config.timeoutMs);
    print(
      `\neach service alone (embedded store, over Redis), resident MiB when ready (peak after ${config.events} events): ` +
        `publisher ${fixed(services.publisher.readyMiB, 0)} (${fixed(services.publisher.peakMiB, 0)}), consumer ${fixed(services.consumer.readyMiB, 0)} (${fixed(services.consumer.peakMiB, 0)})`,
    );
  } else {
    print('\neach service alone: measured over Redis Streams only (--transport redis-streams)');
  }
  const date = resultDate();
  const label = transportLabel(config.transport, kafka);
  const beside: CeilingsResultRow = {
    date,
    machine: machine(),
    transport: label,
    store: config.store.kind,
    writeDb: config.writeDb,
    events: config.events,
    pace: config.pace,
    runs: config.runs,
    pipelinePerSecond: median.eventsPerSecond,
    writersInRun: {
      perSecond: medianOf(results.map((r) => r.events / (r.writeMs / 1000))),
      first: medianOf(results.map((r) => r.commitsPerSecond.first)),
      last: medianOf(results.map((r) => r.commitsPerSecond.last)),
    },
    writersAlonePerSecond: medianOf(ceilings.map((c) => c.writers.perSecond)),
    publishPerSecond: medianOf(ceilings.map((c) => c.publishPerSecond)),
    readPerSecond: medianOf(ceilings.map((c) => c.readPerSecond)),
    relayPerSecond: medianOf(ceilings.map((c) => c.relayPerSecond)),
    upsertPerSecond: medianOf(ceilings.map((c) => c.upsertPerSecond)),
    services,
  };
  const share = (ceiling: number): string => `${fixed(ceiling, 0)}/s (pipeline ${fixed((100 * median.eventsPerSecond) / ceiling, 0)}%)`;
  print(
    `\neach part alone (medians): writers ${share(beside.writersAlonePerSecond)}, transport publish ${share(beside.publishPerSecond)}, ` +
      `read ${share(beside.readPerSecond)}, relay ${share(beside.relayPerSecond)}, bulk upsert ${share(beside.upsertPerSecond)}`,
  );
  print(
    `writers during the pipeline: ${fixed(beside.writersInRun.perSecond, 0)} commits/s, first tenth ${fixed(beside.writersInRun.first, 0)}, ` +
      `last tenth ${fixed(beside.writersInRun.last, 0)} (${fixed((100 * beside.writersInRun.last) / beside.writersInRun.first, 0)}%); ` +
      `the pipeline keeps ${fixed((100 * median.eventsPerSecond) / beside.writersInRun.perSecond, 0)}% of their pace`,
  );

  if (config.dryRun) {
    print('\n--dry-run: bench/results.md left unchanged');
    return;
  }
  const row: ResultRow = {
    date,
    machine: machine(),
    transport: label,
    store: config.store.kind,
    events: config.events,
    pace: config.pace,
    runs: config.runs,
    eventsPerSecond: median.eventsPerSecond,
    p50Ms: median.p50Ms,
    p99Ms: median.p99Ms,
    peakRssMiB: peak.rss / mib,
    posts,
  };
  const path = await updateResults((existing) => renderResults(existing, row, beside));
  print(`\nresults appended to ${path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
