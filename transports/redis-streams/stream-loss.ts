import { z } from 'zod';
import type { RedisConnection } from './redis-client.js';
import { replyCode } from './redis-client.js';

/**
 * What Redis says about a stream and its consumer groups, and how to tell from two readings that the
 * stream lost entries nobody had read yet: it was reset (Redis restarted without persistence, or the
 * key was deleted), or trimmed past a group's position. Redis 7's logical counters make both visible:
 * `entries-added` only grows over a stream's life, so `entries-added - length` entries were trimmed
 * from its head, and a group's `entries-read` says how many of them it had read.
 * (XDEL of entries in the middle would count as trimmed too; tweetbus never deletes entries.)
 */

/** A stream entry id, `<ms>-<seq>`, as two numbers that compare. */
export interface EntryId {
  readonly ms: bigint;
  readonly seq: bigint;
}

export function parseEntryId(id: string): EntryId {
  const match = /^(\d+)-(\d+)$/.exec(id);
  if (match === null) throw new Error(`not a stream entry id: ${id}`);
  return { ms: BigInt(match[1] ?? '0'), seq: BigInt(match[2] ?? '0') };
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareEntryIds(a: string, b: string): number {
  const x = parseEntryId(a);
  const y = parseEntryId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  if (x.seq !== y.seq) return x.seq < y.seq ? -1 : 1;
  return 0;
}

/** The time (Redis's clock) at which the entry was added. */
export function entryTimeMs(id: string): number {
  return Number(parseEntryId(id).ms);
}

export interface GroupInfo {
  readonly name: string;
  readonly lastDeliveredId: string;
  /** Entries the group was given, counted over the stream's life; `null` when Redis cannot tell. */
  readonly entriesRead: number | null;
  readonly pending: number;
  /** The oldest entry delivered to the group and not acknowledged, when `pending` > 0. */
  readonly oldestPendingId: string | undefined;
}

export interface StreamInfo {
  readonly length: number;
  readonly entriesAdded: number;
  /** The first entry still in the stream (`0-0` when it is empty). */
  readonly firstEntryId: string;
  readonly groups: readonly GroupInfo[];
}

/** XINFO STREAM / XINFO GROUPS (RESP2) reply: a flat list of names and values. */
const flatReply = z.array(z.unknown());
const idText = z.string().regex(/^\d+-\d+$/);
const streamFields = z.object({
  length: z.number(),
  'entries-added': z.number(),
  'recorded-first-entry-id': idText,
});
const groupFields = z.object({ name: z.string(), pending: z.number(), 'last-delivered-id': idText, 'entries-read': z.number().nullable() });
/** XPENDING summary: count, smallest id, largest id, consumers. */
const pendingSummary = z.tuple([z.number(), z.string().nullable(), z.string().nullable(), z.unknown()]);

function fieldsOf(reply: unknown): Record<string, unknown> {
  const list = flatReply.parse(reply);
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/** The stream's counters and its groups' positions, or `undefined` when there is no such stream. */
export async function readStreamInfo(connection: RedisConnection, stream: string): Promise<StreamInfo | undefined> {
  let streamReply: unknown;
  let groupsReply: unknown;
  try {
    streamReply = await connection.client.call('XINFO', ['STREAM', stream]);
    groupsReply = await connection.client.call('XINFO', ['GROUPS', stream]);
  } catch (err) {
    if (replyCode(err) === 'ERR' && err instanceof Error && /no such key/i.test(err.message)) return undefined;
    throw err;
  }
  const info = streamFields.parse(fieldsOf(streamReply));
  const groups: GroupInfo[] = [];
  for (const raw of flatReply.parse(groupsReply)) {
    const group = groupFields.parse(fieldsOf(raw));
    let oldestPendingId: string | undefined;
    if (group.pending > 0) {
      const [, smallest] = pendingSummary.parse(await connection.client.call('XPENDING', [stream, group.name]));
      oldestPendingId = smallest ?? undefined;
    }
    groups.push({ name: group.name, lastDeliveredId: group['last-delivered-id'], entriesRead: group['entries-read'], pending: group.pending, oldestPendingId });
  }
  return {
    length: info.length,
    entriesAdded: info['entries-added'],
    firstEntryId: info['recorded-first-entry-id'],
    groups,
  };
}

/**
 * The oldest entry the group has not acknowledged, or the position after which it has read nothing:
 * every entry the group still needs is at or after it.
 */
export function unreadFrom(group: GroupInfo): string {
  return group.oldestPendingId !== undefined && compareEntryIds(group.oldestPendingId, group.lastDeliveredId) <= 0
    ? group.oldestPendingId
    : group.lastDeliveredId;
}

/** What a stream lost, as its watcher found it. */
export interface StreamLossFinding {
  readonly kind: 'reset' | 'trimmed';
  /** In words, for the log. */
  readonly reason: string;
  /**
   * Entries added at or after this time (Redis's clock) may be lost; `undefined` when nothing says
   * which (no group had read anything yet, or the watcher has no earlier reading).
   */
  readonly sinceMs: number | undefined;
  /** For `trimmed`: the group that lost entries and the position it had reached. */
  readonly group?: { readonly name: string; readonly position: string };
}

/**
 * Compares two readings of a stream. `before` is the last reading (undefined before the first),
 * `now` the current one (undefined when the stream does not exist).
 *
 * - **Reset**: the stream is gone, or its `entries-added` went backwards. Everything no group had read
 *   at `before` may be lost: from the oldest unread position of any group then.
 * - **Trimmed**: entries were removed from the head before a group read them: its oldest pending entry
 *   is before the first entry left, or it has read fewer entries than were trimmed. From that group's
 *   position.
 */
export function findStreamLoss(before: StreamInfo | undefined, now: StreamInfo | undefined): StreamLossFinding | undefined {
  if (before !== undefined) {
    const reset =
      now === undefined
        ? 'the stream is gone (Redis restarted without persistence, or the key was deleted)'
        : now.entriesAdded < before.entriesAdded
          ? `the stream was reset: its entries-added counter went back from ${String(before.entriesAdded)} to ${String(now.entriesAdded)} (Redis restarted without persistence, or the key was deleted and made again)`
          : undefined;
    if (reset !== undefined) return { kind: 'reset', reason: reset, sinceMs: oldestUnreadMs(before) };
  }
  if (now === undefined) return undefined;
  const trimmed = now.entriesAdded - now.length;
  for (const group of now.groups) {
    const position = unreadFrom(group);
    const read = group.entriesRead ?? (group.lastDeliveredId === '0-0' ? 0 : undefined);
    const pendingGone = group.oldestPendingId !== undefined && now.length > 0 && compareEntryIds(now.firstEntryId, group.oldestPendingId) > 0;
    const unreadGone = read !== undefined && read < trimmed;
    if (pendingGone || unreadGone) {
      return {
        kind: 'trimmed',
        reason: `${String(trimmed)} entries were trimmed from the stream's head, some before the consumer group "${group.name}" (at ${position}) read them: the stream is shorter than the group's lag (REDIS_STREAM_MAXLEN)`,
        sinceMs: entryTimeMs(position),
        group: { name: group.name, position },
      };
    }
  }
  return undefined;
}

/** The time of the oldest entry some group had not read, or `undefined` when there was no group. */
function oldestUnreadMs(info: StreamInfo): number | undefined {
  let oldest: number | undefined;
  for (const group of info.groups) {
    const at = entryTimeMs(unreadFrom(group));
    oldest = oldest === undefined ? at : Math.min(oldest, at);
  }
  return oldest;
}

/**
 * Reads a stream's counters when asked and remembers the last reading, so that each call says what
 * the stream lost since the one before. A trim is reported once per group position (the group has to
 * read on before the same loss counts again). With `group`, only that group's position is watched.
 */
export interface StreamLossWatch {
  /** A loss since the last reading, or `undefined`. Throws when Redis cannot be asked. */
  check(): Promise<StreamLossFinding | undefined>;
  /** Forgets the last reading: the loss was already reported another way (the source's NOGROUP). */
  forget(): void;
  /** From when the watched groups may have lost entries, by the last reading: their oldest unread entry's time. */
  unreadSinceMs(): number | undefined;
  /** False once Redis turned out to be older than 7.0, which keeps no such counters. */
  supported(): boolean;
}

export function createStreamLossWatch(connection: RedisConnection, stream: string, group?: string): StreamLossWatch {
  let last: StreamInfo | undefined;
  let trimReported: string | undefined;
  let supported = true;
  return {
    async check() {
      if (!supported) return undefined;
      let reading: StreamInfo | undefined;
      try {
        reading = await readStreamInfo(connection, stream);
      } catch (err) {
        if (!(err instanceof z.ZodError)) throw err;
        supported = false;
        return undefined;
      }
      const watched = reading === undefined || group === undefined ? reading : { ...reading, groups: reading.groups.filter((g) => g.name === group) };
      const finding = findStreamLoss(last, watched);
      last = watched;
      if (finding?.kind === 'trimmed') {
        const key = `${finding.group?.name ?? ''}@${finding.group?.position ?? ''}`;
        if (key === trimReported) return undefined;
        trimReported = key;
      }
      return finding;
    },
    forget() {
      last = undefined;
    },
    unreadSinceMs() {
      return last === undefined ? undefined : oldestUnreadMs(last);
    },
    supported: () => supported,
  };
}
