import type { Express, Response } from 'express';
import { z } from 'zod';
import type { JsonObject } from '../../events/json.js';
import type { EmulatorContext } from '../context.js';
import { renderIncludes, renderPost } from '../fields.js';
import { send, sendJson, textRejection } from '../http.js';
import * as problems from '../problems.js';
import { selectionOr400 } from '../routing.js';
import { isSnowflake } from '../snowflake.js';
import type { StoredPost } from '../state.js';

const createTweetBody = z.object({ text: z.string() });

/** The post id of the path, or `undefined` after answering 400 as X does for one that is not a snowflake. */
function postIdOr400(res: Response, id: string): string | undefined {
  if (isSnowflake(id)) return id;
  send(res, problems.invalidRequest(`The \`id\` query parameter value [${id}] does not match ^[0-9]{1,19}$`, { name: 'id', value: id }));
  return undefined;
}

/** POST /2/tweets, DELETE /2/tweets/:id, and the lookups GET /2/tweets/:id and GET /2/tweets?ids=. */
export function mountTweetRoutes(app: Express, ctx: EmulatorContext): void {
  const { route, state, owner, logger, createPost } = ctx;

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
      const id = postIdOr400(res, String(req.params.id));
      if (id === undefined) return;
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
    '/2/tweets/:id',
    route({ auth: 'either', rateLimit: 'lookup' }, ({ req, res, query }) => {
      const selection = selectionOr400(res, query);
      if (selection === undefined) return;
      const id = postIdOr400(res, String(req.params.id));
      if (id === undefined) return;
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
}
