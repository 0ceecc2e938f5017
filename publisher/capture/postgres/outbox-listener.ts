import type { Logger } from '../../../common/logger.js';
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

/** The channel `tweetbus_capture()` notifies at commit. */
export const outboxChannel = 'tweetbus_outbox';

/**
 * Wakes the relay when the capture trigger has committed rows, so it need not wait for its next poll.
 * Best effort: a missed notification costs latency, never data, because the relay always polls too.
 */
export interface OutboxWakeup {
  /** Calls `listener` on every notification; returns the function that unsubscribes it. A plain function: pass it on as is. */
  readonly wake: (listener: () => void) => () => void;
  /** Resolves once the first LISTEN is active (tests wait on it); never rejects. */
  readonly ready: Promise<void>;
  /** Stops listening and releases the connection it holds. Harmless to call twice. */
  close(): Promise<void>;
}

function listenerSet(logger: Logger): { add: (listener: () => void) => () => void; fire: () => void } {
  const listeners = new Set<() => void>();
  return {
    add: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    fire: () => {
      for (const listener of listeners) {
        try {
          listener();
        } catch (err) {
          logger.error({ err }, 'outbox wake-up listener threw');
        }
      }
    },
  };
}

/**
 * LISTENs on one connection taken from `pool` (held until `close`). When the connection breaks it
 * wakes the listeners (a notification may have been missed) and reconnects after `reconnectMs`.
 */
export function createPgOutboxListener(
  pool: Pool,
  options: { logger: Logger; reconnectMs?: number },
): OutboxWakeup {
  const logger = options.logger.child({ component: 'outboxListener' });
  const reconnectMs = options.reconnectMs ?? 5_000;
  const listeners = listenerSet(logger);
  let client: PoolClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // A function, because `closed` changes while connect() awaits.
  const isClosed = (): boolean => closed;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  function onError(err: Error): void {
    const broken = client;
    client = undefined;
    broken?.release(err);
    if (closed) return;
    logger.warn({ err, retryInMs: reconnectMs }, 'outbox LISTEN connection lost; polling continues');
    listeners.fire();
    timer = setTimeout(() => void connect(), reconnectMs);
  }

  async function connect(): Promise<void> {
    timer = undefined;
    if (closed) return;
    let next: PoolClient;
    try {
      next = await pool.connect();
    } catch (err) {
      if (isClosed()) return;
      logger.warn({ err, retryInMs: reconnectMs }, 'outbox LISTEN could not connect; polling continues');
      timer = setTimeout(() => void connect(), reconnectMs);
      return;
    }
    if (isClosed()) {
      next.release(true);
      return;
    }
    next.on('notification', listeners.fire);
    next.on('error', onError);
    client = next;
    try {
      await next.query(`LISTEN ${outboxChannel}`);
    } catch (err) {
      // After close() released this connection, its failing query is expected.
      if (client === next) onError(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    markReady();
  }

  void connect();

  return {
    wake: listeners.add,
    ready,
    close() {
      if (!closed) {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        const held = client;
        client = undefined;
        // Destroy rather than return the connection: it is still LISTENing.
        held?.release(true);
        markReady();
      }
      return Promise.resolve();
    },
  };
}

/** The same wake-up on PGlite, whose NOTIFY is delivered in-process. */
export function createPgliteOutboxListener(db: Pick<PGlite, 'listen'>, options: { logger: Logger }): OutboxWakeup {
  const logger = options.logger.child({ component: 'outboxListener' });
  const listeners = listenerSet(logger);
  let closed = false;
  const unlisten = db.listen(outboxChannel, () => {
    listeners.fire();
  });
  const ready = unlisten.then(
    () => undefined,
    (err: unknown) => {
      logger.warn({ err }, 'outbox LISTEN failed on PGlite; polling continues');
    },
  );
  return {
    wake: listeners.add,
    ready,
    async close() {
      if (closed) return;
      closed = true;
      try {
        const stop = await unlisten;
        await stop();
      } catch {
        // Already reported by `ready`, or the database is closed: nothing is listening either way.
      }
    },
  };
}
