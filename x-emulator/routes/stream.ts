import type { Express } from 'express';
import type { EmulatorContext } from '../context.js';
import { send, sendJson } from '../http.js';
import * as problems from '../problems.js';
import { selectionOr400 } from '../routing.js';

/** The filtered stream (GET /2/tweets/search/stream) and DELETE /2/connections/all. */
export function mountStreamRoutes(app: Express, ctx: EmulatorContext): void {
  const { route, state, hub, logger } = ctx;

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

  app.delete(
    '/2/connections/all',
    route({ auth: 'appOnly', rateLimit: 'connections' }, ({ res, caller }) => {
      const killed = hub.endAll(caller.appKey);
      logger.info({ killed }, 'stream connections terminated');
      sendJson(res, 200, { data: { successful_kills: killed, failed_kills: 0 } });
    }),
  );
}
