import { defaultExponentialBackoff, type Backoff } from '../../common/backoff.js';
import type { Logger } from '../../common/logger.js';
import { encodeEventJson } from '../../events/json-codec.js';
import { createSourceRunner, type PullAdapter } from '../source-runner.js';
import type { CheckpointStore, EventPublisher, EventSource, InboundMessage } from '../transport.js';

/**
 * A transport inside one process: an append-only log of JSON envelopes (`encodeEventJson`, so a
 * consumer decodes with `createJsonDecoder`). Message ids are log offsets. It keeps nothing across
 * restarts of the process; sources resume from their checkpoints while the bus lives.
 */
export interface InMemoryBus {
  publisher(): EventPublisher;
  source(options: InMemorySourceOptions): EventSource;
  /** Appends text as it is, like a corrupted or foreign message. Returns its offset. */
  appendRaw(text: string, key?: string): string;
  /** Entries in the log. */
  readonly length: number;
  /** The dead-letter log: messages handlers rejected, in the order they were rejected. */
  deadLetters(): readonly InMemoryDeadLetter[];
}

export interface InMemoryDeadLetter {
  readonly messageId: string;
  readonly text: string;
  readonly reason: string;
  readonly checkpointName: string;
}

export interface InMemorySourceOptions {
  readonly checkpoints: CheckpointStore;
  readonly checkpointName: string;
  /** Most messages per handler call. Default 50. */
  readonly batchSize?: number | undefined;
  /**
   * Sources sharing a group share the work: entries are split by a hash of their key into the group's
   * partitions, and each partition is read by one member at a time. Without a group a source reads everything.
   */
  readonly group?: string | undefined;
  /** Partitions of a group (fixed by its first member). Default 4. */
  readonly partitions?: number | undefined;
  readonly handlerBackoff?: Backoff | undefined;
  readonly logger: Logger;
  readonly now?: (() => Date) | undefined;
}

interface Entry {
  readonly offset: number;
  readonly text: string;
  readonly key: string;
}

interface InMemoryBatch {
  readonly entries: readonly Entry[];
  readonly partitions: ReadonlySet<number>;
  readonly messages: readonly InboundMessage[];
}

interface Member {
  readonly id: number;
  wake(): void;
}

/**
 * The cursors of one reader: a group's, or a lone source's (one partition). A cursor is the last
 * offset handled in its partition; `busy` partitions have a batch in a handler right now.
 */
interface ReaderGroup {
  readonly partitions: number;
  readonly cursors: number[];
  readonly busy: Set<number>;
  readonly members: Member[];
}

export function createInMemoryBus(): InMemoryBus {
  const log: Entry[] = [];
  const deadLetters: InMemoryDeadLetter[] = [];
  const groups = new Map<string, ReaderGroup>();
  const waiters = new Set<() => void>();
  let nextMemberId = 0;

  function append(text: string, key: string): string {
    const offset = log.length;
    log.push({ offset, text, key });
    for (const wake of [...waiters]) wake();
    return String(offset);
  }

  return {
    get length() {
      return log.length;
    },
    appendRaw: (text, key = text) => append(text, key),
    deadLetters: () => [...deadLetters],
    publisher() {
      let closed = false;
      return {
        publish(events) {
          if (closed) return Promise.reject(new Error('this in-memory publisher is closed'));
          for (const event of events) append(encodeEventJson(event), `${event.collection}/${event.key}`);
          return Promise.resolve();
        },
        close() {
          closed = true;
          return Promise.resolve();
        },
      };
    },
    source(options) {
      const batchSize = options.batchSize ?? 50;
      const logger = options.logger.child({ component: 'inMemorySource', checkpointName: options.checkpointName });
      const runner = createSourceRunner({
        name: 'in-memory source',
        logger,
        handlerBackoff: options.handlerBackoff ?? defaultExponentialBackoff({ initialMs: 50, maxMs: 2_000 }),
      });
      const now = options.now ?? (() => new Date());
      const grouped = options.group !== undefined;
      let group: ReaderGroup | undefined;
      const member: Member = { id: nextMemberId++, wake: () => undefined };
      let loop: Promise<void> = Promise.resolve();

      const checkpointKey = (partition: number): string =>
        grouped ? `${options.checkpointName}:p${partition}` : options.checkpointName;

      function owned(g: ReaderGroup): number[] {
        const index = g.members.indexOf(member);
        if (index === -1) return [];
        const mine: number[] = [];
        for (let p = 0; p < g.partitions; p += 1) if (p % g.members.length === index && !g.busy.has(p)) mine.push(p);
        return mine;
      }

      function nextEntries(g: ReaderGroup): Entry[] {
        const mine = new Set(owned(g));
        if (mine.size === 0) return [];
        const from = Math.min(...[...mine].map((p) => g.cursors[p] ?? -1)) + 1;
        const batch: Entry[] = [];
        for (let i = from; i < log.length && batch.length < batchSize; i += 1) {
          const entry = log[i];
          if (entry === undefined) break;
          const p = partitionOf(entry.key, g.partitions);
          if (mine.has(p) && entry.offset > (g.cursors[p] ?? -1)) batch.push(entry);
        }
        return batch;
      }

      /** Resolves on the next append, on a change in the group, or on close. */
      async function nextChange(): Promise<void> {
        let wake: () => void = () => undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          member.wake = resolve;
          waiters.add(resolve);
        });
        waiters.delete(wake);
      }

      /** How this source reads the log: the entries of its partitions, with those partitions held until settled. */
      function pullFrom(g: ReaderGroup): PullAdapter<InMemoryBatch> {
        return {
          async next() {
            const entries = nextEntries(g);
            if (entries.length === 0) {
              await nextChange();
              return undefined;
            }
            const partitions = new Set(entries.map((e) => partitionOf(e.key, g.partitions)));
            for (const p of partitions) g.busy.add(p);
            return { entries, partitions, messages: entries.map((e) => ({ id: String(e.offset), text: e.text, receivedAt: now() })) };
          },
          async settle(batch, result) {
            for (const { message, reason } of result.rejected) {
              deadLetters.push({ messageId: message.id, text: message.text, reason, checkpointName: options.checkpointName });
            }
            for (const p of batch.partitions) {
              const last = Math.max(...batch.entries.filter((e) => partitionOf(e.key, g.partitions) === p).map((e) => e.offset));
              const cursor = Math.max(g.cursors[p] ?? -1, last);
              g.cursors[p] = cursor;
              try {
                await options.checkpoints.save(checkpointKey(p), String(cursor));
              } catch (err) {
                logger.warn({ err, partition: p, offset: cursor }, 'could not store the checkpoint; a restart may repeat messages');
              }
            }
          },
          release(batch) {
            for (const p of batch.partitions) g.busy.delete(p);
            for (const m of g.members) if (m !== member) m.wake();
          },
        };
      }

      return {
        async start(handler, hooks) {
          runner.begin(handler, hooks);
          const g: ReaderGroup = (options.group === undefined ? undefined : groups.get(options.group)) ?? {
            partitions: grouped ? (options.partitions ?? 4) : 1,
            cursors: [],
            busy: new Set(),
            members: [],
          };
          if (options.group !== undefined) groups.set(options.group, g);
          group = g;
          for (let p = 0; p < g.partitions; p += 1) {
            const loaded = await options.checkpoints.load(checkpointKey(p));
            const offset = loaded === undefined ? -1 : Number.parseInt(loaded, 10);
            if (Number.isSafeInteger(offset)) g.cursors[p] = Math.max(g.cursors[p] ?? -1, offset);
          }
          g.members.push(member);
          for (const m of g.members) m.wake();
          loop = runner.pull(pullFrom(g));
        },
        close() {
          return runner.close(async () => {
            member.wake();
            await loop;
            if (group !== undefined) {
              const index = group.members.indexOf(member);
              if (index !== -1) group.members.splice(index, 1);
              for (const m of group.members) m.wake();
            }
          });
        },
      };
    },
  };
}

/** FNV-1a: a stable, cheap hash so one key always lands in the same partition. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
