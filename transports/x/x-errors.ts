import { ApiPartialResponseError, ApiRequestError, ApiResponseError } from 'twitter-api-v2';
import { z } from 'zod';
import { TransportError, type TransportErrorKind } from '../../common/errors.js';

/** What an X failure means for the caller. `duplicate` is X's 403 for text it has already posted. */
export type XFailure =
  | { readonly kind: TransportErrorKind; readonly status: number | undefined; readonly message: string; readonly resetAt?: Date | undefined }
  | { readonly kind: 'duplicate'; readonly status: 403; readonly message: string };

const problemSchema = z
  .object({
    detail: z.string().optional(),
    title: z.string().optional(),
    reason: z.string().optional(),
    connection_issue: z.string().optional(),
    errors: z.array(z.object({ message: z.string().optional(), code: z.number().optional() }).loose()).optional(),
  })
  .loose();

/** The human-readable text of an X error body, whichever of its shapes it uses. */
export function problemText(body: unknown): string {
  const parsed = problemSchema.safeParse(body);
  if (!parsed.success) return '';
  const p = parsed.data;
  const parts = [p.title, p.detail, p.reason, ...(p.errors ?? []).map((e) => e.message)];
  return parts.filter((s): s is string => typeof s === 'string' && s.length > 0).join(': ');
}

function headerNumber(headers: Record<string, string | string[] | undefined>, name: string): number | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * When a 429 lifts. The 15-minute window's reset is the default; when a 24-hour quota (user or app)
 * is the one used up, its reset is later and wins. Without any header, waits a minute.
 */
export function rateLimitResetAt(headers: Record<string, string | string[] | undefined>, now: Date): Date {
  const candidates: number[] = [];
  const windowReset = headerNumber(headers, 'x-rate-limit-reset');
  if (windowReset !== undefined) candidates.push(windowReset);
  for (const prefix of ['x-user-limit-24hour', 'x-app-limit-24hour']) {
    if (headerNumber(headers, `${prefix}-remaining`) === 0) {
      const reset = headerNumber(headers, `${prefix}-reset`);
      if (reset !== undefined) candidates.push(reset);
    }
  }
  if (candidates.length === 0) return new Date(now.getTime() + 60_000);
  return new Date(Math.max(...candidates) * 1000);
}

/** Classifies an HTTP status and X's body. Shared by the library-based calls and the hand-made stream request. */
export function classifyStatus(
  status: number,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  now: Date,
): XFailure {
  const text = problemText(body);
  const said = text === '' ? '' : ` (X said: ${text})`;
  if (status === 429) {
    return { kind: 'rateLimited', status, message: `X rate limit reached${said}`, resetAt: rateLimitResetAt(headers, now) };
  }
  if (/too long/i.test(text) && (status === 400 || status === 403)) {
    return { kind: 'invalid', status, message: `X rejected the post as too long${said}` };
  }
  if (status === 403 && /duplicate/i.test(text)) {
    return { kind: 'duplicate', status, message: `X refused duplicate content${said}` };
  }
  if (status === 401) {
    return {
      kind: 'auth',
      status,
      message: `X rejected the credentials (401)${said}. Check the API key and secret, the access token and secret, or the bearer token, and that they belong to the same app.`,
    };
  }
  if (status === 403) {
    return {
      kind: 'auth',
      status,
      message: `X refused the request (403)${said}. The app must have Read and Write permission and access to this endpoint; after changing permissions, regenerate the access token and secret.`,
    };
  }
  if (status === 400 || status === 413 || status === 422) {
    return { kind: 'invalid', status, message: `X rejected the request (${status})${said}` };
  }
  if (status === 408 || status >= 500) {
    return { kind: 'retryable', status, message: `X answered ${status}${said}` };
  }
  return { kind: 'retryable', status, message: `X answered an unexpected ${status}${said}; check the X API URL` };
}

/** Classifies anything thrown by a twitter-api-v2 call. Unknown errors count as network failures. */
export function classifyXError(err: unknown, now: Date): XFailure {
  if (err instanceof ApiResponseError) return classifyStatus(err.code, err.data, err.headers, now);
  if (err instanceof ApiRequestError) {
    return { kind: 'retryable', status: undefined, message: `X request failed: ${causeText(err.requestError, err.message)}` };
  }
  if (err instanceof ApiPartialResponseError) {
    return { kind: 'retryable', status: undefined, message: `X response was cut off: ${causeText(err.responseError, err.message)}` };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'retryable', status: undefined, message: `X request failed: ${message}` };
}

/** The library's wrapped cause can be missing (nock, some socket errors): fall back to its own message. */
function causeText(cause: unknown, fallback: string): string {
  return cause instanceof Error ? cause.message : fallback;
}

export function toTransportError(failure: XFailure, cause: unknown, published = 0): TransportError {
  const kind = failure.kind === 'duplicate' ? 'invalid' : failure.kind;
  return new TransportError(kind, failure.message, {
    cause,
    published,
    ...('resetAt' in failure && failure.resetAt !== undefined ? { resetAt: failure.resetAt } : {}),
  });
}
