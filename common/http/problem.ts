import type { RequestHandler, Response } from 'express';

/**
 * Errors over HTTP are RFC 9457 problem documents (`application/problem+json`), the same shape from
 * every service: `type`, `title`, `status`, `detail`, and members of the service's own.
 */
export interface Problem {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly [member: string]: unknown;
}

export function sendProblem(res: Response, problem: Problem): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', ...problem }));
}

/** The last handler of an app: a route nobody serves is a 404 problem, not Express's HTML page. */
export function notFound(): RequestHandler {
  return (req, res) => {
    sendProblem(res, { status: 404, title: 'Not found', detail: `no route for ${req.method} ${req.path}` });
  };
}
