import type { Logger } from './logger.js';

/**
 * What a composition root opened, closed the one way every service closes: the last opened first,
 * each once, and every one of them even when another fails (the failure is logged).
 */
export interface Scope {
  /** Registers how to close what was just opened. */
  defer(close: () => Promise<unknown>): void;
  /** Closes everything deferred, newest first. Idempotent: later calls share the first one's promise. */
  close(): Promise<void>;
}

export function createScope(logger: Logger): Scope {
  const closers: (() => Promise<unknown>)[] = [];
  let closing: Promise<void> | undefined;
  return {
    defer(close) {
      closers.push(close);
    },
    close() {
      closing ??= (async () => {
        for (const close of closers.reverse()) {
          const [result] = await Promise.allSettled([close()]);
          if (result.status === 'rejected') logger.warn({ err: result.reason }, 'a part did not close cleanly');
        }
        closers.length = 0;
      })();
      return closing;
    },
  };
}
