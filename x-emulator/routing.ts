import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../common/logger.js';
import type { Caller, AuthPolicy } from './auth.js';
import type { FaultEndpoint, FaultKind, FaultQueue } from './faults.js';
import { parseFieldSelection, type FieldSelection } from './fields.js';
import { isErrorResponse, loseAnswer, send } from './http.js';
import * as problems from './problems.js';
import type { RateLimitedEndpoint, RateLimiter } from './rate-limits.js';

/** What X answers under the faults that are one fixed error. */
const faultAnswers: Record<Exclude<FaultKind, 'rateLimit' | 'timeout' | 'lostResponse'>, problems.XErrorResponse> = {
  serverError: problems.serviceUnavailable,
  authError: problems.unauthorized,
  tooManyConnections: problems.tooManyConnections,
  duplicate: problems.duplicateContent,
};

export interface RouteSpec {
  readonly auth: AuthPolicy;
  readonly rateLimit: RateLimitedEndpoint;
  readonly fault?: FaultEndpoint;
}

export interface RouteContext {
  readonly req: Request;
  readonly res: Response;
  readonly caller: Caller;
  readonly query: URLSearchParams;
}

/** Wraps an X route's handler in what every X endpoint does first: authentication, injected faults, then the quota. */
export type Route = (spec: RouteSpec, handler: (ctx: RouteContext) => void) => RequestHandler;

export interface RoutingOptions {
  readonly authenticate: (req: Request) => Caller | undefined;
  readonly faultQueue: FaultQueue;
  readonly limiter: RateLimiter;
  readonly appKey: string;
  readonly faultResetMs: number;
  readonly now: () => Date;
  readonly logger: Logger;
}

export function createRoute(options: RoutingOptions): Route {
  const { authenticate, faultQueue, limiter, appKey, faultResetMs, now, logger } = options;

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
      case 'timeout':
        // Accepted and never answered; close() destroys the socket.
        return true;
      case 'lostResponse':
        loseAnswer(res);
        return false;
      default:
        send(res, faultAnswers[kind]);
        return true;
    }
  };

  return (spec, handler) => (req, res): void => {
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
}

/** The `tweet.fields`, `expansions` and `user.fields` a request asked for, or `undefined` after answering 400. */
export function selectionOr400(res: Response, query: URLSearchParams): FieldSelection | undefined {
  const selection = parseFieldSelection(query);
  if (isErrorResponse(selection)) {
    send(res, selection);
    return undefined;
  }
  return selection;
}
