/** How long to wait before retry number `attempt` (1 for the first retry). A policy is one function. */
export type Backoff = (attempt: number) => number;

/** Doubles from `initialMs` up to `maxMs`, with up to 20% jitter so instances do not retry in step. */
export function defaultExponentialBackoff(
  options: { initialMs?: number; maxMs?: number; random?: () => number } = {},
): Backoff {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  return (attempt) => {
    const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (1 - 0.2 * random()));
  };
}

/** Adds `stepMs` a try, up to `maxMs` (X's advice for network errors: +250 ms up to 16 s). */
export function linearBackoff(options: { stepMs: number; maxMs: number }): Backoff {
  return (attempt) => Math.min(options.maxMs, options.stepMs * Math.max(1, attempt));
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
