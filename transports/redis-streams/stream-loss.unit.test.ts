import { describe, expect, it } from 'vitest';
import { compareEntryIds, findStreamLoss, unreadFrom, type GroupInfo, type StreamInfo } from './stream-loss.js';

const group = (name: string, lastDeliveredId: string, entriesRead: number | null, oldestPendingId?: string): GroupInfo => ({
  name,
  lastDeliveredId,
  entriesRead,
  pending: oldestPendingId === undefined ? 0 : 1,
  oldestPendingId,
});

/** A stream that had `entriesAdded` entries and keeps `length` of them, the first being `firstEntryId`. */
const reading = (entriesAdded: number, groups: GroupInfo[], length = entriesAdded, firstEntryId = '1000-0'): StreamInfo => ({
  length,
  entriesAdded,
  firstEntryId,
  groups,
});

describe('stream loss', () => {
  it('orders entry ids by time, then sequence, as numbers', () => {
    expect(compareEntryIds('10-2', '9-5')).toBeGreaterThan(0);
    expect(compareEntryIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareEntryIds('1796559999467-0', '1796559999467-0')).toBe(0);
  });

  it('a group still needs entries from its oldest pending one, else from after its last delivered one', () => {
    expect(unreadFrom(group('g', '500-0', 5))).toBe('500-0');
    expect(unreadFrom(group('g', '500-0', 5, '300-1'))).toBe('300-1');
  });

  it('finds nothing while the stream only grows and every group is ahead of what was trimmed', () => {
    expect(findStreamLoss(undefined, undefined)).toBeUndefined();
    expect(findStreamLoss(undefined, reading(5, [group('g', '1000-0', 1)]))).toBeUndefined();
    // 400 trimmed, all of them read by the group.
    expect(findStreamLoss(reading(5, [group('g', '1000-0', 5)]), reading(900, [group('g', '1500-0', 450)], 500, '1200-0'))).toBeUndefined();
  });

  it('a stream that is gone, or whose entries-added went back, was reset: lost from the oldest unread position then', () => {
    const before = reading(1507, [group('a', '5000-0', 900, '4000-3'), group('b', '6000-0', 1000)]);
    expect(findStreamLoss(before, undefined)).toMatchObject({ kind: 'reset', sinceMs: 4000 });
    expect(findStreamLoss(before, undefined)?.reason).toMatch(/gone/);
    expect(findStreamLoss(before, reading(3, []))).toMatchObject({ kind: 'reset', sinceMs: 4000 });
    expect(findStreamLoss(before, reading(3, []))?.reason).toMatch(/from 1507 to 3/);
    // Before any group, nothing says what was read: anything may be lost.
    expect(findStreamLoss(reading(10, []), undefined)).toMatchObject({ kind: 'reset', sinceMs: undefined });
  });

  it('entries trimmed from the head before a group read them are lost to it, from its position', () => {
    // 2,000 trimmed; the slow group had read 1,200 of them.
    const now = reading(3000, [group('fast', '9000-0', 2900), group('slow', '2000-0', 1200)], 1000, '2500-0');
    const finding = findStreamLoss(reading(2000, [group('fast', '8000-0', 1900), group('slow', '2000-0', 1200)]), now);
    expect(finding).toMatchObject({ kind: 'trimmed', sinceMs: 2000, group: { name: 'slow', position: '2000-0' } });
    expect(finding?.reason).toMatch(/2000 entries were trimmed[^"]*"slow" \(at 2000-0\)/);
    // A group that has read nothing (Redis says nil) lost every trimmed entry.
    expect(findStreamLoss(undefined, reading(1100, [group('new', '0-0', null)], 100))).toMatchObject({ kind: 'trimmed', sinceMs: 0 });
    // A pending entry older than the first entry left is lost too.
    expect(findStreamLoss(undefined, reading(9, [group('g', '9000-0', 9, '1000-0')], 5, '1500-0'))).toMatchObject({ kind: 'trimmed', sinceMs: 1000 });
  });
});
