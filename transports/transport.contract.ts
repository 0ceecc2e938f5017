import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageDecoder } from '../events/decoder.js';
import type { ChangeEvent } from '../events/envelope.js';
import type { CheckpointStore, EventPublisher, EventSource, InboundMessage } from './transport.js';
import { createInMemoryCheckpointStore } from './in-memory/checkpoint-store.js';
import { aChangeEvent } from '../events/change-event.fixture.js';

/**
 * The EventPublisher/EventSource contract, run against every transport. A transport's test file calls
 * `describeTransportContract` with a factory; each test gets a fresh subject and cleans it up.
 */
export interface TransportContractSubject {
  readonly publisher: EventPublisher;
  /** Sources made with the same store and name resume from one another. */
  source(options: { checkpoints: CheckpointStore; checkpointName: string }): EventSource;
  readonly decoder: MessageDecoder;
  /** Collections the decoder accepts; test events use the first two. */
  readonly collections: readonly [string, string, ...string[]];
  /** Puts a message on the transport that the decoder must reject. */
  sendPoison(): Promise<void>;
  /**
   * Whether a restarted source may deliver again some of what it handled before it stopped (X's
   * catch-up search starts a little before the checkpoint). Version gating makes such repeats harmless.
   */
  readonly mayRepeatAfterRestart: boolean;
  cleanup(): Promise<void>;
}

export type TransportContractFactory = () => Promise<TransportContractSubject>;

/** Everything a source handed its handler, call by call. */
interface Recorder {
  readonly calls: (readonly InboundMessage[])[];
  readonly messages: InboundMessage[];
  /** Decoded events in the order received (repeats included). */
  readonly events: ChangeEvent[];
  readonly rejected: InboundMessage[];
  handle(batch: readonly InboundMessage[]): Promise<void>;
}

function createRecorder(decoder: MessageDecoder, beforeAccept?: (batch: readonly InboundMessage[]) => void): Recorder {
  const recorder: Recorder = {
    calls: [],
    messages: [],
    events: [],
    rejected: [],
    handle(batch) {
      recorder.calls.push(batch);
      for (const message of batch) {
        recorder.messages.push(message);
        const decoded = decoder(message);
        if (decoded.ok) recorder.events.push(...decoded.events);
        else recorder.rejected.push(message);
      }
      beforeAccept?.(batch);
      return Promise.resolve();
    },
  };
  return recorder;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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
        expect(versions).toEqual([...versions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
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
      await subject.sendPoison();
      const after = anEvent(orders, 'p1', 1n);
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
    });
  });
}
