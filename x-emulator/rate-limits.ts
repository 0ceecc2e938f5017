/** The endpoints the emulator meters, one name per X rate-limit row. */
export type RateLimitedEndpoint =
  | 'createTweet'
  | 'deleteTweet'
  | 'lookup'
  | 'stream'
  | 'getRules'
  | 'addRules'
  | 'search'
  | 'me'
  | 'connections';

/**
 * Who a quota is counted for:
 * - `app`: every request of the app, whatever the authentication (e.g. 10,000 posts / 24 h);
 * - `appOnly`: requests made with the app's bearer token ("per app" in X's tables);
 * - `user`: user-context requests, counted per user ("per user").
 */
export type QuotaScope = 'app' | 'appOnly' | 'user';

/** The response-header family a quota reports itself in. */
export type QuotaHeader = 'x-rate-limit' | 'x-user-limit-24hour' | 'x-app-limit-24hour';

export interface RateLimitQuota {
  readonly scope: QuotaScope;
  readonly limit: number;
  readonly windowMs: number;
  readonly header: QuotaHeader;
}

export type RateLimitTable = Readonly<Record<RateLimitedEndpoint, readonly RateLimitQuota[]>>;

const minutes15 = 15 * 60 * 1000;
const hours24 = 24 * 60 * 60 * 1000;

/**
 * From x-api-facts.md where it has a row; the rest (delete 50, lookup 450, me 75, connections 50,
 * 2,400 posts / 24 h per user) are X's long-published values.
 */
export const defaultRateLimits: RateLimitTable = {
  createTweet: [
    { scope: 'user', limit: 100, windowMs: minutes15, header: 'x-rate-limit' },
    { scope: 'user', limit: 2400, windowMs: hours24, header: 'x-user-limit-24hour' },
    { scope: 'app', limit: 10_000, windowMs: hours24, header: 'x-app-limit-24hour' },
  ],
  deleteTweet: [{ scope: 'user', limit: 50, windowMs: minutes15, header: 'x-rate-limit' }],
  lookup: [
    { scope: 'appOnly', limit: 450, windowMs: minutes15, header: 'x-rate-limit' },
    { scope: 'user', limit: 900, windowMs: minutes15, header: 'x-rate-limit' },
  ],
  stream: [{ scope: 'appOnly', limit: 50, windowMs: minutes15, header: 'x-rate-limit' }],
  getRules: [{ scope: 'appOnly', limit: 450, windowMs: minutes15, header: 'x-rate-limit' }],
  addRules: [{ scope: 'appOnly', limit: 100, windowMs: minutes15, header: 'x-rate-limit' }],
  search: [
    { scope: 'appOnly', limit: 450, windowMs: minutes15, header: 'x-rate-limit' },
    { scope: 'user', limit: 300, windowMs: minutes15, header: 'x-rate-limit' },
  ],
  me: [{ scope: 'user', limit: 75, windowMs: minutes15, header: 'x-rate-limit' }],
  connections: [{ scope: 'appOnly', limit: 50, windowMs: minutes15, header: 'x-rate-limit' }],
};

export interface RateLimitCaller {
  readonly appKey: string;
  /** Set for user-context requests. */
  readonly userId?: string;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

export interface RateLimiter {
  /** Counts one request (only if it is allowed) and returns the headers X would send. */
  take(endpoint: RateLimitedEndpoint, caller: RateLimitCaller): RateLimitDecision;
  /** The headers for a quota that is exhausted until `resetAt` (for injected 429s). */
  exhausted(endpoint: RateLimitedEndpoint, caller: RateLimitCaller, resetAt: Date): Readonly<Record<string, string>>;
  reset(): void;
}

interface Window {
  start: number;
  count: number;
}

/** Fixed windows that open at the first request, as X's do, on the clock it is given. */
export function createRateLimiter(table: RateLimitTable, now: () => Date): RateLimiter {
  const windows = new Map<string, Window>();

  const applicable = (endpoint: RateLimitedEndpoint, caller: RateLimitCaller) =>
    table[endpoint].flatMap((quota, index) => {
      const scopeKey =
        quota.scope === 'app' ? caller.appKey : quota.scope === 'appOnly' ? (caller.userId === undefined ? caller.appKey : undefined) : caller.userId;
      return scopeKey === undefined ? [] : [{ quota, key: `${endpoint}|${index}|${scopeKey}` }];
    });

  const windowFor = (key: string, windowMs: number, at: number): Window => {
    const existing = windows.get(key);
    if (existing !== undefined && at < existing.start + windowMs) return existing;
    const fresh = { start: at, count: 0 };
    windows.set(key, fresh);
    return fresh;
  };

  return {
    take(endpoint, caller) {
      const at = now().getTime();
      const quotas = applicable(endpoint, caller).map((q) => ({ ...q, window: windowFor(q.key, q.quota.windowMs, at) }));
      const allowed = quotas.every((q) => q.window.count < q.quota.limit);
      if (allowed) for (const q of quotas) q.window.count += 1;
      const headers: Record<string, string> = {};
      for (const { quota, window } of quotas) {
        if (headers[`${quota.header}-limit`] !== undefined) continue;
        headers[`${quota.header}-limit`] = String(quota.limit);
        headers[`${quota.header}-remaining`] = String(Math.max(0, quota.limit - window.count));
        headers[`${quota.header}-reset`] = String(Math.ceil((window.start + quota.windowMs) / 1000));
      }
      return { allowed, headers };
    },
    exhausted(endpoint, caller, resetAt) {
      const quota = applicable(endpoint, caller).find((q) => q.quota.header === 'x-rate-limit')?.quota;
      return {
        'x-rate-limit-limit': String(quota?.limit ?? 1),
        'x-rate-limit-remaining': '0',
        'x-rate-limit-reset': String(Math.ceil(resetAt.getTime() / 1000)),
      };
    },
    reset() {
      windows.clear();
    },
  };
}
