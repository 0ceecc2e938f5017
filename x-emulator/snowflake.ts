/** Twitter's snowflake epoch (2010-11-04T01:42:54.657Z). */
export const snowflakeEpochMs = 1288834974657n;

const maxSequence = 4095n;

export interface SnowflakeOptions {
  readonly now: () => Date;
  /** 10 bits; X packs datacenter and worker here. */
  readonly workerId?: number;
}

/**
 * Ids shaped like X's: `((ms - epoch) << 22) | (worker << 12) | sequence`, as decimal strings.
 * Every id is strictly greater than the one before, even within one millisecond or when the
 * clock steps back: the generator then borrows from the next millisecond.
 */
export function createSnowflakeGenerator(options: SnowflakeOptions): () => string {
  const worker = BigInt((options.workerId ?? 1) & 0x3ff);
  let lastMs = 0n;
  let sequence = 0n;
  return () => {
    let ms = BigInt(options.now().getTime());
    if (ms < snowflakeEpochMs) ms = snowflakeEpochMs;
    if (ms > lastMs) {
      lastMs = ms;
      sequence = 0n;
    } else {
      sequence += 1n;
      if (sequence > maxSequence) {
        lastMs += 1n;
        sequence = 0n;
      }
    }
    return (((lastMs - snowflakeEpochMs) << 22n) | (worker << 12n) | sequence).toString();
  };
}

/** The millisecond a snowflake id was minted in. */
export function snowflakeTime(id: string): Date {
  return new Date(Number((BigInt(id) >> 22n) + snowflakeEpochMs));
}

/** Orders two snowflake id strings numerically (they have no leading zeros, so length first). */
export function compareSnowflakes(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isSnowflake(value: string): boolean {
  return /^[1-9][0-9]{0,19}$/.test(value);
}
