import type { Express } from 'express';
import type { JsonObject } from '../../events/json.js';
import type { EmulatorContext } from '../context.js';
import { renderIncludes, renderPost } from '../fields.js';
import { send, sendJson } from '../http.js';
import * as problems from '../problems.js';
import { selectionOr400 } from '../routing.js';
import { matchesRule, parseRule } from '../rules.js';
import { maxQueryLength } from '../limits.js';
import { compareSnowflakes, isSnowflake } from '../snowflake.js';

/** Recent search reaches back 7 days. */
const searchWindowMs = 7 * 24 * 60 * 60 * 1000;

/** Recent search (GET /2/tweets/search/recent): the last 7 days, newest first, paged with next_token. */
export function mountSearchRoutes(app: Express, ctx: EmulatorContext): void {
  const { route, state, now } = ctx;

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
}
