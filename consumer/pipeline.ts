import { StoreRefusedError, TweetbusError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { MessageDecoder } from '../events/decoder.js';
import { defaultMaxVersionAheadMs, versionAheadProblem } from '../events/version-clock.js';
import type { BatchResult, InboundMessage, MessageHandler, Rejection } from '../transports/transport.js';
import type { ApplyOutcome, DeadLetter, ReadModelStore } from './stores/read-model-store.js';
import { createConsumerStats, type ConsumerStats } from './stats.js';
import type { TrustPolicy } from './trust.js';

export interface ConsumerPipelineOptions {
  readonly decode: MessageDecoder;
  readonly trust: TrustPolicy;
  readonly store: ReadModelStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Names the transport in dead letters (`x`, `kafka`, `in-memory`). */
  readonly transportName: string;
  /** Counters for `/api/_stats`; a private set is used when absent. */
  readonly stats?: ConsumerStats;
  /**
   * VERSION_MAX_AHEAD_MS: how far past this consumer's clock a version may stand (versions share X's
   * snowflake scale, events/version-clock.ts). A version further ahead would hold its key against
   * every later change until that time comes, so it is dead-lettered. Default one hour.
   */
  readonly maxVersionAheadMs?: number;
}

/** Raw text kept in a dead letter. Posts are far shorter; this bounds what other transports can make us store. */
export const maxDeadLetterTextLength = 64 * 1024;

type Verdict =
  | { readonly ok: true; readonly events: readonly ChangeEvent[]; readonly handTyped: boolean }
  | { readonly ok: false; readonly reason: string };

/**
 * The handler, and `prepare`: trust, decoding and validation of a batch worked out ahead, while the
 * batch before it waits on the store (the source calls it on a batch it fetched ahead). They are
 * pure functions of the message, so working them out a few milliseconds early changes nothing.
 */
export type ConsumerPipeline = MessageHandler & { readonly prepare: (messages: readonly InboundMessage[]) => void };

/** A message that passed trust and validation, with the events it decoded to. */
interface Accepted {
  readonly message: InboundMessage;
  readonly events: readonly ChangeEvent[];
}

interface Applied {
  readonly outcomes: readonly { readonly event: ChangeEvent; readonly outcome: ApplyOutcome }[];
  /** Messages the store refused, found by splitting, with the store's reason. */
  readonly refused: readonly Rejection[];
}

/**
 * The consumer's core: trust -> decode (which validates and checks signatures) -> trust again (was
 * it signed?) -> the rules for hand-typed posts -> one version-gated `applyBatch` per
 * batch. Rejected messages become dead letters in the store, and are returned so the source can put
 * them on the transport's dead-letter queue; they never stop the batch (docs/design-notes.md, rule 6).
 *
 * The schema refuses what no store can hold, so a store should never refuse an event; when one
 * does anyway (`StoreRefusedError`), the batch is split in halves, in order, until the refused
 * message is alone: it is dead-lettered with the store's reason, and the rest are applied. A
 * message is the unit, so a post's events are applied all together or not at all.
 *
 * The handler resolves only after the dead letters and the applied events are durable, so the
 * source may then move its checkpoint (rule 4). Any other store failure propagates untouched: the
 * source redelivers the batch, the version gate makes the repeat harmless, and a transient failure
 * is never mistaken for bad input. The source's delivery loop (transports/source-runner.ts) counts
 * every such failure, so a batch retried for too long shows in `/readyz`.
 */
export function createConsumerPipeline(options: ConsumerPipelineOptions): ConsumerPipeline {
  const { decode, trust, store, now, transportName } = options;
  const maxAheadMs = options.maxVersionAheadMs ?? defaultMaxVersionAheadMs;
  const logger = options.logger.child({ component: 'consumerPipeline' });
  const stats = options.stats ?? createConsumerStats();

  /** Verdicts worked out ahead (`prepare`), taken once by the delivery of their message. */
  const judgedAhead = new WeakMap<InboundMessage, Verdict>();

  function verdictOf(message: InboundMessage): Verdict {
    const early = judgedAhead.get(message);
    if (early === undefined) return judge(message);
    judgedAhead.delete(message);
    return early;
  }

  function judge(message: InboundMessage): Verdict {
    const decision = trust.admit(message);
    if (!decision.ok) return { ok: false, reason: decision.reason };
    try {
      const decoded = decode(message);
      // Decoders give well-formed reasons; a lone surrogate that slipped into one is made U+FFFD here,
      // so the dead letter says the same on every store and dead-letter queue.
      if (!decoded.ok) return { ok: false, reason: decoded.reason.toWellFormed() };
      const signed = decoded.signed === true;
      const afterDecoding = trust.admitDecoded(message, signed);
      if (!afterDecoding.ok) return { ok: false, reason: afterDecoding.reason };
      const ahead = futureVersionProblem(decoded.events, now(), maxAheadMs);
      if (ahead !== undefined) return { ok: false, reason: ahead };
      // An X post the publisher did not sign was typed by a person (the codec already refused the
      // publisher's meta in it). Messages of the other transports come from the publisher's side.
      return { ok: true, events: decoded.events, handTyped: message.author !== undefined && !signed };
    } catch (err) {
      // Decoders promise not to throw; if one does, the input is still what we cannot handle.
      logger.error({ err, messageId: message.id }, 'decoder threw; dead-lettering the message');
      return { ok: false, reason: `decoder failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  /** Applies the messages' events in order; a refused batch is split until the refused message is alone. */
  async function applyIsolating(accepted: readonly Accepted[]): Promise<Applied> {
    const events = accepted.flatMap((a) => a.events);
    if (events.length === 0) return { outcomes: [], refused: [] };
    try {
      const outcomes = await store.applyBatch(events);
      return { outcomes: outcomes.map((outcome, i) => ({ event: events[i] ?? missing(i), outcome })), refused: [] };
    } catch (err) {
      if (!(err instanceof StoreRefusedError)) throw err;
      const [only] = accepted;
      if (accepted.length === 1 && only !== undefined) return { outcomes: [], refused: [{ message: only.message, reason: err.message }] };
      logger.warn({ err, messages: accepted.length, firstId: accepted[0]?.message.id }, 'the read model refused a batch; splitting it to find the message');
      const middle = Math.ceil(accepted.length / 2);
      const first = await applyIsolating(accepted.slice(0, middle));
      const second = await applyIsolating(accepted.slice(middle));
      return { outcomes: [...first.outcomes, ...second.outcomes], refused: [...first.refused, ...second.refused] };
    }
  }

  /**
   * Who owns each document the batch's hand-typed posts touch: the source of what the store holds,
   * then of what the batch itself will write ahead of them (events apply in order).
   */
  async function handTypedProblems(verdicts: readonly { message: InboundMessage; verdict: Verdict }[]): Promise<Map<InboundMessage, string>> {
    const problems = new Map<InboundMessage, string>();
    if (!verdicts.some(({ verdict }) => verdict.ok && verdict.handTyped)) return problems;
    const owners = new Map<string, string | undefined>();
    const ownerOf = async (event: ChangeEvent): Promise<string | undefined> => {
      const id = `${event.collection}/${event.key}`;
      if (!owners.has(id)) owners.set(id, (await store.get(event.collection, event.key, { includeDeleted: true }))?.source);
      return owners.get(id);
    };
    for (const { message, verdict } of verdicts) {
      if (!verdict.ok) continue;
      if (verdict.handTyped) {
        let problem: string | undefined;
        for (const event of verdict.events) {
          problem = handTypedProblem(event, await ownerOf(event), trust.trustedAuthor(message));
          if (problem !== undefined) break;
        }
        if (problem !== undefined) {
          problems.set(message, problem);
          continue;
        }
      }
      for (const event of verdict.events) owners.set(`${event.collection}/${event.key}`, event.source);
    }
    return problems;
  }

  async function handle(batch: readonly InboundMessage[]): Promise<BatchResult> {
    const accepted: Accepted[] = [];
    const rejected: Rejection[] = [];
    const verdicts = batch.map((message) => ({ message, verdict: verdictOf(message) }));
    const refusedHandPosts = await handTypedProblems(verdicts);
    for (const { message, verdict } of verdicts) {
      const handProblem = refusedHandPosts.get(message);
      if (!verdict.ok) rejected.push({ message, reason: verdict.reason });
      else if (handProblem !== undefined) rejected.push({ message, reason: handProblem });
      else accepted.push({ message, events: verdict.events });
    }

    const applied = await applyIsolating(accepted);
    rejected.push(...applied.refused);
    for (const { message, reason } of rejected) {
      await store.putDeadLetter(deadLetterFor(message, reason, transportName));
      logger.warn({ ...untrustedText(message), reason }, 'message rejected; dead-lettered');
    }

    const counts = { applied: 0, skipped: 0, deadLettered: rejected.length };
    for (const { event, outcome } of applied.outcomes) {
      if (outcome.status === 'applied') counts.applied += 1;
      else counts.skipped += 1;
      logger.debug({ collection: event.collection, key: event.key, version: event.version.toString(), eventId: event.id, outcome }, 'event handled');
    }
    stats.recordBatch(counts, now());

    const summary = { messages: batch.length, events: applied.outcomes.length, ...counts };
    if (counts.applied > 0 || counts.deadLettered > 0) logger.info(summary, 'batch handled');
    else logger.debug(summary, 'batch handled');
    // The store keeps its own copy for the query API; a transport with a dead-letter queue also gets them.
    return { rejected };
  }

  const handler: MessageHandler = async (batch) => (batch.length === 0 ? { rejected: [] } : handle(batch));
  return Object.assign(handler, {
    prepare: (messages: readonly InboundMessage[]) => {
      for (const message of messages) if (!judgedAhead.has(message)) judgedAhead.set(message, judge(message));
    },
  });
}

/**
 * Why a message claims the far future, or `undefined` when none of its versions stands more than
 * `maxAheadMs` past `now`. Versions and post ids share one clock, so a version is a time.
 */
function futureVersionProblem(events: readonly ChangeEvent[], now: Date, maxAheadMs: number): string | undefined {
  for (const event of events) {
    const problem = versionAheadProblem(event.version, now, maxAheadMs);
    if (problem !== undefined) {
      return `version ${event.version.toString()} of ${event.collection}/${event.key} ${problem} this consumer's clock (VERSION_MAX_AHEAD_MS); it would hold the key against every change until then`;
    }
  }
  return undefined;
}

/** The source of documents written by hand-typed posts: `x:@<username>` or `x:<author id>`. */
const handTypedSource = /^x:/;

/**
 * Why a hand-typed post may not write this event, or `undefined` when it may. The write database
 * owns the documents it made (their source is not `x:…`), tombstones included.
 * - A stranger's post never changes them, and never deletes anything: a stranger's tombstone would
 *   hide other people's documents until someone wrote them again.
 * - A trusted author's post (TRUST=authors or signed,authors) may change them, and may delete
 *   documents made by hand, but not the database's: its rows are deleted in the database, or the read
 *   model would say a row is gone that the write database still holds.
 */
function handTypedProblem(event: ChangeEvent, owner: string | undefined, trustedAuthor: boolean): string | undefined {
  const ownedByDatabase = owner !== undefined && !handTypedSource.test(owner);
  const document = `${event.collection}/${event.key}`;
  if (trustedAuthor) {
    return event.op === 'delete' && ownedByDatabase
      ? `${document} belongs to the write database (source ${JSON.stringify(owner)}); delete the row there, not with a post`
      : undefined;
  }
  if (event.op === 'delete') return 'a hand-typed post may not delete (_op:"d"): delete the row in the write database';
  if (ownedByDatabase) return `${document} belongs to the write database (source ${JSON.stringify(owner)}); a hand-typed post may not change it`;
  return undefined;
}

function missing(index: number): never {
  throw new TweetbusError('store.invalid', `the store returned an outcome for an event it was not given (position ${index})`);
}

function deadLetterFor(message: InboundMessage, reason: string, transport: string): DeadLetter {
  const text =
    message.text.length > maxDeadLetterTextLength ? `${message.text.slice(0, maxDeadLetterTextLength)}…[truncated]` : message.text;
  return {
    messageId: message.id,
    transport,
    text,
    reason,
    ...(message.author === undefined
      ? {}
      : { author: { id: message.author.id, ...(message.author.username === undefined ? {} : { username: message.author.username }) } }),
    receivedAt: message.receivedAt.toISOString(),
  };
}

/** Untrusted text goes under its own key, never spread into the log line. */
function untrustedText(message: InboundMessage): Record<string, unknown> {
  const text = message.text.length > 1024 ? `${message.text.slice(0, 1024)}…` : message.text;
  return message.author === undefined
    ? { message: { id: message.id, text } }
    : { post: { id: message.id, authorId: message.author.id, username: message.author.username, text } };
}
