import { createScope, type Scope } from '../common/scope.js';
import { notFound, sendProblem } from '../common/http/problem.js';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { choosePgliteTier, openPglite } from '../common/pglite.js';
import type { PGlite } from '@electric-sql/pglite';
import express from 'express';
import { z } from 'zod';
import { closeServer, listen, urlHost } from '../common/http/server.js';
import type { Logger } from '../common/logger.js';
import { sqlFromPglite, type SqlDatabase } from '../common/sql.js';
import type { MessageDecoder } from '../events/decoder.js';
import type { ChangeEvent } from '../events/envelope.js';
import { createHashtagMap } from '../transports/x/post-codec.js';
import { createEventSigner, minimumKeyLength } from '../events/signature.js';
import type { ConsumerService } from '../consumer/service.js';
import { createEmbeddedReadModelStore } from '../consumer/stores/embedded/embedded-read-model-store.js';
import type { ReadModelStore, StoredDocument } from '../consumer/stores/read-model-store.js';
import { trustPolicy, type TrustMode, type TrustPolicy } from '../consumer/trust.js';
import { userIdForName } from '../x-emulator/state.js';
import { applyDemoOrdersSchema, applyOutboxSchema } from '../publisher/capture/postgres/schema.js';
import { defaultRetention } from '../publisher/config.js';
import type { PublisherService } from '../publisher/service.js';
import type { ConsumerTransportConfig, PublisherTransportConfig } from '../transports/config.js';
import type { OpenedPublisher } from '../transports/open.js';
import { wireConsumer } from '../consumer/wiring.js';
import { openPgliteCapture, wirePublisher, type Capture } from '../publisher/wiring.js';
import { defaultFirstStartCatchUpMs } from '../transports/x/catch-up.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import type { EventSource, HealthCheck } from '../transports/transport.js';
import { ConfigError } from '../common/errors.js';
import { redactUrl } from '../common/logger.js';
import { within } from '../common/timeout.js';
import type { PageUser } from '../x-emulator/page.js';
import { certFileName, HandPostError, startXEmulator, type XEmulator, type XEmulatorOptions } from '../x-emulator/server.js';
import type { DemoConfig, DemoTransport } from './config.js';
import { renderDemoPage } from './page.js';
import { tableSideOf } from '../publisher/capture/postgres/table-inventory.js';
import { defaultMaxVersionAheadMs } from '../events/version-clock.js';
import { startDriftWatch, type DriftStatus, type DriftWatch } from '../verify/watch.js';
import { createWriteApp, listOrders } from './write-app.js';

/** The collections the demo replicates. Each one's hashtag is the prefix plus its name: `#orders`. */
export const demoCollections = ['orders'] as const;

export interface DemoUrls {
  readonly writeApp: string;
  readonly publisher: string;
  readonly consumer: string;
  /** Only when the transport is X. */
  readonly xEmulator: string | undefined;
}

export interface Demo {
  readonly urls: DemoUrls;
  readonly hashtag: string;
  /** Which transport carries the events between the publisher and the consumer. */
  readonly transport: DemoTransport['kind'];
  /** The X emulator; only when the transport is X. */
  readonly emulator: XEmulator | undefined;
  readonly writeDb: SqlDatabase;
  /** The read model as the consumer sees it: decorated when `DemoOptions.decorateStore` is given. */
  readonly store: ReadModelStore;
  readonly publisher: PublisherService;
  /** The consumer's source; `check()` resolves once it is connected (for X: the filtered stream is live). */
  readonly source: EventSource & HealthCheck;
  readonly consumer: ConsumerService;
  /** Stops everything in reverse order of start: the ways in first, the databases last. Idempotent. */
  close(): Promise<void>;
}

/**
 * What a caller that embeds the demo (the benchmark) changes about it. `npm start` passes none. The
 * decorators must delegate every call they do not observe: the demo builds, uses and closes the
 * undecorated part as usual.
 */
export interface DemoOptions {
  /** For example quotas raised far above X's, so a benchmark measures the software and not the quota. */
  readonly emulator?: Pick<XEmulatorOptions, 'rateLimits'>;
  /** Wraps the read model the consumer writes to, stores its checkpoint in and the live page reads. */
  readonly decorateStore?: (store: ReadModelStore) => ReadModelStore;
  /** Wraps the decoder the consumer turns posts into events with. */
  readonly decorateDecoder?: (decode: MessageDecoder) => MessageDecoder;
  /** A read model to use in place of the embedded one (the benchmark's PostgreSQL store). The caller closes it. */
  readonly store?: ReadModelStore;
  /** Verify the orders against the read model every few seconds for the live page's badge. Default true; the benchmark turns it off. */
  readonly driftWatch?: boolean;
  /**
   * A write database to use in place of the embedded one (the benchmark's PostgreSQL schema, with
   * `sql/postgres/` applied), with its capture: the write app, the trigger and the relay use it. The
   * read model is then an embedded database of its own unless `store` is given. The caller closes it.
   */
  readonly writeDatabase?: { readonly db: SqlDatabase; readonly capture: Capture };
}

/** What the page shows of the transport: the emulator's posts, or the messages the consumer read lately. */
interface RecentMessage {
  readonly id: string;
  readonly text: string;
  readonly meta: string;
}

const transportLabels: Record<DemoTransport['kind'], string> = { x: 'X', 'redis-streams': 'Redis Streams', kafka: 'Kafka' };

const handPostSchema = z.object({ username: z.string().min(1).max(15), text: z.string().min(1).max(2000) });

/**
 * The whole CQRS loop in one process with no network: the X emulator, the write database (PGlite with
 * the capture trigger), the publisher relaying its outbox to the emulator, the consumer reading the
 * filtered stream into an embedded read model, and the write-side app with a live page.
 *
 * The parts talk to each other exactly as separate processes would (HTTPS to the emulator, the
 * outbox table between the write app and the relay); only the databases are embedded.
 */
/** Where the demo's consumer keeps its place on X. */
const demoCheckpointName = 'demo-consumer';

/** The emulator user whose hand-typed posts apply under `--trust authors` and `signed,authors`; any other name is a stranger. */
export const trustedDemoUser = 'trusted_fan';

/** Who the emulator's hand-post page offers to post as: under an allow-list, one on it and one not. */
function emulatorPageUsers(trust: TrustMode): PageUser[] {
  switch (trust) {
    case 'authors':
    case 'signed,authors':
      return [
        { username: trustedDemoUser, note: 'on the allow-list: applies' },
        { username: 'stranger', note: 'not on it: dead-lettered as an untrusted author' },
      ];
    case 'signed':
      return [{ username: 'speaker', note: 'not the publisher: dead-lettered as not signed' }];
    case 'open':
      return [{ username: 'speaker' }];
  }
}

/**
 * The demo's trust policy. The allow-list holds the publisher's own account (the emulator's owner)
 * and `trusted_fan`, by their account ids, as X_TRUSTED_AUTHOR_IDS would list them.
 */
function demoTrust(config: DemoConfig, emulator: XEmulator | undefined): TrustPolicy {
  const mode = config.trust ?? 'open';
  const authorIds = emulator === undefined ? [] : [emulator.credentials.userId, userIdForName(trustedDemoUser)];
  return trustPolicy(mode, authorIds);
}

/**
 * The demo's signing key: made once, at random, and kept in `DATA_DIR/hmac-key` (readable by the
 * owner only), so posts from an earlier run still verify when the consumer catches up; `--fresh`
 * makes a new one with the rest of the data.
 */
async function demoSigningKey(dataDir: string): Promise<string> {
  const path = join(dataDir, 'hmac-key');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= minimumKeyLength) return existing;
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
  }
  const key = randomBytes(32).toString('base64url');
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  return key;
}

/** The demo's own write database: embedded, with the outbox and `dvx_orders` applied, and its capture. */
export async function openEmbeddedWriteDatabase(path: string, logger: Logger, scope: Scope): Promise<{ db: SqlDatabase; capture: Capture; pglite: PGlite }> {
  const pglite = await openPglite(path, { logger });
  const db = sqlFromPglite(pglite, { owned: true });
  scope.defer(() => db.close());
  await applyOutboxSchema(db);
  await applyDemoOrdersSchema(db);
  return { db, capture: await openPgliteCapture(pglite, db, logger, scope), pglite };
}

export async function startDemo(config: DemoConfig, logger: Logger, options: DemoOptions = {}): Promise<Demo> {
  const log = logger.child({ component: 'demo' });
  if (config.fresh) {
    await rm(config.dataDir, { recursive: true, force: true });
    log.info({ dataDir: config.dataDir }, '--fresh: data directory wiped');
  }
  await mkdir(config.dataDir, { recursive: true });

  // Closed newest first: the ways in, the services, then the databases.
  const scope = createScope(log);

  try {
    const emulator =
      config.transport.kind === 'x'
        ? await startXEmulator({
            port: config.ports.xEmulator,
            host: config.host,
            certDir: emulatorCertDir(config),
            logger,
            rateLimits: options.emulator?.rateLimits,
            pageUsers: emulatorPageUsers(config.trust ?? 'open'),
          })
        : undefined;
    if (emulator !== undefined) scope.defer(() => emulator.close());

    choosePgliteTier(config.pgliteOptimize);
    const write: { db: SqlDatabase; capture: Capture; pglite?: PGlite } =
      options.writeDatabase ?? (await openEmbeddedWriteDatabase(join(config.dataDir, 'write-db'), logger, scope));
    const { db: writeDb, capture, pglite } = write;

    const hashtags = createHashtagMap(demoCollections, config.hashtagPrefix);

    // Publisher: its outbox is the write database's table, which the trigger fills.
    const transports = transportConfigs(config, emulator);
    // The publisher signs every event, the consumer checks: hand-typed posts can never carry the
    // publisher's meta (_v, _e, _s, _t). The key is the demo's own, kept beside its data.
    const signer = createEventSigner(await demoSigningKey(config.dataDir));
    const { service: publisher, transport: outgoing } = await wirePublisher(
      {
        capture,
        transport: transports.publisher,
        collections: demoCollections,
        signer,
        service: {
          port: config.ports.publisher,
          host: config.host,
          collections: demoCollections,
          about: { name: 'tweetbus publisher (demo)', version: '0.1.0', transport: emulator === undefined ? config.transport.kind : 'x (emulator)', outbox: 'embedded write database' },
          retention: { ...defaultRetention, outbox: capture.outbox },
          stuckAfterMs: config.stuckAfterMs.relay,
          ...(config.maxVersionAheadMs === undefined ? {} : { maxVersionAheadMs: config.maxVersionAheadMs }),
        },
        beforeStart: async (outgoing) => {
          if (config.transport.kind !== 'x') await ensureReachable(outgoing, config.transport);
          if (config.fresh && config.transport.kind === 'redis-streams') {
            // The read model starts empty, so the stream and its group do too; Kafka topics are left alone.
            await deleteStreams(config.transport.publisher.url, [config.transport.consumer.stream, config.transport.consumer.deadLetterStream]);
            log.info({ stream: config.transport.consumer.stream }, '--fresh: Redis stream and dead-letter stream deleted');
          }
        },
      },
      logger,
      scope,
    );

    // Consumer: the transport into the read model (embedded, unless the caller brings one): the
    // schema read_model of the same embedded PostgreSQL as the write side, two databases' worth of
    // tables in one instance's memory. A data directory from before keeps its read model apart.
    let baseStore = options.store;
    if (baseStore === undefined) {
      const earlierReadModel = join(config.dataDir, 'read-model');
      const embeddedStore = pglite === undefined || existsSync(join(earlierReadModel, 'PG_VERSION'))
        ? await createEmbeddedReadModelStore({ dataDir: earlierReadModel }, { logger })
        : await createEmbeddedReadModelStore({ pglite }, { logger });
      scope.defer(() => embeddedStore.close());
      baseStore = embeddedStore;
    }
    const store = options.decorateStore?.(baseStore) ?? baseStore;
    const recentMessages: RecentMessage[] = [];
    const recording = (decode: MessageDecoder): MessageDecoder => (message) => {
      recentMessages.unshift({ id: message.id, text: message.text, meta: `${transportLabels[config.transport.kind]} · ${message.id}` });
      recentMessages.length = Math.min(recentMessages.length, 15);
      return decode(message);
    };
    const { consumer, transport: incoming } = await wireConsumer(
      {
        transport: transports.consumer,
        store,
        signer,
        service: {
          port: config.ports.consumer,
          host: config.host,
          collections: demoCollections,
          trust: demoTrust(config, emulator),
          stuckAfterMs: config.stuckAfterMs.consumer,
          ...(config.maxVersionAheadMs === undefined ? {} : { maxVersionAheadMs: config.maxVersionAheadMs }),
        },
        decorateDecoder: (decode) => options.decorateDecoder?.(recording(decode)) ?? recording(decode),
      },
      logger,
      scope,
    );
    const source = incoming.source;
    const recent = (): readonly RecentMessage[] =>
      emulator === undefined ? recentMessages : emulator.recentPosts(15).map((p) => ({ id: p.id, text: p.text, meta: `@${p.username} · post ${p.id}` }));

    const hashtag = hashtags.hashtagFor('orders');
    const driftWatch = options.driftWatch === false ? undefined : await watchOrders(writeDb, store, config, logger);
    if (driftWatch !== undefined) scope.defer(() => driftWatch.close());
    const writeServer = await startWriteSide({ config, logger, writeDb, checkEvent: outgoing.problem, emulator, store, publisher, consumer, hashtag, recent, driftWatch });
    // Its requests are short (a write, or the live page's poll): half a second, then they are cut.
    scope.defer(() => closeServer(writeServer.server, { graceMs: 500 }));

    const urls: DemoUrls = {
      writeApp: writeServer.url,
      publisher: publisher.url,
      consumer: consumer.url,
      xEmulator: emulator?.url,
    };
    log.info({ urls }, 'demo ready');

    return {
      urls,
      hashtag,
      transport: config.transport.kind,
      emulator,
      writeDb,
      store,
      publisher,
      source,
      consumer,
      close: () => scope.close(),
    };
  } catch (err) {
    await scope.close();
    throw err;
  }
}

interface WriteSideOptions {
  readonly config: DemoConfig;
  readonly logger: Logger;
  readonly writeDb: SqlDatabase;
  /** The transport's check: a write whose change could never travel is refused (over X, too long for a post). */
  readonly checkEvent: ((event: ChangeEvent) => string | undefined) | undefined;
  readonly emulator: XEmulator | undefined;
  readonly recent: () => readonly RecentMessage[];
  readonly store: ReadModelStore;
  readonly publisher: PublisherService;
  readonly consumer: ConsumerService;
  readonly hashtag: string;
  readonly driftWatch: DriftWatch | undefined;
}

/** How often the live page's badge verifies the orders, and how long a change in flight may take. */
const driftWatchIntervalMs = 3_000;
const driftWatchSettleMs = 2_000;

/** Verifies dvx_orders against the read model's orders every few seconds (verify/watch.ts). */
async function watchOrders(writeDb: SqlDatabase, store: ReadModelStore, config: DemoConfig, logger: Logger): Promise<DriftWatch> {
  const orders = await tableSideOf(writeDb, 'orders');
  return startDriftWatch({
    table: orders.inventory,
    readModel: store.inventory('orders'),
    resend: orders.resend,
    intervalMs: driftWatchIntervalMs,
    settleMs: driftWatchSettleMs,
    maxAheadMs: config.maxVersionAheadMs ?? defaultMaxVersionAheadMs,
    owner: orders.owner,
    logger,
  });
}

/** The write-side app plus the live page and the two helper routes the page uses. */
async function startWriteSide(options: WriteSideOptions): Promise<{ server: Server; url: string }> {
  const { writeDb, emulator, store, publisher, consumer, hashtag, driftWatch } = options;
  const transportLabel = transportLabels[options.config.transport.kind];
  const app = express();
  app.disable('x-powered-by');

  app.get('/', (_req, res) => {
    res
      .type('text/html; charset=utf-8')
      .send(
        renderDemoPage({
          hashtag,
          transport: transportLabel,
          handPosts: emulator !== undefined,
          trust: options.config.trust ?? 'open',
          trustedUser: trustedDemoUser,
          links: {
            'query API': publicUrl(options.config, options.config.ports.consumer, '/api/orders'),
            ...(emulator === undefined ? {} : { 'X emulator': emulator.url }),
          },
        }),
      );
  });

  app.get('/demo/state', async (_req, res) => {
    const [orders, documents, tombstones, letters, pending, checkpoint] = await Promise.all([
      listOrders(writeDb, 15),
      store.find('orders', {}, { limit: 500 }),
      recentTombstones(writeDb, store, 15),
      store.listDeadLetters({ limit: 100 }),
      writeDb.query('SELECT count(*)::int AS n FROM tweetbus_outbox WHERE published_at IS NULL AND failed_at IS NULL'),
      emulator === undefined ? Promise.resolve(undefined) : store.load(demoCheckpointName),
    ]);
    const deadLetters = letters.slice(0, 5);
    const reasons = new Map(letters.map((l) => [l.messageId, l.reason]));
    // Each post's fate: dead-lettered (with the reason), handled (the consumer's checkpoint is past it:
    // applied, or older than what the read model holds), or still on its way. Over Redis or Kafka the
    // messages shown are the ones the consumer has read.
    const outcomeOf = (id: string): { status: 'dead-lettered'; reason: string } | { status: 'handled' | 'waiting' } => {
      const reason = reasons.get(id);
      if (reason !== undefined) return { status: 'dead-lettered', reason };
      if (emulator === undefined) return { status: 'handled' };
      return checkpoint !== undefined && /^\d+$/.test(checkpoint) && BigInt(checkpoint) >= BigInt(id) ? { status: 'handled' } : { status: 'waiting' };
    };
    const relay = publisher.relay.stats();
    res.json({
      orders,
      transport: transportLabel,
      posts: options.recent().map((p) => ({ ...p, outcome: outcomeOf(p.id) })),
      documents: [...documents, ...tombstones]
        .sort((a, b) => b.appliedAt.localeCompare(a.appliedAt))
        .slice(0, 15)
        .map((d) => ({ id: d.key, version: d.version.toString(), deleted: d.deleted, data: d.data, source: d.source, appliedAt: d.appliedAt })),
      deadLetters,
      outbox: { pending: z.object({ n: z.number() }).parse(pending.rows[0]).n },
      relay: relay.rateLimitedUntil === undefined ? relay.state : `waiting for the X quota until ${relay.rateLimitedUntil}`,
      // A batch retried again and again: the page says which, since when and why (stuck = /readyz fails).
      retrying: { consumer: consumer.retrying() ?? null, relay: publisher.retrying() ?? null },
      drift: driftJson(driftWatch?.status()),
    });
  });

  // The badge's button: sends the drifting orders again from dvx_orders.
  app.post('/demo/heal', async (_req, res) => {
    if (driftWatch === undefined) {
      sendProblem(res, { status: 409, title: 'No drift watch', detail: 'this demo runs without verifying its read model' });
      return;
    }
    const outcome = await driftWatch.heal();
    res.json({ upserts: outcome.upserts, deletes: outcome.deletes, refused: outcome.refused.map((d) => d.key) });
  });

  app.post('/demo/hand-post', express.json({ limit: '8kb' }), async (req, res) => {
    const body = handPostSchema.safeParse(req.body);
    if (!body.success) {
      sendProblem(res, { status: 400, title: 'Invalid post', detail: 'send {"username","text"}' });
      return;
    }
    if (emulator === undefined) {
      sendProblem(res, {
        status: 409,
        title: 'No X here',
        detail: `hand posts go to X; this demo runs over ${transportLabel} (npm start without --transport runs it over X)`,
      });
      return;
    }
    try {
      const post = await emulator.handPost(body.data.username, body.data.text);
      res.status(201).json(post);
    } catch (err) {
      if (!(err instanceof HandPostError)) throw err;
      sendProblem(res, { status: 400, title: 'X refused the post', detail: err.message });
    }
  });

  app.use(createWriteApp({ db: writeDb, logger: options.logger, newId: () => randomUUID().slice(0, 8), checkEvent: options.checkEvent }));
  app.use(notFound());

  const server = createServer(app);
  const port = await listen(server, options.config.ports.writeApp, options.config.host);
  return { server, url: publicUrl(options.config, port, '') };
}

/** The badge's view of the last verify; versions as strings (JSON has no bigint). */
function driftJson(status: DriftStatus | undefined): unknown {
  if (status === undefined) return null;
  return {
    ...status,
    keys: status.keys.map((d) => ({
      key: d.key,
      kind: d.kind,
      tableVersion: d.tableVersion === null ? null : d.tableVersion?.toString(),
      readModelVersion: d.readModelVersion?.toString(),
    })),
  };
}

const outboxKeySchema = z.object({ key: z.string() });

/**
 * The read model's tombstones for the orders the write side deleted most recently, so the page can show
 * a delete arriving. Queries hide tombstones, so the keys come from the outbox's delete rows and each is
 * read with `includeDeleted`; a key inserted again since is live, and already among the documents.
 */
async function recentTombstones(writeDb: SqlDatabase, store: ReadModelStore, limit: number): Promise<StoredDocument[]> {
  const { rows } = await writeDb.query(
    `SELECT aggregateid AS key FROM tweetbus_outbox WHERE aggregatetype = 'orders' AND op = 'delete'
      GROUP BY aggregateid ORDER BY max(seq) DESC LIMIT $1`,
    [limit],
  );
  const stored = await Promise.all(rows.map((row) => store.get('orders', outboxKeySchema.parse(row).key, { includeDeleted: true })));
  return stored.filter((doc): doc is StoredDocument => doc?.deleted === true);
}

function publicUrl(config: DemoConfig, port: number, path: string): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${urlHost(host)}:${port}${path}`;
}

function emulatorCertDir(config: DemoConfig): string {
  return join(config.dataDir, 'x-emulator');
}

/** The services' own transport configuration: for X, pointed at the emulator and its certificate. */
function transportConfigs(config: DemoConfig, emulator: XEmulator | undefined): { publisher: PublisherTransportConfig; consumer: ConsumerTransportConfig } {
  if (config.transport.kind !== 'x') return config.transport;
  if (emulator === undefined) throw new Error('the X transport needs the emulator');
  return emulatorTransportConfigs(emulator, emulatorCertDir(config), config.hashtagPrefix);
}

/** Both services' X transport, pointed at `emulator`, trusting the certificate it wrote into `certDir`. */
export function emulatorTransportConfigs(
  emulator: XEmulator,
  certDir: string,
  hashtagPrefix: string,
): { publisher: Extract<PublisherTransportConfig, { kind: 'x' }>; consumer: Extract<ConsumerTransportConfig, { kind: 'x' }> } {
  const x = { kind: 'x', apiUrl: emulator.url, caFile: join(certDir, certFileName), hashtagPrefix, hashtag: undefined } as const;
  const c = emulator.credentials;
  return {
    publisher: { ...x, credentials: { appKey: c.apiKey, appSecret: c.apiSecret, accessToken: c.accessToken, accessSecret: c.accessSecret } },
    consumer: { ...x, bearerToken: c.bearerToken, checkpointName: demoCheckpointName, firstStartCatchUpMs: defaultFirstStartCatchUpMs },
  };
}

/** The Redis or Kafka the user asked for answers, or the demo stops with a ConfigError saying how to get one. */
async function ensureReachable(opened: OpenedPublisher, transport: Exclude<DemoTransport, { kind: 'x' }>): Promise<void> {
  try {
    await within(opened.check?.check() ?? Promise.resolve(), 10_000, 'no answer in 10 s');
  } catch (err) {
    throw new ConfigError([unreachable(transport, err)]);
  }
}

/** What to do when the demo's Redis or Kafka does not answer: the user asked for it, so say how to get it. */
function unreachable(transport: Exclude<DemoTransport, { kind: 'x' }>, err: unknown): string {
  // The adapters' messages already name the address; keep only the cause.
  const reason = (err instanceof Error ? err.message : String(err)).replace(/^(Redis|Kafka)[^:]* not reachable at [^ ]+: /i, '');
  return transport.kind === 'redis-streams'
    ? `REDIS_URL: Redis is not reachable at ${redactUrl(transport.publisher.url)} (${reason}). Start one (redis-server), point REDIS_URL at one, or run the demo over the X emulator: npm start`
    : `KAFKA_BROKERS: Kafka is not reachable at ${transport.publisher.connection.brokers.join(',')} (${reason}). Start a broker, point KAFKA_BROKERS at one, or run the demo over the X emulator: npm start`;
}
