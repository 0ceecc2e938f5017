import { createLogger, type Logger } from '../common/logger.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { createServer } from 'node:https';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { generate } from 'selfsigned';
import { z } from 'zod';
import { listen } from '../common/http-server.js';
import type { JsonObject } from '../events/json.js';
import { createFaultQueue, faultEndpoints, faultKinds, type FaultEndpoint, type FaultKind } from './faults.js';
import { parseFieldSelection, renderIncludes, renderPost, renderUser, type FieldSelection } from './fields.js';
import { safeEqual, verifyOAuth1 } from './oauth1.js';
import { renderPage, type PageUser } from './page.js';
import * as problems from './problems.js';
import { createRateLimiter, defaultRateLimits, type RateLimitedEndpoint, type RateLimitQuota } from './rate-limits.js';
import { matchesRule, parseRule } from './rules.js';
import { compareSnowflakes, createSnowflakeGenerator, isSnowflake } from './snowflake.js';
import { createEmulatorState, usernamePattern, type StoredPost, type StoredRule, type StoredUser } from './state.js';
import { createStreamHub } from './streams.js';
import type { TextRejection } from './text.js';

export interface XEmulatorOptions {
  /** 0 = random. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: Logger;
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

export const certFileName = 'cert.pem';
export const defaultHandPostText = '#orders {"id":"h1","status":"OPEN"}';
export const maxRules = 1000;
export const maxRuleLength = 1024;
export const maxQueryLength = 512;
const searchWindowMs = 7 * 24 * 60 * 60 * 1000;

/** Why `handPost` (or POST /_emulator/posts) refused a post. */
export class HandPostError extends Error {
  readonly reason: TextRejection | 'duplicate' | 'invalidUsername';
  constructor(reason: HandPostError['reason'], message: string) {
    super(message);
    this.name = 'HandPostError';
    this.reason = reason;
  }
}

type Caller =
  | { readonly kind: 'app'; readonly appKey: string }
  | { readonly kind: 'user'; readonly appKey: string; readonly user: StoredUser };

type AuthPolicy = 'appOnly' | 'userOnly' | 'either';

interface RouteSpec {
  readonly auth: AuthPolicy;
  readonly rateLimit: RateLimitedEndpoint;
  readonly fault?: FaultEndpoint;
}

interface RouteContext {
  readonly req: Request;
  readonly res: Response;
  readonly caller: Caller;
  readonly query: URLSearchParams;
}

const addRulesBody = z.object({
  add: z.array(z.object({ value: z.string(), tag: z.string().max(128).optional() })).min(1).optional(),
  delete: z
    .object({ ids: z.array(z.string()).min(1).optional(), values: z.array(z.string()).min(1).optional() })
    .optional(),
});
const createTweetBody = z.object({ text: z.string() });
const handPostBody = z.object({ username: z.string(), text: z.string() });
const faultBody = z.union([
  z.object({
    endpoint: z.enum(['createTweet', 'deleteTweet', 'stream', 'rules', 'search', 'me']),
    kind: z.enum(['rateLimit', 'serverError', 'authError', 'tooManyConnections', 'duplicate', 'timeout', 'lostResponse']),
    times: z.number().int().min(1).max(10_000).optional(),
  }),
  z.object({ action: z.literal('dropStreams') }),
  z.object({ action: z.literal('stallStreams'), ms: z.number().int().min(0).max(3_600_000) }),
  z.object({ action: z.literal('operationalDisconnect') }),
  z.object({ action: z.literal('splitChunks'), on: z.boolean() }),
  z.object({ action: z.literal('reset') }),
]);

/** Requests under a `lostResponse` fault: carried out, then their connection drops instead of the answer. */
const lostResponses = new WeakSet<Response>();

/** Drops the connection instead of answering, for a request under a `lostResponse` fault. */
function answerLost(res: Response): boolean {
  if (!lostResponses.has(res)) return false;
  res.socket?.destroy();
  return true;
}

function send(res: Response, error: problems.XErrorResponse): void {
  if (answerLost(res)) return;
  const problem = typeof error.body.title === 'string' && typeof error.body.type === 'string';
  res.status(error.status).type(problem ? 'application/problem+json' : 'application/json').send(JSON.stringify(error.body));
}

function sendJson(res: Response, status: number, body: JsonObject): void {
  if (answerLost(res)) return;
  res.status(status).type('application/json').send(JSON.stringify(body));
}

function isErrorResponse(value: object): value is problems.XErrorResponse {
  return 'status' in value && 'body' in value;
}

function textRejection(reason: TextRejection | 'duplicate'): problems.XErrorResponse {
  switch (reason) {
    case 'duplicate':
      return problems.duplicateContent;
    case 'tooLong':
      return problems.textTooLong;
    case 'tooManyCashtags':
      return problems.tooManyCashtags;
    case 'empty':
      return problems.invalidRequest('Post text must not be empty.', { name: 'text' });
  }
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function isIp(value: string): boolean {
  return /^[0-9.]+$/.test(value) || value.includes(':');
}

/** Starts a local X API v2 over HTTPS. See ../shared/x-api-facts.md for what it imitates. */
export async function startXEmulator(options: XEmulatorOptions = {}): Promise<XEmulator> {
  const logger = (options.logger ?? createLogger({ level: 'silent' })).child({ component: 'xEmulator' });
  const now = options.now ?? (() => new Date());
  const credentials: XEmulatorCredentials = { ...defaultCredentials, ...options.credentials };
  const host = options.host ?? '127.0.0.1';
  const faultResetMs = options.faultRateLimitResetMs ?? 3000;
  const newId = createSnowflakeGenerator({ now });
  const state = createEmulatorState({ now, newId, owner: { id: credentials.userId, username: credentials.username } });
  const limiter = createRateLimiter({ ...defaultRateLimits, ...options.rateLimits }, now);
  const faultQueue = createFaultQueue();
  const hub = createStreamHub({ logger, keepAliveMs: options.keepAliveMs ?? 20_000, newConnectionId: randomUUID });
  const appKey = credentials.apiKey;
  const owner = state.ensureUser(credentials.username);

  const certNames = new Set(['localhost', '127.0.0.1', '::1', ...(options.certHosts ?? [])]);
  if (host !== '0.0.0.0' && host !== '::') certNames.add(host);
  const pems = await generate([{ name: 'commonName', value: 'tweetbus x-emulator' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...certNames].map((name) => (isIp(name) ? { type: 7, ip: name } : { type: 2, value: name })),
      },
    ],
  });
  if (options.certDir !== undefined) {
    await mkdir(options.certDir, { recursive: true });
    await writeFile(join(options.certDir, certFileName), pems.cert);
  }

  // ---- posting and delivery ------------------------------------------------------------------

  const streamMessage = (post: StoredPost, selection: FieldSelection, matching: readonly StoredRule[]): string => {
    const message: JsonObject = { data: renderPost(post, selection) };
    const includes = renderIncludes([post], selection, state.userById);
    if (includes !== undefined) message.includes = includes;
    message.matching_rules = matching.map((rule): JsonObject => (rule.tag === undefined ? { id: rule.id } : { id: rule.id, tag: rule.tag }));
    return JSON.stringify(message);
  };

  const createPost = (author: StoredUser, text: string) => {
    const result = state.createPost(author, text);
    if (!result.ok) {
      logger.info({ reason: result.reason, authorId: author.id }, 'post refused');
      return result;
    }
    const { post } = result;
    const matching = state.matchingRules(post);
    const delivered = matching.length === 0 ? 0 : hub.publish((selection) => streamMessage(post, selection, matching));
    logger.info({ postId: post.id, authorId: author.id, rules: matching.length, delivered }, 'post created');
    logger.debug({ post: { id: post.id, text: post.text } }, 'post text');
    return result;
  };

  const handPost = (username: string, text: string): { id: string; text: string } => {
    if (!usernamePattern.test(username)) {
      throw new HandPostError('invalidUsername', 'A user name is 1 to 15 letters, digits or underscores.');
    }
    const result = createPost(state.ensureUser(username), text);
    if (!result.ok) throw new HandPostError(result.reason, `X would refuse this post: ${result.reason}`);
    return { id: result.post.id, text: result.post.text };
  };

  // ---- authentication, faults and quotas -----------------------------------------------------

  const authenticate = (req: Request): Caller | undefined => {
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

  /** Answers for the fault, or (`lostResponse`) marks the request and returns false: it is carried out. */
  const applyFault = (res: Response, endpoint: RateLimitedEndpoint, caller: Caller, kind: FaultKind): boolean => {
    logger.info({ endpoint, kind }, 'injected fault');
    switch (kind) {
      case 'rateLimit': {
        const userId = caller.kind === 'user' ? caller.user.id : undefined;
        res.set(limiter.exhausted(endpoint, { appKey, userId }, new Date(now().getTime() + faultResetMs)));
        send(res, problems.rateLimitExceeded);
        return true;
      }
      case 'serverError':
        send(res, problems.serviceUnavailable);
        return true;
      case 'authError':
        send(res, problems.unauthorized);
        return true;
      case 'tooManyConnections':
        send(res, problems.tooManyConnections);
        return true;
      case 'duplicate':
        send(res, problems.duplicateContent);
        return true;
      case 'timeout':
        // Accepted and never answered; close() destroys the socket.
        return true;
      case 'lostResponse':
        lostResponses.add(res);
        return false;
    }
  };

  const route =
    (spec: RouteSpec, handler: (ctx: RouteContext) => void) =>
    (req: Request, res: Response): void => {
      const caller = authenticate(req);
      if (caller === undefined) {
        send(res, problems.unauthorized);
        return;
      }
      if (spec.auth === 'userOnly' && caller.kind === 'app') {
        send(res, problems.unsupportedAuthentication('app'));
        return;
      }
      if (spec.auth === 'appOnly' && caller.kind === 'user') {
        send(res, problems.unsupportedAuthentication('user'));
        return;
      }
      const fault = spec.fault === undefined ? undefined : faultQueue.take(spec.fault);
      if (fault !== undefined && applyFault(res, spec.rateLimit, caller, fault)) return;
      const decision = limiter.take(spec.rateLimit, { appKey, userId: caller.kind === 'user' ? caller.user.id : undefined });
      res.set(decision.headers);
      if (!decision.allowed) {
        logger.info({ endpoint: spec.rateLimit }, 'rate limit exceeded');
        send(res, problems.rateLimitExceeded);
        return;
      }
      handler({ req, res, caller, query: new URL(req.originalUrl, 'https://emulator.invalid').searchParams });
    };

  const selectionOr400 = (res: Response, query: URLSearchParams): FieldSelection | undefined => {
    const selection = parseFieldSelection(query);
    if (isErrorResponse(selection)) {
      send(res, selection);
      return undefined;
    }
    return selection;
  };

  // ---- the app ---------------------------------------------------------------------------------

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ type: ['application/json', 'application/*+json'] }));
  app.use((req, _res, next) => {
    logger.debug({ method: req.method, path: req.path }, 'request');
    next();
  });

  app.post(
    '/2/tweets',
    route({ auth: 'userOnly', rateLimit: 'createTweet', fault: 'createTweet' }, ({ req, res, caller }) => {
      const body = createTweetBody.safeParse(req.body);
      if (!body.success) {
        send(res, problems.invalidRequest('The request body must be a JSON object with a string `text`.', { name: 'text' }));
        return;
      }
      const author = caller.kind === 'user' ? caller.user : owner;
      const result = createPost(author, body.data.text);
      if (!result.ok) {
        send(res, textRejection(result.reason));
        return;
      }
      sendJson(res, 201, { data: { id: result.post.id, text: result.post.text, edit_history_tweet_ids: [result.post.id] } });
    }),
  );

  app.delete(
    '/2/tweets/:id',
    route({ auth: 'userOnly', rateLimit: 'deleteTweet', fault: 'deleteTweet' }, ({ req, res, caller }) => {
      const id = String(req.params.id);
      if (!isSnowflake(id)) {
        send(res, problems.invalidRequest(`The \`id\` query parameter value [${id}] does not match ^[0-9]{1,19}$`, { name: 'id', value: id }));
        return;
      }
      const post = state.post(id);
      if (post === undefined) {
        sendJson(res, 200, { data: { deleted: false } });
        return;
      }
      if (caller.kind !== 'user' || post.authorId !== caller.user.id) {
        send(res, problems.notAllowedToDelete);
        return;
      }
      post.deleted = true;
      logger.info({ postId: id }, 'post deleted');
      sendJson(res, 200, { data: { deleted: true } });
    }),
  );

  app.get(
    '/2/tweets/search/stream',
    route({ auth: 'appOnly', rateLimit: 'stream', fault: 'stream' }, ({ res, caller, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined) return;
      if (state.ruleCount() === 0) {
        send(res, problems.streamHasNoRules);
        return;
      }
      if (hub.count(caller.appKey) > 0) {
        logger.info('second stream connection refused');
        send(res, problems.tooManyConnections);
        return;
      }
      hub.open(res, caller.appKey, selection);
    }),
  );

  const ruleJson = (rule: StoredRule): JsonObject =>
    rule.tag === undefined ? { id: rule.id, value: rule.value } : { id: rule.id, value: rule.value, tag: rule.tag };

  app.get(
    '/2/tweets/search/stream/rules',
    route({ auth: 'appOnly', rateLimit: 'getRules', fault: 'rules' }, ({ res, query }) => {
      const ids = query.get('ids')?.split(',').filter((id) => id !== '');
      const rules = state.rules().filter((rule) => ids === undefined || ids.includes(rule.id));
      const meta: JsonObject = { sent: now().toISOString(), result_count: rules.length };
      sendJson(res, 200, rules.length > 0 ? { data: rules.map(ruleJson), meta } : { meta });
    }),
  );

  app.post(
    '/2/tweets/search/stream/rules',
    route({ auth: 'appOnly', rateLimit: 'addRules', fault: 'rules' }, ({ req, res, query }) => {
      const parsed = addRulesBody.safeParse(req.body);
      const dryRun = query.get('dry_run') === 'true';
      const sent = now().toISOString();
      if (!parsed.success || (parsed.data.add === undefined) === (parsed.data.delete === undefined)) {
        send(res, problems.invalidRequest('The request body must hold exactly one of `add` (a non-empty array of {value, tag}) or `delete` ({ids} or {values}).'));
        return;
      }
      const { add, delete: remove } = parsed.data;
      if (remove !== undefined) {
        const targets = [
          ...(remove.ids ?? []).map((id) => state.rules().find((r) => r.id === id) ?? id),
          ...(remove.values ?? []).map((value) => state.ruleByValue(value) ?? value),
        ];
        const errors: JsonObject[] = [];
        let deleted = 0;
        for (const target of targets) {
          if (typeof target === 'string') {
            errors.push({ value: target, title: 'Not Found Error', detail: 'Rule does not exist', type: 'https://api.twitter.com/2/problems/resource-not-found' });
            continue;
          }
          if (!dryRun) state.deleteRule(target.id);
          deleted += 1;
        }
        const body: JsonObject = { meta: { sent, summary: { deleted, not_deleted: errors.length } } };
        if (errors.length > 0) body.errors = errors;
        logger.info({ deleted, dryRun }, 'stream rules deleted');
        sendJson(res, 200, body);
        return;
      }
      const candidates = add ?? [];
      const errors: JsonObject[] = [];
      const accepted: StoredRule[] = [];
      let invalid = 0;
      for (const candidate of candidates) {
        const rule = parseRule(candidate.value, maxRuleLength);
        if (!rule.ok) {
          invalid += 1;
          errors.push({ value: candidate.value, details: [...rule.details], title: 'Invalid Rule', type: 'https://api.twitter.com/2/problems/invalid-rules' });
          continue;
        }
        const existing = state.ruleByValue(candidate.value) ?? accepted.find((r) => r.value === candidate.value);
        if (existing !== undefined) {
          errors.push({ value: candidate.value, id: existing.id, title: 'DuplicateRule', type: 'https://api.twitter.com/2/problems/duplicate-rules' });
          continue;
        }
        accepted.push({ id: newId(), value: candidate.value, tag: candidate.tag, expr: rule.expr });
      }
      const valid = candidates.length - invalid;
      if (invalid > 0) {
        // X refuses the whole request when any rule is invalid.
        sendJson(res, 400, { meta: { sent, summary: { created: 0, not_created: candidates.length, valid, invalid } }, errors });
        return;
      }
      if (state.ruleCount() + accepted.length > maxRules) {
        sendJson(res, 400, {
          meta: { sent, summary: { created: 0, not_created: candidates.length, valid, invalid: 0 } },
          errors: [{ title: 'RulesCapExceeded', type: 'https://api.twitter.com/2/problems/rule-cap', detail: `Rule creation would exceed your rule cap of ${maxRules}.` }],
        });
        return;
      }
      if (!dryRun) for (const rule of accepted) state.addRule(rule);
      const body: JsonObject = {
        meta: { sent, summary: { created: accepted.length, not_created: candidates.length - accepted.length, valid, invalid: 0 } },
      };
      if (accepted.length > 0) body.data = accepted.map(ruleJson);
      if (errors.length > 0) body.errors = errors;
      logger.info({ created: accepted.length, dryRun }, 'stream rules added');
      sendJson(res, accepted.length > 0 && !dryRun ? 201 : 200, body);
    }),
  );

  app.get(
    '/2/tweets/search/recent',
    route({ auth: 'either', rateLimit: 'search', fault: 'search' }, ({ res, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined) return;
      const q = query.get('query');
      if (q === null || q.trim() === '') {
        send(res, problems.invalidRequest('The `query` query parameter can not be empty', { name: 'query' }));
        return;
      }
      const rule = parseRule(q, maxQueryLength);
      if (!rule.ok) {
        send(res, problems.invalidRequest(rule.details.join(' '), { name: 'query', value: q }));
        return;
      }
      const rawMax = query.get('max_results');
      const maxResults = rawMax === null ? 10 : Number(rawMax);
      if (!Number.isInteger(maxResults) || maxResults < 10 || maxResults > 100) {
        send(res, problems.invalidRequest(`The \`max_results\` query parameter value [${rawMax ?? ''}] is not between 10 and 100`, { name: 'max_results', value: rawMax ?? '' }));
        return;
      }
      const ids: Record<'since_id' | 'until_id', string | undefined> = { since_id: undefined, until_id: undefined };
      const idParams: readonly ('since_id' | 'until_id')[] = ['since_id', 'until_id'];
      for (const name of idParams) {
        const value = query.get(name);
        if (value === null) continue;
        if (!isSnowflake(value)) {
          send(res, problems.invalidRequest(`The \`${name}\` query parameter value [${value}] does not match ^[0-9]{1,19}$`, { name, value }));
          return;
        }
        ids[name] = value;
      }
      const times: Record<'start_time' | 'end_time', number | undefined> = { start_time: undefined, end_time: undefined };
      const timeParams: readonly ('start_time' | 'end_time')[] = ['start_time', 'end_time'];
      for (const name of timeParams) {
        const value = query.get(name);
        if (value === null) continue;
        const ms = Date.parse(value);
        if (Number.isNaN(ms)) {
          send(res, problems.invalidRequest(`Invalid '${name}':'${value}'. '${name}' must be a date in the ISO 8601 format.`, { name, value }));
          return;
        }
        times[name] = ms;
      }
      const token = query.get('next_token') ?? query.get('pagination_token');
      let before: string | undefined;
      if (token !== null) {
        const decoded = /^b([0-9a-f]{1,16})$/.exec(token);
        if (decoded === null) {
          send(res, problems.invalidRequest(`The \`next_token\` query parameter value [${token}] is not valid`, { name: 'next_token', value: token }));
          return;
        }
        before = BigInt(`0x${decoded[1] ?? '0'}`).toString();
      }
      const oldest = now().getTime() - searchWindowMs;
      const found = state.postsNewestFirst(
        (post) =>
          post.createdAt.getTime() >= oldest &&
          (ids.since_id === undefined || compareSnowflakes(post.id, ids.since_id) > 0) &&
          (ids.until_id === undefined || compareSnowflakes(post.id, ids.until_id) < 0) &&
          (before === undefined || compareSnowflakes(post.id, before) < 0) &&
          (times.start_time === undefined || post.createdAt.getTime() >= times.start_time) &&
          (times.end_time === undefined || post.createdAt.getTime() < times.end_time) &&
          matchesRule(rule.expr, post.match),
      );
      const page = found.slice(0, maxResults);
      const first = page[0];
      const last = page[page.length - 1];
      if (first === undefined || last === undefined) {
        sendJson(res, 200, { meta: { result_count: 0 } });
        return;
      }
      const meta: JsonObject = { newest_id: first.id, oldest_id: last.id, result_count: page.length };
      if (found.length > page.length) meta.next_token = `b${BigInt(last.id).toString(16)}`;
      const body: JsonObject = { data: page.map((post) => renderPost(post, selection)) };
      const includes = renderIncludes(page, selection, state.userById);
      if (includes !== undefined) body.includes = includes;
      body.meta = meta;
      sendJson(res, 200, body);
    }),
  );

  app.get(
    '/2/tweets/:id',
    route({ auth: 'either', rateLimit: 'lookup' }, ({ req, res, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined) return;
      const id = String(req.params.id);
      if (!isSnowflake(id)) {
        send(res, problems.invalidRequest(`The \`id\` query parameter value [${id}] does not match ^[0-9]{1,19}$`, { name: 'id', value: id }));
        return;
      }
      const post = state.post(id);
      if (post === undefined) {
        sendJson(res, 200, { errors: [problems.tweetNotFound(id, 'id')] });
        return;
      }
      const body: JsonObject = { data: renderPost(post, selection) };
      const includes = renderIncludes([post], selection, state.userById);
      if (includes !== undefined) body.includes = includes;
      sendJson(res, 200, body);
    }),
  );

  app.get(
    '/2/tweets',
    route({ auth: 'either', rateLimit: 'lookup' }, ({ res, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined) return;
      const raw = query.get('ids') ?? '';
      const ids = raw.split(',').filter((id) => id !== '');
      if (ids.length === 0 || ids.length > 100 || !ids.every(isSnowflake)) {
        send(res, problems.invalidRequest('The `ids` query parameter must hold 1 to 100 comma-separated post ids.', { name: 'ids', value: raw }));
        return;
      }
      const posts: StoredPost[] = [];
      const errors: JsonObject[] = [];
      for (const id of ids) {
        const post = state.post(id);
        if (post === undefined) errors.push(problems.tweetNotFound(id, 'ids'));
        else posts.push(post);
      }
      const body: JsonObject = {};
      if (posts.length > 0) body.data = posts.map((post) => renderPost(post, selection));
      const includes = renderIncludes(posts, selection, state.userById);
      if (includes !== undefined) body.includes = includes;
      if (errors.length > 0) body.errors = errors;
      sendJson(res, 200, body);
    }),
  );

  app.get(
    '/2/users/me',
    route({ auth: 'userOnly', rateLimit: 'me', fault: 'me' }, ({ res, caller, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined || caller.kind !== 'user') return;
      sendJson(res, 200, { data: renderUser(caller.user, selection) });
    }),
  );

  app.delete(
    '/2/connections/all',
    route({ auth: 'appOnly', rateLimit: 'connections' }, ({ res, caller }) => {
      const killed = hub.endAll(caller.appKey);
      logger.info({ killed }, 'stream connections terminated');
      sendJson(res, 200, { data: { successful_kills: killed, failed_kills: 0 } });
    }),
  );

  // ---- the page and its helpers (no auth: the emulator listens on loopback by default) ------------

  const latestPosts = (limit = 50): EmulatorPostSummary[] =>
    state.postsNewestFirst(undefined, limit).map((post) => ({
      id: post.id,
      username: state.userById(post.authorId)?.username ?? post.authorId,
      author_id: post.authorId,
      text: post.text,
      created_at: post.createdAt.toISOString(),
    }));

  // Probes for containers: alive, and ready once the certificate is written (it is, before listen).
  app.get(['/healthz', '/readyz'], (_req, res) => {
    sendJson(res, 200, { status: 'ok' });
  });

  app.get('/', (_req, res) => {
    const nonce = randomBytes(16).toString('base64');
    res
      .status(200)
      .set('content-security-policy', `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'self'`)
      .set('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
      .send(
        renderPage({
          posts: latestPosts().map((p) => ({ id: p.id, username: p.username, text: p.text, createdAt: p.created_at })),
          users: options.pageUsers ?? [{ username: 'speaker' }],
          defaultText: defaultHandPostText,
          nonce,
        }),
      );
  });

  app.get('/_emulator/posts', (_req, res) => {
    sendJson(res, 200, {
      data: latestPosts(),
      meta: { open_streams: hub.count(appKey), rules: state.rules().map(ruleJson), faults: faultQueue.pending() },
    });
  });

  app.post('/_emulator/posts', (req, res) => {
    const body = handPostBody.safeParse(req.body);
    if (!body.success) {
      send(res, problems.invalidRequest('Send JSON {"username": "...", "text": "..."}.'));
      return;
    }
    if (!usernamePattern.test(body.data.username)) {
      send(res, problems.invalidRequest('A user name is 1 to 15 letters, digits or underscores.', { name: 'username' }));
      return;
    }
    const result = createPost(state.ensureUser(body.data.username), body.data.text);
    if (!result.ok) {
      send(res, textRejection(result.reason));
      return;
    }
    sendJson(res, 201, { data: { id: result.post.id, text: result.post.text } });
  });

  const faults: XEmulatorFaults = {
    fail(endpoint, kind, times = 1) {
      logger.info({ endpoint, kind, times }, 'fault armed');
      faultQueue.add(endpoint, kind, times);
    },
    dropStreams() {
      logger.info({ streams: hub.dropAll() }, 'streams dropped');
    },
    stallStreams(ms) {
      logger.info({ ms }, 'streams stalled');
      hub.stall(ms);
    },
    operationalDisconnect() {
      logger.info({ streams: hub.operationalDisconnect(JSON.stringify(problems.operationalDisconnectMessage)) }, 'operational disconnect');
    },
    splitChunks(on) {
      logger.info({ on }, 'split chunks');
      hub.setSplitChunks(on);
    },
    reset() {
      logger.info('faults reset');
      faultQueue.clear();
      hub.resetFaults();
    },
  };

  app.post('/_emulator/faults', (req, res) => {
    const parsed = faultBody.safeParse(req.body);
    if (!parsed.success) {
      send(
        res,
        problems.invalidRequest(
          `Send {endpoint: ${faultEndpoints.join('|')}, kind: ${faultKinds.join('|')}, times?} or {action: dropStreams|stallStreams (ms)|operationalDisconnect|splitChunks (on)|reset}.`,
        ),
      );
      return;
    }
    const fault = parsed.data;
    if ('endpoint' in fault) faults.fail(fault.endpoint, fault.kind, fault.times);
    else if (fault.action === 'dropStreams') faults.dropStreams();
    else if (fault.action === 'stallStreams') faults.stallStreams(fault.ms);
    else if (fault.action === 'operationalDisconnect') faults.operationalDisconnect();
    else if (fault.action === 'splitChunks') faults.splitChunks(fault.on);
    else faults.reset();
    sendJson(res, 200, { data: { applied: true } });
  });

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

  // ---- the server --------------------------------------------------------------------------------

  const server = createServer({ key: pems.private, cert: pems.cert }, app);
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
    ca: pems.cert,
    credentials,
    faults,
    handPost: (username, text) => Promise.resolve().then(() => handPost(username, text)),
    recentPosts: (limit) => latestPosts(limit),
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
