import type { RequestHandler } from 'express';
import { describeError, type Logger } from '../logger.js';
import { sendProblem } from './problem.js';

/** One dependency `/readyz` asks, by the name it reports. `check` throws with the reason when it is not ready. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** How long `/readyz` waits for each check. */
export const defaultReadinessTimeoutMs = 2_000;

/**
 * `GET /readyz`: asks every check at once, each within `timeoutMs`. Ready is 200 with each check's
 * `ok`; otherwise a 503 problem whose `detail` names every failing check with its reason (an error
 * and its cause, credentials in URLs masked) and whose `checks` holds them all.
 */
export function readinessHandler(checks: readonly ReadinessCheck[], logger: Logger, timeoutMs = defaultReadinessTimeoutMs): RequestHandler {
  return async (_req, res) => {
    const results = await Promise.all(checks.map(async (dependency) => ({ name: dependency.name, problem: await problemOf(() => dependency.check(), timeoutMs) })));
    const failed = results.filter((r) => r.problem !== undefined);
    const report = Object.fromEntries(results.map((r) => [r.name, r.problem ?? 'ok']));
    if (failed.length === 0) {
      res.json({ status: 'ready', checks: report });
      return;
    }
    logger.warn({ checks: report }, 'not ready');
    sendProblem(res, { status: 503, title: 'Not ready', detail: failed.map((r) => `${r.name}: ${r.problem ?? ''}`).join('; '), checks: report });
  };
}

/** Why `check` fails, or `undefined` when it resolves within `timeoutMs`. */
async function problemOf(check: () => Promise<void>, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      resolve(`no answer within ${String(timeoutMs)} ms`);
    }, timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => undefined, describeError), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
