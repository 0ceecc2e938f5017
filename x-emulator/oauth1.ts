import { createHmac, timingSafeEqual } from 'node:crypto';

/** RFC 3986 percent-encoding, as OAuth 1.0a requires (encodeURIComponent leaves !*'() alone). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface OAuth1Request {
  readonly method: string;
  /** Scheme, host (with a non-default port) and path, no query: what the client signed. */
  readonly baseUrl: string;
  /** Query parameters, plus form-encoded body parameters if any. JSON bodies are not signed. */
  readonly params: readonly (readonly [string, string])[];
  readonly authorization: string;
}

export interface OAuth1Secrets {
  readonly consumerKey: string;
  readonly consumerSecret: string;
  readonly token: string;
  readonly tokenSecret: string;
}

export type OAuth1Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Parses `OAuth k="v", ...`; returns undefined when the header is not OAuth or is malformed. */
export function parseOAuthHeader(header: string): Map<string, string> | undefined {
  const match = /^OAuth\s+(.*)$/is.exec(header.trim());
  if (match === null) return undefined;
  const params = new Map<string, string>();
  const body = match[1] ?? '';
  const pair = /([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"/g;
  try {
    for (const [, key = '', value = ''] of body.matchAll(pair)) params.set(decodeURIComponent(key), decodeURIComponent(value));
  } catch {
    return undefined;
  }
  return params;
}

export function signatureBaseString(method: string, baseUrl: string, params: readonly (readonly [string, string])[]): string {
  const encoded = params
    .map(([k, v]): [string, string] => [percentEncode(k), percentEncode(v)])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const paramString = encoded.map(([k, v]) => `${k}=${v}`).join('&');
  return `${method.toUpperCase()}&${percentEncode(baseUrl)}&${percentEncode(paramString)}`;
}

export function hmacSha1Signature(baseString: string, consumerSecret: string, tokenSecret: string): string {
  return createHmac('sha1', `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`).update(baseString).digest('base64');
}

/**
 * Verifies an OAuth 1.0a HMAC-SHA1 user-context request the way X does: known consumer key and token,
 * and a signature rebuilt from the method, the normalized URL, the oauth_* and query parameters.
 * Timestamps and nonces are not checked: the emulator's clock may be fake in tests.
 */
export function verifyOAuth1(request: OAuth1Request, secrets: OAuth1Secrets): OAuth1Verdict {
  const oauth = parseOAuthHeader(request.authorization);
  if (oauth === undefined) return { ok: false, reason: 'not an OAuth header' };
  if (oauth.get('oauth_signature_method') !== 'HMAC-SHA1') return { ok: false, reason: 'unsupported signature method' };
  if (!safeEqual(oauth.get('oauth_consumer_key') ?? '', secrets.consumerKey)) return { ok: false, reason: 'unknown consumer key' };
  if (!safeEqual(oauth.get('oauth_token') ?? '', secrets.token)) return { ok: false, reason: 'unknown access token' };
  const signature = oauth.get('oauth_signature');
  if (signature === undefined) return { ok: false, reason: 'no signature' };
  const signed: [string, string][] = [];
  for (const [key, value] of oauth) if (key !== 'oauth_signature' && key !== 'realm') signed.push([key, value]);
  for (const [key, value] of request.params) signed.push([key, value]);
  const expected = hmacSha1Signature(
    signatureBaseString(request.method, request.baseUrl, signed),
    secrets.consumerSecret,
    secrets.tokenSecret,
  );
  return safeEqual(signature, expected) ? { ok: true } : { ok: false, reason: 'bad signature' };
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
