import type { TwitterApi } from 'twitter-api-v2';
import { defaultExponentialBackoff, sleep, type Backoff } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import type { HashtagMap } from './post-codec.js';
import type { CheckpointStore, EventSource, HealthCheck, InboundMessage } from '../transport.js';
import { createSourceRunner, type PullAdapter, type PulledBatch } from '../source-runner.js';
import { catchUpSinceId, defaultFirstStartCatchUpMs, recentSearchWindowMs, searchSince } from './catch-up.js';
import { toInboundMessage, type StreamMessage } from './payloads.js';
import { isPostId, maxId, snowflakeAt } from './snowflake.js';
import { openFilteredStream, StreamHttpError, type StreamConnection, type StreamEnd } from './stream-reader.js';
import { defaultRuleTagPrefix, ensureStreamRule, streamRuleFor, type StreamRule } from './stream-rules.js';
import { createAppClient, createXEndpoint, type XConnectionOptions, type XEndpoint } from './x-client.js';
import { createReconnectPolicy, defaultXReconnectBackoff, StreamNetworkError, type XReconnectBackoff } from './reconnect-policy.js';

export interface XSourceOptions extends XConnectionOptions {
  /** The app-only bearer token. Required unless `client` is given (the stream still needs it). */
  readonly bearerToken: string;
  /** An app-only client built by the caller (it keeps ownership); otherwise one is built here. */
  readonly client?: TwitterApi | undefined;
  readonly hashtags: HashtagMap;
  readonly checkpoints: CheckpointStore;
  readonly checkpointName: string;
  readonly logger: Logger;
  readonly now?: (() => Date) | undefined;
  /** Most messages per handler call. Default 50. */
  readonly batchSize?: number | undefined;
  /** Silence (not even a keep-alive) after which the stream counts as dead. Default 30 s. */
  readonly heartbeatTimeoutMs?: number | undefined;
  /**
   * How far before the checkpoint's post the catch-up search starts. Stream posts can arrive slightly
   * out of id order, so a post older than the checkpoint may still be unhandled. Default 60 s.
   */
  readonly catchUpOverlapMs?: number | undefined;
  /**
   * Without a checkpoint (a first start, or a restart before the first batch was handled), how far
   * back the catch-up searches, so that posts made before the consumer's first apply are not skipped.
   * 0 starts from now. Capped at the 7 days recent search reaches. Default 1 hour.
   */
  readonly firstStartCatchUpMs?: number | undefined;
  readonly reconnectBackoff?: XReconnectBackoff | undefined;
  /** Wait before redelivering a batch whose handler threw. */
  readonly handlerBackoff?: Backoff | undefined;
  /** A connection up this long counts as healthy: the backoff starts over and the next drop reconnects at once. Default 60 s. */
  readonly stableAfterMs?: number | undefined;
  readonly ruleTagPrefix?: string | undefined;
}

export type XSourceState = 'idle' | 'connecting' | 'catchingUp' | 'streaming' | 'waiting' | 'closed';

/** For readiness probes and the demo's display. */
export interface XSourceStatus {
  readonly state: XSourceState;
  readonly connected: boolean;
  readonly checkpoint: string | undefined;
  readonly queued: number;
  readonly reconnects: number;
  readonly lastError: string | undefined;
  readonly lastMessageAt: Date | undefined;
}

/**
 * `start` resolves once the stream is open and the catch-up has begun, or once the first attempt
 * failed (logged; the source keeps retrying and `status()` shows why), so a consumer can serve
 * `/readyz` while X is unreachable. Posts made meanwhile are found by the catch-up, which starts at
 * the checkpoint or, without one, `firstStartCatchUpMs` before the start.
 */
export interface XSource extends EventSource, HealthCheck {
  status(): XSourceStatus;
}

const seenLimit = 10_000;

/** Where X is and how to reach it: the API URL, a CA to trust, the app's bearer token and optionally a client of the caller's. */
export type XSourceConnection = Pick<XSourceOptions, 'apiUrl' | 'ca' | 'requestTimeoutMs' | 'bearerToken' | 'client'>;
/** Everything else the factory takes: the logger (required), names, limits, clocks. */
export type XSourceSettings = Omit<XSourceOptions, 'apiUrl' | 'ca' | 'requestTimeoutMs' | 'bearerToken' | 'client'>;

/**
 * Consumes posts carrying our hashtags from X's filtered stream (app-only bearer token).
 *
 * - On start it ensures the stream rule, then keeps one connection open and reconnects by X's rules.
 * - Every (re)connection first opens the stream, then runs a recent search from the checkpoint and
 *   delivers what it finds, oldest first, before the posts the stream brought meanwhile. So a post made
 *   while the stream was down is found by the search, and one made during the search by the stream.
 *   Recent search covers 7 days: a consumer down longer loses what is older.
 * - The checkpoint is the highest post id whose batch the handler finished. Because X can deliver
 *   slightly out of id order, the search starts `catchUpOverlapMs` before it; repeats are dropped
 *   within one run and made harmless by version gating across runs.
 */
export function createXSource(connection: XSourceConnection, settings: XSourceSettings): XSource {
  const options: XSourceOptions = { ...connection, ...settings };
  const logger = options.logger.child({ component: 'xSource' });
  const now = options.now ?? (() => new Date());
  const batchSize = options.batchSize ?? 50;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 30_000;
  const overlapMs = options.catchUpOverlapMs ?? 60_000;
  const backoff = options.reconnectBackoff ?? defaultXReconnectBackoff();
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  const firstStartCatchUpMs = Math.min(options.firstStartCatchUpMs ?? defaultFirstStartCatchUpMs, recentSearchWindowMs - 120_000);
  const tagPrefix = options.ruleTagPrefix ?? defaultRuleTagPrefix;
  const rule: StreamRule = streamRuleFor(options.hashtags.hashtags, tagPrefix);

  // The stream is read with our own request, so an endpoint (agent) is needed even with a given client.
  const endpoint: XEndpoint = createXEndpoint(options);
  const client: TwitterApi = options.client ?? createAppClient(options.bearerToken, endpoint, options.requestTimeoutMs);

  const queue: InboundMessage[] = [];
  const seen = new Set<string>();
  let holding: InboundMessage[] | undefined;
  let checkpoint: string | undefined;
  let savedCheckpoint: string | undefined;
  /** Without a checkpoint: the id the catch-up starts from (the start time less firstStartCatchUpMs). */
  let floor: string | undefined;
  let state: XSourceState = 'idle';
  let reconnects = 0;
  let lastError: string | undefined;
  let lastMessageAt: Date | undefined;
  let current: StreamConnection | undefined;
  const runner = createSourceRunner({ name: 'X source', logger, handlerBackoff: options.handlerBackoff ?? defaultExponentialBackoff({ initialMs: 500, maxMs: 30_000 }) });
  const { isClosed } = runner;
  let streamLoop: Promise<void> = Promise.resolve();
  let deliveryLoop: Promise<void> = Promise.resolve();
  let wakeDelivery: () => void = () => undefined;

  function enqueue(message: InboundMessage): void {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    if (seen.size > seenLimit) {
      const oldest = seen.values().next();
      if (oldest.done !== true) seen.delete(oldest.value);
    }
    queue.push(message);
    wakeDelivery();
  }

  function onStreamMessage(message: StreamMessage & { data: NonNullable<StreamMessage['data']> }): void {
    const inbound = toInboundMessage(message.data, message.includes, now());
    lastMessageAt = inbound.receivedAt;
    logger.debug({ post: { id: inbound.id, text: inbound.text } }, 'post received from the stream');
    if (holding !== undefined) holding.push(inbound);
    else enqueue(inbound);
  }

  /** Posts made while the stream was down: recent search from the checkpoint (or the floor), queued oldest first. */
  async function catchUp(): Promise<void> {
    const since = catchUpSinceId(checkpoint, floor, { overlapMs, now, logger });
    const found = await searchSince(since, { client, query: rule.value, overlapMs, now, logger, stopped: isClosed });
    const before = queue.length;
    for (const message of found) enqueue(message);
    logger.info({ sinceId: since, found: found.length, queued: queue.length - before }, 'caught up through recent search');
  }

  async function runStream(onFirstAttempt: () => void): Promise<void> {
    const policy = createReconnectPolicy({ backoff, client, logger, now });
    let ruleEnsured = false;

    let firstAttempt = true;
    while (!isClosed()) {
      let wait: number;
      let connection: StreamConnection | undefined;
      try {
        if (!ruleEnsured) {
          await ensureStreamRule(client, rule, logger, tagPrefix);
          ruleEnsured = true;
        }
        state = 'connecting';
        holding = [];
        connection = await openFilteredStream({
          endpoint,
          bearerToken: options.bearerToken,
          heartbeatTimeoutMs,
          onMessage: onStreamMessage,
          onProblem: (problem) => {
            logger.warn({ problem: { reason: problem.reason, line: problem.line.slice(0, 2000) } }, 'ignored a stream line');
          },
        }).catch((err: unknown) => {
          throw err instanceof StreamHttpError ? err : new StreamNetworkError(err);
        });
        current = connection;
        if (isClosed()) {
          connection.close();
          break;
        }
        const connectedAt = now().getTime();
        state = 'catchingUp';
        logger.info({ rule: rule.value }, 'stream connected; catching up');
        if (firstAttempt) {
          firstAttempt = false;
          onFirstAttempt();
        }
        await catchUp();
        const held = holding;
        holding = undefined;
        for (const message of held) enqueue(message);
        state = 'streaming';
        lastError = undefined;
        const end: StreamEnd = await connection.ended;
        current = undefined;
        if (isClosed() || end.reason === 'aborted') break;
        if (now().getTime() - connectedAt >= stableAfterMs) policy.stable();
        lastError = describeEnd(end);
        logger.warn({ reason: end.reason, ...(end.reason === 'error' ? { err: end.error } : {}) }, `stream ended: ${lastError}`);
        wait = policy.afterEnd();
      } catch (err) {
        holding = undefined;
        connection?.close();
        current = undefined;
        if (isClosed()) break;
        const decision = await policy.afterFailure(err);
        wait = decision.waitMs;
        lastError = decision.reason;
        if (decision.ensureRule) ruleEnsured = false;
        if (firstAttempt) {
          firstAttempt = false;
          onFirstAttempt();
        }
      }
      if (isClosed()) break;
      reconnects += 1;
      if (wait > 0) {
        state = 'waiting';
        logger.info({ waitMs: wait }, 'reconnecting after a pause');
        await sleep(wait, runner.signal);
      }
    }
  }

  /** The queue the stream and the catch-up fill, read a batch at a time; the checkpoint moves after each. */
  const delivery: PullAdapter<PulledBatch> = {
    async next() {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          wakeDelivery = resolve;
        });
        wakeDelivery = () => undefined;
        return undefined;
      }
      return { messages: queue.splice(0, batchSize) };
    },
    async settle({ messages }) {
      // Rejected posts are the read model's dead letters; X has no queue of its own for them.
      for (const message of messages) checkpoint = maxId(checkpoint, message.id);
      await saveCheckpoint();
    },
  };

  async function saveCheckpoint(): Promise<void> {
    if (checkpoint === undefined || checkpoint === savedCheckpoint) return;
    const position = checkpoint;
    try {
      await options.checkpoints.save(options.checkpointName, position);
      savedCheckpoint = position;
    } catch (err) {
      logger.warn({ err, checkpoint: position }, 'could not store the checkpoint; will try again with the next batch');
    }
  }

  const isConnected = (): boolean => state === 'streaming' || state === 'catchingUp';

  return {
    async start(handler, hooks) {
      runner.begin(handler, hooks);
      const loaded = await options.checkpoints.load(options.checkpointName);
      if (loaded !== undefined && isPostId(loaded)) {
        checkpoint = loaded;
        savedCheckpoint = loaded;
      } else {
        if (loaded !== undefined) logger.warn({ checkpoint: loaded }, 'ignored a checkpoint that is not a post id');
        floor = snowflakeAt(now().getTime() - firstStartCatchUpMs);
      }
      logger.info({ checkpoint, rule: rule.value }, 'starting');
      deliveryLoop = runner.pull(delivery);
      await new Promise<void>((resolve) => {
        streamLoop = runStream(resolve);
      });
    },
    status() {
      return {
        state,
        connected: isConnected(),
        checkpoint,
        queued: queue.length,
        reconnects,
        lastError,
        lastMessageAt,
      };
    },
    /** Ready while the stream is connected; otherwise the error says what the source is doing. */
    check() {
      if (isConnected()) return Promise.resolve();
      return Promise.reject(new Error(`X source is ${state}${lastError === undefined ? '' : ` (last error: ${lastError})`}`));
    },
    close() {
      return runner.close(async () => {
        current?.close();
        // Aborts a request in flight (a catch-up search X does not answer): nothing waits on X.
        endpoint.close();
        wakeDelivery();
        await streamLoop;
        await deliveryLoop;
        await saveCheckpoint();
        state = 'closed';
        logger.info({ checkpoint }, 'closed');
      });
    },
  };
}

function describeEnd(end: StreamEnd): string {
  switch (end.reason) {
    case 'closed':
      return 'the connection closed';
    case 'stalled':
      return 'no data or keep-alive within the heartbeat timeout';
    case 'disconnect':
      return `X disconnected the stream: ${end.detail}`;
    case 'error':
      return `connection error: ${end.error.message}`;
    case 'aborted':
      return 'closed by us';
  }
}
