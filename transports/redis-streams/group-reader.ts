import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { Logger } from '../../common/logger.js';
import { replyCode, type RedisConnection } from './redis-client.js';
import { compareEntryIds, createStreamLossWatch, entryTimeMs } from './stream-loss.js';

/** Who reads: one member of one consumer group on one stream. */
export interface GroupMember {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
}

export interface StreamEntry {
  readonly id: string;
  /** `null` when the entry was trimmed or deleted while it was pending. */
  readonly fields: readonly string[] | null;
}

/** The member's two connections: the blocking read holds one for up to `blockMs`. */
export interface GroupSession {
  readonly commands: RedisConnection;
  readonly blocking: RedisConnection;
}

export interface GroupReaderSettings extends GroupMember {
  /** Entries per read (`COUNT`) while the group keeps up. */
  readonly batchSize: number;
  /** Under a backlog each full read doubles the next one's COUNT up to this; a read that comes back short goes back to `batchSize`. */
  readonly maxBatchSize: number;
  /** How long one blocking read waits for new entries (`BLOCK`). */
  readonly blockMs: number;
  /** Idle time after which other members' pending entries are claimed, and how often to look. */
  readonly claimIdleMs: number;
  /** How often the stream's counters are read to notice entries lost before this group read them. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
}

export interface GroupReader {
  /**
   * The next entries in this member's order; empty when there are none yet, or when a lost group was
   * reported and is made again. Other failures are thrown, and the next read starts again with this
   * member's own pending entries (a lost reply may have put entries there).
   */
  read(): Promise<readonly StreamEntry[]>;
  /** The connection of the read in progress or last made, to say why it failed. */
  connection(): RedisConnection;
}

const entrySchema = z.tuple([z.string(), z.array(z.string()).nullable()]);
/** XREADGROUP (RESP2): `[[stream, [[id, fields], ...]]]`, or nil when a blocking read timed out. */
export const readReplySchema = z.array(z.tuple([z.string(), z.array(entrySchema)])).nullable();
type ReadReply = z.infer<typeof readReplySchema>;

function isEntry(value: unknown): value is z.infer<typeof entrySchema> {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const pair: readonly unknown[] = value;
  const [id, fields] = pair;
  return typeof id === 'string' && (fields === null || (Array.isArray(fields) && fields.every((field) => typeof field === 'string')));
}

/**
 * `readReplySchema`'s shape, checked in place: zod copies every entry it checks (about 900 bytes an
 * entry), and every reply from Redis has this shape. `readReplySchema` still says what is wrong with
 * one that has not.
 */
export function isReadReply(value: unknown): value is ReadReply {
  if (value === null) return true;
  if (!Array.isArray(value)) return false;
  return value.every((stream: unknown) => {
    if (!Array.isArray(stream) || stream.length !== 2) return false;
    const pair: readonly unknown[] = stream;
    const [name, entries] = pair;
    return typeof name === 'string' && Array.isArray(entries) && entries.every(isEntry);
  });
}

/** XAUTOCLAIM: next cursor, claimed entries and (Redis 7) ids of deleted entries it dropped from the PEL. */
const autoclaimReplySchema = z.tuple([z.string(), z.array(entrySchema)], z.array(z.string()));
/** XPENDING with a range: `[[id, consumer, idle, deliveries], ...]`. */
const pendingReplySchema = z.array(z.tuple([z.string(), z.string(), z.number(), z.number()]));

type Phase = 'group' | 'own' | 'claim' | 'new';

/** Makes the group at the stream's start (`0`), and the stream with it; an existing group is kept. */
export async function createGroup(connection: RedisConnection, { stream, group }: GroupMember, logger: Logger): Promise<void> {
  try {
    await connection.client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    logger.info('created the consumer group');
  } catch (err) {
    if (replyCode(err) !== 'BUSYGROUP') throw err;
  }
}

/**
 * Marks what this member still holds as idle since the epoch, so the next member claims it at once.
 * The member stays registered in the group: `XGROUP DELCONSUMER` would drop its pending entries.
 */
export async function handBack(connection: RedisConnection, { stream, group, consumer }: GroupMember, claimIdleMs: number, logger: Logger): Promise<void> {
  try {
    const pending = pendingReplySchema.parse(await connection.client.call('XPENDING', [stream, group, '-', '+', 10_000, consumer]));
    if (pending.length === 0) return;
    await connection.client.call('XCLAIM', [stream, group, consumer, 0, ...pending.map(([id]) => id), 'TIME', 0, 'JUSTID']);
    logger.info({ count: pending.length, firstId: pending[0]?.[0] }, 'handed back unacknowledged entries for the next member');
  } catch (err) {
    logger.warn({ err }, `could not hand back the unacknowledged entries; another member claims them after ${claimIdleMs} ms`);
  }
}

/**
 * How one member reads its group: its own pending entries first (a member restarted under its name
 * resumes them), then entries other members left idle for `claimIdleMs` (`XAUTOCLAIM`, again every
 * `claimIdleMs`), then new ones with a blocking read on the connection of its own.
 *
 * Entries lost before the group read them are logged at `error` level with the time from which
 * entries may be lost: a group that is gone (NOGROUP: Redis restarted without persistence, or the
 * stream was deleted), which is then made again at `0`; a stream whose counters went back; entries
 * trimmed before the group read them, or while they were pending.
 */
export function createGroupReader({ commands, blocking }: GroupSession, settings: GroupReaderSettings): GroupReader {
  const { stream, group, consumer, batchSize, maxBatchSize, blockMs, claimIdleMs, watchIntervalMs, logger } = settings;
  let count = batchSize;
  const lossWatch = createStreamLossWatch(commands, stream, group);
  let phase: Phase = 'own';
  let ownCursor = '0';
  let claimCursor = '0-0';
  let lastClaimScan = performance.now();
  let lastWatch = performance.now();
  let current = commands;
  /** The newest entry this member was given, for saying what a lost stream may have held. */
  let lastReadId: string | undefined;

  function reportLoss(reason: string, sinceMs: number | undefined): void {
    const since = sinceMs === undefined ? 'any time' : new Date(sinceMs).toISOString();
    logger.error(
      { reason, since, lastReadId },
      `entries of the stream were lost before this group read them: ${reason}. Entries added since ${since} that the group had not read are gone from the stream; they come back only when the publisher publishes them again from its outbox`,
    );
  }

  async function readGroup(connection: RedisConnection, args: (string | number)[]): Promise<StreamEntry[]> {
    current = connection;
    const raw = await connection.client.call('XREADGROUP', ['GROUP', group, consumer, 'COUNT', count, ...args]);
    const reply = isReadReply(raw) ? raw : readReplySchema.parse(raw);
    return (reply ?? []).filter(([name]) => name === stream).flatMap(([, entries]) => entries.map(([id, fields]) => ({ id, fields })));
  }

  async function autoclaim(): Promise<StreamEntry[]> {
    current = commands;
    const [next, claimed, ...deleted] = autoclaimReplySchema.parse(
      await commands.client.call('XAUTOCLAIM', [stream, group, consumer, claimIdleMs, claimCursor, 'COUNT', count]),
    );
    claimCursor = next;
    if (claimCursor === '0-0') {
      phase = 'new';
      lastClaimScan = performance.now();
    }
    const gone = deleted.flat();
    if (gone.length > 0) logger.error({ entryIds: gone }, 'pending entries were trimmed before they were handled; Redis dropped them, and they are lost to this group');
    const entries = claimed.map(([id, fields]) => ({ id, fields }));
    if (entries.length > 0) logger.info({ count: entries.length, firstId: entries[0]?.id }, 'claimed entries another member left pending');
    return entries;
  }

  async function nextEntries(): Promise<StreamEntry[]> {
    switch (phase) {
      case 'group':
        current = commands;
        await createGroup(commands, settings, logger);
        phase = 'own';
        return [];
      case 'own': {
        const entries = await readGroup(commands, ['STREAMS', stream, ownCursor]);
        const last = entries[entries.length - 1];
        if (last === undefined) phase = 'claim';
        else ownCursor = last.id;
        return entries;
      }
      case 'claim':
        return autoclaim();
      case 'new': {
        if (performance.now() - lastWatch >= watchIntervalMs) {
          lastWatch = performance.now();
          current = commands;
          const finding = await lossWatch.check();
          if (finding !== undefined) reportLoss(finding.reason, finding.sinceMs);
        }
        const entries = await readGroup(blocking, ['BLOCK', blockMs, 'STREAMS', stream, '>']);
        if (performance.now() - lastClaimScan >= claimIdleMs) phase = 'claim';
        return entries;
      }
    }
  }

  return {
    connection: () => current,
    async read() {
      try {
        const asked = count;
        const entries = await nextEntries();
        count = entries.length >= asked ? Math.min(asked * 2, maxBatchSize) : batchSize;
        const gone = entries.filter((e) => e.fields === null).map((e) => e.id);
        if (gone.length > 0) logger.error({ entryIds: gone }, 'pending entries were trimmed before they were handled; they are lost to this group; acknowledging them');
        const newest = entries[entries.length - 1]?.id;
        if (newest !== undefined && (lastReadId === undefined || compareEntryIds(newest, lastReadId) > 0)) lastReadId = newest;
        return entries;
      } catch (err) {
        ownCursor = '0';
        claimCursor = '0-0';
        if (replyCode(err) !== 'NOGROUP') {
          phase = 'own';
          throw err;
        }
        // The group is gone with whatever it had not read; it is made again at once.
        const sinceMs = lossWatch.unreadSinceMs() ?? (lastReadId === undefined ? undefined : entryTimeMs(lastReadId));
        reportLoss('the consumer group is gone (Redis restarted without persistence, or the stream or group was deleted)', sinceMs);
        lossWatch.forget();
        phase = 'group';
        return [];
      }
    },
  };
}
