import type { Request } from 'express';
import type { Logger } from '../common/logger.js';
import { safeEqual, verifyOAuth1 } from './oauth1.js';
import type { StoredUser } from './state.js';
import type { XEmulatorCredentials } from './server.js';

/** Who made a request: the app (bearer token) or its user (OAuth 1.0a user context). */
export type Caller =
  | { readonly kind: 'app'; readonly appKey: string }
  | { readonly kind: 'user'; readonly appKey: string; readonly user: StoredUser };

export type AuthPolicy = 'appOnly' | 'userOnly' | 'either';

/**
 * Checks a request's credentials as X does: an app-only bearer token, or an OAuth 1.0a signature
 * over the method, URL and parameters with the app's and the user's secrets. `undefined` when they
 * do not hold (the reason is logged, never the secrets).
 */
export function createAuthenticator(credentials: XEmulatorCredentials, owner: StoredUser, logger: Logger): (req: Request) => Caller | undefined {
  const appKey = credentials.apiKey;
  return (req: Request): Caller | undefined => {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(header);
    if (bearer !== null) return safeEqual(bearer[1] ?? '', credentials.bearerToken) ? { kind: 'app', appKey } : undefined;
    const url = new URL(req.originalUrl, 'https://emulator.invalid');
    const hostHeader = (req.headers.host ?? '').toLowerCase().replace(/:443$/, '');
    const verdict = verifyOAuth1(
      { method: req.method, baseUrl: `https://${hostHeader}${url.pathname}`, params: [...url.searchParams], authorization: header },
      {
        consumerKey: credentials.apiKey,
        consumerSecret: credentials.apiSecret,
        token: credentials.accessToken,
        tokenSecret: credentials.accessSecret,
      },
    );
    if (!verdict.ok) {
      logger.info({ reason: verdict.reason, path: url.pathname }, 'OAuth 1.0a request refused');
      return undefined;
    }
    return { kind: 'user', appKey, user: owner };
  };
}
