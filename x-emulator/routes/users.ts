import type { Express } from 'express';
import type { EmulatorContext } from '../context.js';
import { renderUser } from '../fields.js';
import { sendJson } from '../http.js';
import { selectionOr400 } from '../routing.js';

/** GET /2/users/me: the account the OAuth 1.0a credentials act for. */
export function mountUserRoutes(app: Express, ctx: EmulatorContext): void {
  const { route } = ctx;

  app.get(
    '/2/users/me',
    route({ auth: 'userOnly', rateLimit: 'me', fault: 'me' }, ({ res, caller, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined || caller.kind !== 'user') return;
      sendJson(res, 200, { data: renderUser(caller.user, selection) });
    }),
  );
}
