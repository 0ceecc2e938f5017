import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { createServer } from 'node:https';
import express, { type NextFunction, type Request, type Response } from 'express';
import { listen } from '../common/http/server.js';
import type { Logger } from '../common/logger.js';
import { createAuthenticator } from './auth.js';
import { displayHost, makeCertificate } from './certificate.js';
import { createPosting, type EmulatorContext } from './context.js';
import { createFaultQueue, type FaultEndpoint, type FaultKind } from './faults.js';
import { send } from './http.js';
import type { PageUser } from './page.js';
import * as problems from './problems.js';
import { createRateLimiter, defaultRateLimits, type RateLimitedEndpoint, type RateLimitQuota } from './rate-limits.js';
import { createRoute } from './routing.js';
import { createFaultControls, mountAdminRoutes } from './routes/admin.js';
import { mountRuleRoutes } from './routes/rules.js';
import { mountSearchRoutes } from './routes/search.js';
import { mountStreamRoutes } from './routes/stream.js';
import { mountTweetRoutes } from './routes/tweets.js';
import { mountUserRoutes } from './routes/users.js';
import { createSnowflakeGenerator } from './snowflake.js';
import { createEmulatorState } from './state.js';
import { createStreamHub } from './streams.js';

export interface XEmulatorOptions {
  /** 0 = random. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger: Logger;
  now?: () => Date;
  /** Default 20000. */
  keepAliveMs?: number;
  credentials?: Partial<XEmulatorCredentials>;
  /** If set, writes cert.pem (public cert only) there. */
  certDir?: string;
  /** Replaces the quotas of the named endpoints (see rate-limits.ts for X's defaults). */
  rateLimits?: Partial<Record<RateLimitedEndpoint, readonly RateLimitQuota[]>>;
  /** How long an injected `rateLimit` fault says to wait (x-rate-limit-reset). Default 3000. */
  faultRateLimitResetMs?: number;
  /** Extra DNS names or IPs for the certificate, besides 127.0.0.1, ::1 and localhost (e.g. a compose service name). */
  certHosts?: readonly string[];
  /**
   * Who the hand-post page offers to post as, each with a note (`on the allow-list`), the first as
   * the default. Any name can still be typed. Default: `speaker`, with no note.
   */
  pageUsers?: readonly PageUser[];
}

export interface XEmulatorCredentials {
  bearerToken: string;
  apiKey: string;
  apiSecret: string;
  accessToken: string;
  accessSecret: string;
  userId: string;
  username: string;
}

export type EmulatorPostSummary = {
  readonly id: string;
  readonly username: string;
  readonly author_id: string;
  readonly text: string;
  readonly created_at: string;
};

export interface XEmulator {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** PEM of the self-signed certificate; trust it with `new https.Agent({ ca })`. */
  readonly ca: string;
  readonly credentials: XEmulatorCredentials;
  readonly faults: XEmulatorFaults;
  /** Posts as `username` (created if new) without OAuth, with the same text rules and stream delivery. Throws HandPostError. */
  handPost(username: string, text: string): Promise<{ id: string; text: string }>;
  /** The newest posts first, as the page shows them (text as X returns it: entities escaped, links wrapped). */
  recentPosts(limit?: number): readonly EmulatorPostSummary[];
  /** Ends open streams and the server at once; calling it twice is harmless. */
  close(): Promise<void>;
}

export interface XEmulatorFaults {
  fail(endpoint: FaultEndpoint, kind: FaultKind, times?: number): void;
  /** Destroy open stream sockets abruptly. */
  dropStreams(): void;
  /** Open streams go silent (no keep-alives, no data) for ms; posts matched meanwhile are delivered afterwards. */
  stallStreams(ms: number): void;
  /** Send an in-stream error message, then close, as X does. */
  operationalDisconnect(): void;
  /** Write stream messages in small chunks that split multi-byte UTF-8 characters. */
  splitChunks(on: boolean): void;
  reset(): void;
}

export type { FaultEndpoint, FaultKind } from './faults.js';
export type { RateLimitedEndpoint, RateLimitQuota, QuotaHeader, QuotaScope } from './rate-limits.js';
export { defaultRateLimits } from './rate-limits.js';

export const defaultCredentials: XEmulatorCredentials = {
  bearerToken: 'emulator-bearer-token',
  apiKey: 'emulator-api-key',
  apiSecret: 'emulator-api-secret',
  accessToken: '1000000000000000001-emulator-access-token',
  accessSecret: 'emulator-access-secret',
  userId: '1000000000000000001',
  username: 'tweetbus_bot',
};

export { certFileName } from './certificate.js';
export { HandPostError } from './context.js';
export { defaultHandPostText, maxQueryLength, maxRuleLength, maxRules } from './limits.js';

/**
 * Starts a local X API v2 over HTTPS: posting, the filtered stream and its rules, recent search,
 * lookups and users/me, with X's authentication, quotas and error shapes, plus faults to inject.
 * Each group of routes is a file of `routes/`; this file wires them to one context and runs the server.
 */
export async function startXEmulator(options: XEmulatorOptions): Promise<XEmulator> {
  const logger = options.logger.child({ component: 'xEmulator' });
  const now = options.now ?? (() => new Date());
  const credentials: XEmulatorCredentials = { ...defaultCredentials, ...options.credentials };
  const host = options.host ?? '127.0.0.1';
  const newId = createSnowflakeGenerator({ now });
  const state = createEmulatorState({ now, newId, owner: { id: credentials.userId, username: credentials.username } });
  const limiter = createRateLimiter({ ...defaultRateLimits, ...options.rateLimits }, now);
  const faultQueue = createFaultQueue();
  const hub = createStreamHub({ logger, keepAliveMs: options.keepAliveMs ?? 20_000, newConnectionId: randomUUID });
  const appKey = credentials.apiKey;
  const owner = state.ensureUser(credentials.username);
  const certificate = await makeCertificate(host, options.certHosts ?? [], options.certDir);
  const posting = createPosting(state, hub, logger);
  const route = createRoute({
    authenticate: createAuthenticator(credentials, owner, logger),
    faultQueue,
    limiter,
    appKey,
    faultResetMs: options.faultRateLimitResetMs ?? 3000,
    now,
    logger,
  });
  const faults = createFaultControls(faultQueue, hub, logger);
  const ctx: EmulatorContext = {
    logger,
    now,
    newId,
    state,
    hub,
    owner,
    appKey,
    route,
    faultQueue,
    faults,
    createPost: posting.createPost,
    latestPosts: posting.latestPosts,
    pageUsers: options.pageUsers ?? [{ username: 'speaker' }],
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ type: ['application/json', 'application/*+json'] }));
  app.use((req, _res, next) => {
    logger.debug({ method: req.method, path: req.path }, 'request');
    next();
  });
  mountTweetRoutes(app, ctx);
  mountStreamRoutes(app, ctx);
  mountRuleRoutes(app, ctx);
  mountSearchRoutes(app, ctx);
  mountUserRoutes(app, ctx);
  mountAdminRoutes(app, ctx);
  app.use((_req: Request, res: Response) => {
    send(res, problems.pageNotFound);
  });

  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express recognises an error handler by its four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    if (status >= 400 && status < 500) {
      send(res, problems.invalidRequest('The request body is not valid JSON.'));
      return;
    }
    logger.error({ err }, 'request failed');
    send(res, { status: 500, body: { title: 'Internal Server Error', detail: 'Internal Server Error', type: 'about:blank', status: 500 } });
  });

  const server = createServer({ key: certificate.key, cert: certificate.cert }, app);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server, options.port ?? 0, host);
  const url = `https://${displayHost(host)}:${port}`;
  logger.info({ url, user: credentials.username }, 'x-emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    ca: certificate.cert,
    credentials,
    faults,
    handPost: (username, text) => Promise.resolve().then(() => posting.handPost(username, text)),
    recentPosts: (limit) => posting.latestPosts(limit),
    close() {
      closing ??= new Promise<void>((resolve) => {
        hub.close();
        server.close(() => {
          resolve();
        });
        for (const socket of sockets) socket.destroy();
        logger.info('x-emulator closed');
      });
      return closing;
    },
  };
}
