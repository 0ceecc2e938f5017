import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageDecoder } from '../events/decoder.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { BatchResult, CheckpointStore, EventPublisher, EventSource, InboundMessage } from './transport.js';
import { createInMemoryCheckpointStore } from './in-memory/checkpoint-store.js';
import { aChangeEvent, compareBigints } from '../events/change-event.fixture.js';
import { waitUntil } from '../common/wait.fixture.js';

/**
 * The EventPublisher/EventSource contract, run against every transport. A transport's test file calls
 * `describeTransportContract` with a factory; each test gets a fresh subject and cleans it up.
 */
export interface TransportContractSubject {
  readonly publisher: EventPublisher;
  /**
   * Sources made with the same store and name resume from one another; running at once, they are one
   * consumer group (Kafka group id, Redis Streams group, in-memory group). Each call is a new group member.
   */
  source(options: { checkpoints: CheckpointStore; checkpointName: string }): EventSource;
  readonly decoder: MessageDecoder;
  /** Collections the decoder accepts; test events use the first two. */
  readonly collections: readonly [string, string, ...string[]];
  /**
   * Puts a message on the transport that the decoder must reject, where the events of `collection/key`
   * go (on Kafka: that key's partition), so it is ordered before the event the test sends next: a
   * transport orders only within a key's partition or stream.
   */
  sendPoison(at: { readonly collection: string; readonly key: string }): Promise<void>;
  /**
   * Whether a restarted source may deliver again some of what it handled before it stopped (X's
   * catch-up search starts a little before the checkpoint). Version gating makes such repeats harmless.
   */
  readonly mayRepeatAfterRestart: boolean;
  /**
   * The transport's own dead-letter queue as it holds it now. Absent for X, which has none: a post
   * cannot be moved, so the consumer's store keeps rejected posts (the pipeline's dead letters).
   */
  readonly deadLetters?: () => Promise<readonly TransportDeadLetter[]>;
  /**
   * Whether the members of one group split the messages between them (Kafka partitions, Redis Streams
   * groups). False for X: an app may hold one filtered-stream connection, so a second member waits as
   * a standby (429 TooManyConnections) until the first is gone.
   */
  readonly groupsShareWork: boolean;
  cleanup(): Promise<void>;
}

/** One entry of a transport's dead-letter queue, as the contract checks it. */
export interface TransportDeadLetter {
  /** The rejected message's `InboundMessage.id`. */
  readonly messageId: string;
  readonly reason: string;
  /** The rejected message's text, unchanged. */
  readonly text: string;
}

export type TransportContractFactory = () => Promise<TransportContractSubject>;

/** Everything a source handed its handler, call by call. */
interface Recorder {
  readonly calls: (readonly InboundMessage[])[];
  readonly messages: InboundMessage[];
  /** Decoded events in the order received (repeats included). */
  readonly events: ChangeEvent[];
  readonly rejected: InboundMessage[];
  handle(batch: readonly InboundMessage[]): Promise<BatchResult>;
}

function createRecorder(decoder: MessageDecoder, beforeAccept?: (batch: readonly InboundMessage[]) => void): Recorder {
  const recorder: Recorder = {
    calls: [],
    messages: [],
    events: [],
    rejected: [],
    handle(batch) {
      recorder.calls.push(batch);
      const rejected: BatchResult['rejected'][number][] = [];
      for (const message of batch) {
        recorder.messages.push(message);
        const decoded = decoder(message);
        if (decoded.ok) recorder.events.push(...decoded.events);
        else {
          recorder.rejected.push(message);
          rejected.push({ message, reason: decoded.reason });
        }
      }
      beforeAccept?.(batch);
      return Promise.resolve({ rejected });
    },
  };
  return recorder;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitUntil(what, condition, { timeoutMs, intervalMs: 20 });
}

let sequence = 0;

/** A test event; ids are unique across the run so no two posts ever look alike. */
export function anEvent(collection: string, key: string, version: bigint, data: Record<string, string> = {}): ChangeEvent {
  sequence += 1;
  const id = `evt-${process.pid}-${Date.now()}-${sequence}`;
  return aChangeEvent({
    id,
    source: 'contract-test',
    collection,
    key,
    version,
    data: { id: key, status: `v${version}`, ...data },
    createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, Number(version % 1000n))).toISOString(),
  });
}

const ids = (events: readonly ChangeEvent[]): string[] => events.map((e) => e.id);

export function describeTransportContract(name: string, factory: TransportContractFactory): void {
  describe(`transport contract: ${name}`, () => {
    let subject: TransportContractSubject;
    const sources: EventSource[] = [];
    const start = async (source: EventSource, recorder: Recorder): Promise<EventSource> => {
      sources.push(source);
      await source.start((batch) => recorder.handle(batch));
      return source;
    };

    beforeEach(async () => {
      subject = await factory();
    });

    afterEach(async () => {
      await Promise.allSettled(sources.splice(0).map((s) => s.close()));
      await subject.cleanup();
    });

    it('delivers published events in per-key order, and they decode back to equal events', async () => {
      const [orders, customers] = subject.collections;
      const recorder = createRecorder(subject.decoder);
      await start(subject.source({ checkpoints: createInMemoryCheckpointStore(), checkpointName: 'c' }), recorder);

      const first = [anEvent(orders, 'o1', 1n), anEvent(orders, 'o2', 1n), anEvent(customers, 'c1', 1n)];
      const second = [anEvent(orders, 'o1', 2n), anEvent(customers, 'c1', 2n), anEvent(orders, 'o1', 3n, { note: 'Smith & Sons <UK>' })];
      await subject.publisher.publish(first);
      await subject.publisher.publish(second);
      const published = [...first, ...second];

      await waitFor('every event', () => published.every((e) => ids(recorder.events).includes(e.id)));
      for (const event of published) {
        expect(recorder.events.find((e) => e.id === event.id)).toEqual(event);
      }
      for (const key of ['o1', 'o2', 'c1']) {
        const versions = recorder.events.filter((e) => e.key === key).map((e) => e.version);
        expect(versions).toEqual([...versions].sort(compareBigints));
      }
    });

    it('a restarted source resumes after what it handled, including events published while it was stopped', async () => {
      const [orders] = subject.collections;
      const checkpoints = createInMemoryCheckpointStore();
      const before = createRecorder(subject.decoder);
      const firstRun = await start(subject.source({ checkpoints, checkpointName: 'resume' }), before);
      const handledBefore = [anEvent(orders, 'r1', 1n), anEvent(orders, 'r2', 1n)];
      await subject.publisher.publish(handledBefore);
      await waitFor('the first events', () => handledBefore.every((e) => ids(before.events).includes(e.id)));
      await firstRun.close();

      const whileStopped = [anEvent(orders, 'r1', 2n), anEvent(orders, 'r3', 1n)];
      await subject.publisher.publish(whileStopped);

      const after = createRecorder(subject.decoder);
      await start(subject.source({ checkpoints, checkpointName: 'resume' }), after);
      const afterRestart = [anEvent(orders, 'r2', 2n)];
      await subject.publisher.publish(afterRestart);

      await waitFor('the events published while stopped and after', () =>
        [...whileStopped, ...afterRestart].every((e) => ids(after.events).includes(e.id)),
      );
      const r1 = after.events.filter((e) => e.key === 'r1').map((e) => e.version);
      expect(r1[r1.length - 1]).toBe(2n);
      if (!subject.mayRepeatAfterRestart) {
        expect(ids(after.events).filter((id) => ids(handledBefore).includes(id))).toEqual([]);
      }
      for (const event of [...whileStopped, ...afterRestart]) {
        expect(ids(after.events).filter((id) => id === event.id)).toHaveLength(1);
      }
    });

    it('a batch whose handler threw after applying is delivered again', async () => {
      const [orders] = subject.collections;
      const target = anEvent(orders, 'crash', 1n);
      let failed = false;
      const recorder = createRecorder(subject.decoder, () => {
        if (!failed && ids(recorder.events).includes(target.id)) {
          failed = true;
          throw new Error('crashed after applying, before the checkpoint');
        }
      });
      const checkpoints = createInMemoryCheckpointStore();
      await start(subject.source({ checkpoints, checkpointName: 'crash' }), recorder);
      await subject.publisher.publish([target]);
      const later = anEvent(orders, 'crash', 2n);
      await subject.publisher.publish([later]);

      await waitFor('the event twice and the later one', () =>
        ids(recorder.events).filter((id) => id === target.id).length >= 2 && ids(recorder.events).includes(later.id),
      );
      const targetPositions = recorder.events.flatMap((e, i) => (e.id === target.id ? [i] : []));
      const laterPosition = ids(recorder.events).lastIndexOf(later.id);
      expect(targetPositions[1]).toBeLessThan(laterPosition);
    });

    it('a message that cannot be decoded reaches the handler and does not stop later messages', async () => {
      const [orders] = subject.collections;
      const recorder = createRecorder(subject.decoder);
      await start(subject.source({ checkpoints: createInMemoryCheckpointStore(), checkpointName: 'poison' }), recorder);
      const after = anEvent(orders, 'p1', 1n);
      await subject.sendPoison({ collection: after.collection, key: after.key });
      await subject.publisher.publish([after]);

      await waitFor('the event after the poison message', () => ids(recorder.events).includes(after.id));
      expect(recorder.rejected.length).toBeGreaterThanOrEqual(1);
      const poison = recorder.rejected[0];
      if (poison === undefined) throw new Error('no message was rejected');
      const poisonAt = recorder.messages.indexOf(poison);
      const afterAt = recorder.messages.findIndex((m) => {
        const decoded = subject.decoder(m);
        return decoded.ok && decoded.events.some((e) => e.id === after.id);
      });
      expect(poisonAt).toBeLessThan(afterAt);

      const { deadLetters } = subject;
      if (deadLetters !== undefined) {
        const letter = await waitUntil('the poison message on the dead-letter queue', async () =>
          (await deadLetters()).find((l) => l.messageId === poison.id),
        { timeoutMs: 10_000, intervalMs: 50 });
        expect(letter.text).toBe(poison.text);
        expect(letter.reason).toMatch(/JSON|invalid|hashtag|not/i);
        expect((await deadLetters()).some((l) => l.text.includes(after.id))).toBe(false);
      }
    });

    it('a consumer that dies after applying and before acknowledging: the next member of its group gets the batch again', async () => {
      const [orders] = subject.collections;
      const checkpoints = createInMemoryCheckpointStore();
      const target = anEvent(orders, 'dies', 1n);
      // The first member applies (records) the batch, then never acknowledges it: every attempt fails
      // until the member is gone, as when the process is killed between the apply and the commit.
      const dying = createRecorder(subject.decoder, (batch) => {
        if (batch.some((m) => m.text.includes(target.id))) throw new Error('killed after applying, before the acknowledgement');
      });
      const first = await start(subject.source({ checkpoints, checkpointName: 'dies' }), dying);
      // A first event handled in full gives the group a checkpoint to resume from.
      const handled = anEvent(orders, 'lives', 1n);
      await subject.publisher.publish([handled]);
      await waitFor('the first event', () => ids(dying.events).includes(handled.id));
      await subject.publisher.publish([target]);
      await waitFor('the first member to apply the event', () => ids(dying.events).includes(target.id));
      await first.close();

      const next = createRecorder(subject.decoder);
      await start(subject.source({ checkpoints, checkpointName: 'dies' }), next);
      const later = anEvent(orders, 'dies', 2n);
      await subject.publisher.publish([later]);
      await waitFor('the unacknowledged event and the later one at the next member', () =>
        ids(next.events).includes(target.id) && ids(next.events).includes(later.id),
      );
      expect(ids(next.events).indexOf(target.id)).toBeLessThan(ids(next.events).indexOf(later.id));
    });

    it('two members of one group share the work, and every key ends at its last version', async () => {
      const [orders, customers] = subject.collections;
      const checkpoints = createInMemoryCheckpointStore();
      // One version-gated read model that both members write to, as two consumer processes share a store.
      const model = new Map<string, bigint>();
      /** `collection/key@version` of every event the gate let through. */
      const applies = new Set<string>();
      const applyToModel = (batch: readonly InboundMessage[]): void => {
        for (const message of batch) {
          const decoded = subject.decoder(message);
          if (!decoded.ok) continue;
          for (const event of decoded.events) {
            const key = `${event.collection}/${event.key}`;
            if ((model.get(key) ?? 0n) >= event.version) continue;
            model.set(key, event.version);
            applies.add(`${key}@${event.version.toString()}`);
          }
        }
      };
      const a = createRecorder(subject.decoder, applyToModel);
      const b = createRecorder(subject.decoder, applyToModel);
      await start(subject.source({ checkpoints, checkpointName: 'shared' }), a);
      await start(subject.source({ checkpoints, checkpointName: 'shared' }), b);

      const published: ChangeEvent[] = [];
      for (let version = 1n; version <= 4n; version += 1n) {
        const round = Array.from({ length: 8 }, (_, i) => anEvent(i % 2 === 0 ? orders : customers, `g${i}`, version));
        await subject.publisher.publish(round);
        published.push(...round);
        await waitFor(`round ${version.toString()} delivered`, () =>
          round.every((e) => ids(a.events).includes(e.id) || ids(b.events).includes(e.id)),
        );
      }

      for (let i = 0; i < 8; i += 1) {
        expect(model.get(`${i % 2 === 0 ? orders : customers}/g${i}`)).toBe(4n);
      }
      // Rounds go out one after another, so every version is applied once, none skipped as stale.
      expect(applies.size).toBe(published.length);
      const delivered = new Set([...ids(a.events), ...ids(b.events)]);
      expect(published.every((e) => delivered.has(e.id))).toBe(true);
      if (subject.groupsShareWork) {
        // Both worked, and with no failure and no member leaving, no event went to both.
        expect(a.events.length).toBeGreaterThan(0);
        expect(b.events.length).toBeGreaterThan(0);
        expect(ids(a.events).filter((id) => ids(b.events).includes(id))).toEqual([]);
      }
    });
  });
}
