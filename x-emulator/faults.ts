export const faultEndpoints = ['createTweet', 'deleteTweet', 'stream', 'rules', 'search', 'me'] as const;
export type FaultEndpoint = (typeof faultEndpoints)[number];

/**
 * `timeout`: the request is accepted and never answered, and nothing happens. `lostResponse`: the
 * request is carried out (a post is made) and the connection drops before the answer.
 */
export const faultKinds = ['rateLimit', 'serverError', 'authError', 'tooManyConnections', 'duplicate', 'timeout', 'lostResponse'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultQueue {
  add(endpoint: FaultEndpoint, kind: FaultKind, times: number): void;
  /** The fault the next request to `endpoint` suffers, consuming one use; undefined when none is armed. */
  take(endpoint: FaultEndpoint): FaultKind | undefined;
  pending(): { endpoint: FaultEndpoint; kind: FaultKind; remaining: number }[];
  clear(): void;
}

/** Injected request failures, first armed first used, per endpoint. */
export function createFaultQueue(): FaultQueue {
  const armed: { endpoint: FaultEndpoint; kind: FaultKind; remaining: number }[] = [];
  return {
    add(endpoint, kind, times) {
      if (times > 0) armed.push({ endpoint, kind, remaining: times });
    },
    take(endpoint) {
      const index = armed.findIndex((f) => f.endpoint === endpoint);
      const fault = armed[index];
      if (fault === undefined) return undefined;
      fault.remaining -= 1;
      if (fault.remaining <= 0) armed.splice(index, 1);
      return fault.kind;
    },
    pending() {
      return armed.map((f) => ({ ...f }));
    },
    clear() {
      armed.length = 0;
    },
  };
}
