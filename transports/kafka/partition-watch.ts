import type { KafkaAdminLike, KafkaLike } from './kafka-client.js';

/**
 * Tells when a member reads nothing from a partition it owns while records wait there: a fetch that
 * stalled (after a broker moved, say) reads nothing while the lag grows, and the member would
 * otherwise still say it is ready. The brokers are asked only when a partition has been quiet for
 * `stalledAfterMs`.
 */
export interface PartitionWatch {
  /** The group gave this member `partitions` (progress counts from now). */
  assigned(partitions: readonly number[]): void;
  /** A batch of `partition` was handled and committed up to `nextOffset`. */
  progressed(partition: number, nextOffset: string): void;
  /** Why the member is not ready, or `undefined` when every quiet partition has nothing waiting. */
  problem(): Promise<string | undefined>;
  close(): Promise<void>;
}

export function createPartitionWatch(options: { kafka: KafkaLike; topic: string; groupId: string; stalledAfterMs: number; now: () => Date }): PartitionWatch {
  const { kafka, topic, groupId, stalledAfterMs, now } = options;
  let partitions: readonly number[] = [];
  const progressAt = new Map<number, Date>();
  const committedOffset = new Map<number, bigint>();
  let admin: KafkaAdminLike | undefined;
  let ready: Promise<void> | undefined;

  async function stalled(): Promise<{ partition: number; waiting: bigint; quietMs: number }[]> {
    const at = now().getTime();
    const quietFor = (p: number): number => at - (progressAt.get(p)?.getTime() ?? at);
    const quiet = partitions.filter((p) => quietFor(p) >= stalledAfterMs);
    if (quiet.length === 0) return [];
    admin ??= kafka.admin();
    const client = admin;
    ready ??= client.connect().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    await ready;
    const [offsets, committed] = await Promise.all([client.fetchTopicOffsets(topic), client.fetchOffsets({ groupId, topics: [topic] })]);
    const committedAt = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    return quiet.flatMap((partition) => {
      const marks = offsets.find((o) => o.partition === partition);
      if (marks === undefined) return [];
      const position = committedOffset.get(partition) ?? committedAt.get(partition) ?? -1n;
      const from = position >= 0n ? position : BigInt(marks.low);
      const waiting = BigInt(marks.high) - from;
      return waiting > 0n ? [{ partition, waiting, quietMs: quietFor(partition) }] : [];
    });
  }

  return {
    assigned(given) {
      partitions = given;
      progressAt.clear();
      const at = now();
      for (const partition of given) progressAt.set(partition, at);
    },
    progressed(partition, nextOffset) {
      committedOffset.set(partition, BigInt(nextOffset));
      progressAt.set(partition, now());
    },
    async problem() {
      const found = await stalled();
      if (found.length === 0) return undefined;
      const which = found.map((s) => `partition ${String(s.partition)} has ${s.waiting.toString()} records waiting and none read for ${String(Math.round(s.quietMs / 1000))} s`);
      return `Kafka source reads nothing from some of its partitions: ${which.join('; ')}`;
    },
    async close() {
      if (admin !== undefined) await admin.disconnect().catch(() => undefined);
    },
  };
}
