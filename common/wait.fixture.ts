export interface WaitOptions {
  /** Keep it below the test's own timeout, so a failure names `what` instead of "test timed out". Default 10 s. */
  readonly timeoutMs?: number;
  /** Default 10 ms. */
  readonly intervalMs?: number;
}

/**
 * Polls `condition` until it gives something other than `false` or `undefined`, and resolves with
 * that. After `timeoutMs` it fails naming `what`. A condition that throws fails the wait at once.
 */
export async function waitUntil<T>(
  what: string,
  condition: () => T | false | undefined | Promise<T | false | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 10 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== false && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
