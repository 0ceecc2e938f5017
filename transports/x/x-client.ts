import * as http from 'node:http';
import * as https from 'node:https';
import { TwitterApi, type ITwitterApiClientPlugin } from 'twitter-api-v2';

/** X's production API. The emulator and tests point `apiUrl` elsewhere. */
export const defaultXApiUrl = 'https://api.x.com';

/**
 * How long an ordinary request (a post, a search, the rules) may go without data before it fails as
 * a timeout: well under the 25 s a service has to shut down in, and far above X's usual answer time.
 */
export const defaultXRequestTimeoutMs = 10_000;

/** User-context OAuth 1.0a credentials: what posting needs. */
export interface XUserCredentials {
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
}

export interface XConnectionOptions {
  /** Base URL, e.g. `https://api.x.com` or `https://127.0.0.1:3443`. A path prefix is kept. */
  readonly apiUrl?: string | undefined;
  /** PEM of a CA to trust in addition to nothing else (the emulator's self-signed certificate). */
  readonly ca?: string | undefined;
  /** Socket idle timeout for ordinary requests (not the stream). Default `defaultXRequestTimeoutMs`. */
  readonly requestTimeoutMs?: number | undefined;
}

/** A base URL and the agent every request to it uses, HTTPS or plain HTTP. */
export interface XEndpoint {
  readonly base: URL;
  readonly agent: http.Agent;
  close(): void;
}

export function createXEndpoint(options: XConnectionOptions): XEndpoint {
  const base = new URL(options.apiUrl ?? defaultXApiUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new Error(`X API URL must be http: or https:, got ${base.protocol}`);
  }
  const agent =
    base.protocol === 'http:'
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({ keepAlive: true, ...(options.ca === undefined ? {} : { ca: options.ca }) });
  return { base, agent, close: () => { agent.destroy(); } };
}

/** `https://api.x.com/2/tweets?x=1` -> `<base>/2/tweets?x=1`, keeping any path prefix of the base. */
export function rebaseUrl(url: string, base: URL): string {
  const original = new URL(url.startsWith('http') ? url : `https://${url}`);
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}${original.pathname}${original.search}`;
}

/**
 * twitter-api-v2 hard-codes `https://api.x.com` and offers no setting for it (`cloneWithPrefix`
 * throws, `setPrefix` is protected). Its plugins may rewrite `params.url` before the request is
 * built, for ordinary requests and streams alike; `url` in the hook is a copy and changing it does nothing.
 */
export function baseUrlPlugin(base: URL, requestTimeoutMs?: number): ITwitterApiClientPlugin {
  return {
    onBeforeRequestConfig({ params }) {
      params.url = rebaseUrl(params.url, base);
      if (requestTimeoutMs !== undefined && params.timeout === undefined) params.timeout = requestTimeoutMs;
    },
    onBeforeStreamRequestConfig({ params }) {
      params.url = rebaseUrl(params.url, base);
    },
  };
}

/** A client that signs with the user's OAuth 1.0a tokens (posting). */
export function createUserClient(credentials: XUserCredentials, endpoint: XEndpoint, requestTimeoutMs = defaultXRequestTimeoutMs): TwitterApi {
  return new TwitterApi(
    {
      appKey: credentials.appKey,
      appSecret: credentials.appSecret,
      accessToken: credentials.accessToken,
      accessSecret: credentials.accessSecret,
    },
    { httpAgent: endpoint.agent, plugins: [baseUrlPlugin(endpoint.base, requestTimeoutMs)] },
  );
}

/** A client with the app-only bearer token (rules, search, connections). */
export function createAppClient(bearerToken: string, endpoint: XEndpoint, requestTimeoutMs = defaultXRequestTimeoutMs): TwitterApi {
  return new TwitterApi(bearerToken, {
    httpAgent: endpoint.agent,
    plugins: [baseUrlPlugin(endpoint.base, requestTimeoutMs)],
  });
}
