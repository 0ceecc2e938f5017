import { createLogger } from '../common/logger.js';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../common/wait.fixture.js';
import { aChangeEvent } from '../events/change-event.fixture.js';
import type { EventPublisher } from '../transports/transport.js';
import { fakeLeadership } from './capture/leadership.fixture.js';
import type { OutboxReader, OutboxRow } from './capture/outbox.js';
import { followLeadership } from './leader-relay.js';
import { createOutboxRelay } from './relay.js';

const logger = createLogger({ level: 'silent' });

/** An outbox in memory that the real relay reads and marks. */
function fakeOutbox() {
  const rows: OutboxRow[] = [];
  const published: string[] = [];
  const reader: OutboxReader = {
    readBatch(limit) {
      return Promise.resolve(rows.filter((r) => !published.includes(r.event.id)).slice(0, limit));
    },
    markPublished(marked) {
      published.push(...marked.map((r) => r.event.id));
      return Promise.resolve();
    },
    markFailed() {
      return Promise.resolve();
    },
    republishSince() {
      return Promise.resolve(0);
    },
  };
  return {
    reader,
    published,
    add(...ids: string[]) {
      for (const id of ids) rows.push({ seq: BigInt(rows.length + 1), event: aChangeEvent({ id, key: id }) });
    },
  };
}

/** A transport that acknowledges at once, or holds every publish while `hold()` is in force. */
function gatedPublisher() {
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  let inFlight = 0;
  const publisher: EventPublisher = {
    async publish() {
      inFlight += 1;
      try {
        await gate?.promise;
      } finally {
        inFlight -= 1;
      }
    },
    close: () => Promise.resolve(),
  };
  return {
    publisher,
    inFlight: () => inFlight,
    hold() {
      let open = (): void => undefined;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
  };
}

function given() {
  const outbox = fakeOutbox();
  const transport = gatedPublisher();
  const relay = createOutboxRelay({ reader: outbox.reader, publisher: transport.publisher, logger, batchSize: 10, pollIntervalMs: 5 });
  const leadership = fakeLeadership(() => relay);
  const follower = followLeadership({ relay, leadership: leadership.leadership, logger });
  return { outbox, transport, relay, leadership, follower };
}

/** `given()`, elected, with the publish of its one row `e1` held in flight. */
async function givenBatchInFlight() {
  const subject = given();
  subject.outbox.add('e1');
  subject.transport.hold();
  subject.follower.start();
  subject.leadership.elect();
  await waitUntil('a publish in flight', () => subject.transport.inFlight() === 1);
  return subject;
}

describe('relay that follows the leadership', () => {
  it('runs the relay only while this instance leads', async () => {
    const { outbox, relay, leadership, follower } = given();
    outbox.add('e1', 'e2');
    follower.start();
    expect(follower.role()).toBe('standby');
    expect(relay.stats().state).toBe('idle');

    leadership.elect();
    expect(follower.role()).toBe('leader');
    await waitUntil('the backlog to be published', () => outbox.published.length === 2);

    leadership.depose();
    expect(follower.role()).toBe('standby');
    await waitUntil('the relay to stop', () => relay.stats().state === 'stopped');

    outbox.add('e3');
    leadership.elect();
    await waitUntil('e3 to be published by the new term', () => outbox.published.includes('e3'));
    await follower.stop();
  });

  it('lets the batch in flight finish and mark its rows when deposed', async () => {
    const { outbox, transport, relay, leadership, follower } = await givenBatchInFlight();

    leadership.depose();
    await waitUntil('the relay to begin stopping', () => relay.stats().state === 'stopping');
    transport.release();
    await waitUntil('the relay to stop', () => relay.stats().state === 'stopped');

    expect(outbox.published).toEqual(['e1']);
    await follower.stop();
  });

  it('keeps the relay running after a deposition followed at once by a re-election', async () => {
    const { outbox, transport, relay, leadership, follower } = await givenBatchInFlight();

    // The relay's loop is still set while its batch finishes; a start() now would be ignored.
    leadership.depose();
    leadership.elect();
    transport.release();
    outbox.add('e2');

    await waitUntil('e2 to be published after the re-election', () => outbox.published.includes('e2'));
    expect(relay.stats().state).toBe('running');
    expect(follower.role()).toBe('leader');
    await follower.stop();
  });

  it('on stop, stops the relay before closing the leadership', async () => {
    const { outbox, transport, relay, leadership, follower } = await givenBatchInFlight();

    const stopping = follower.stop();
    await waitUntil('the relay to begin stopping', () => relay.stats().state === 'stopping');
    expect(leadership.closed()).toBe(false);
    transport.release();
    await stopping;
    await follower.stop();

    expect(leadership.closed()).toBe(true);
    expect(leadership.relayStateAtClose()).toBe('stopped');
    expect(relay.stats().state).toBe('stopped');
    expect(outbox.published).toEqual(['e1']);
    expect(follower.role()).toBe('standby');
  });

  it('does not restart the relay for an election that comes while it stops', async () => {
    const { transport, relay, leadership, follower } = await givenBatchInFlight();

    const stopping = follower.stop();
    leadership.depose();
    leadership.elect();
    transport.release();
    await stopping;

    expect(relay.stats().state).toBe('stopped');
  });

  it('campaigns once when started twice', () => {
    const { leadership, follower } = given();
    follower.start();
    follower.start();
    expect(leadership.starts()).toBe(1);
  });
});
