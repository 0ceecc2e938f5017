import { z } from 'zod';
import type { InboundMessage } from '../../events/message.js';
import { postMessageFields, type PostMeta } from './post-codec.js';

/**
 * What we read from X's stream and search answers. Everything from the network is `unknown`
 * until one of these schemas accepts it. Unknown fields are kept out; only what a message needs is read.
 */
export const postFields = ['author_id', 'created_at', 'entities', 'note_tweet', 'edit_history_tweet_ids'] as const;

const idString = z.string().regex(/^\d{1,20}$/, 'a post id is a string of digits');

const urlEntity = z.object({ url: z.string(), expanded_url: z.string().optional() }).loose();

export const postSchema = z
  .object({
    id: idString,
    text: z.string(),
    author_id: z.string().optional(),
    created_at: z.string().optional(),
    edit_history_tweet_ids: z.array(z.string()).optional(),
    note_tweet: z
      .object({ text: z.string(), entities: z.object({ urls: z.array(urlEntity).optional() }).loose().optional() })
      .loose()
      .optional(),
    entities: z.object({ urls: z.array(urlEntity).optional() }).loose().optional(),
  })
  .loose();

export type XPost = z.infer<typeof postSchema>;

const includesSchema = z
  .object({ users: z.array(z.object({ id: z.string(), username: z.string() }).loose()).optional() })
  .loose()
  .optional();

export type XIncludes = z.infer<typeof includesSchema>;

const streamErrorSchema = z
  .object({
    title: z.string().optional(),
    detail: z.string().optional(),
    type: z.string().optional(),
    disconnect_type: z.string().optional(),
  })
  .loose();

/** One line of the filtered stream: a post, or an error X sends inside the open stream. */
export const streamMessageSchema = z
  .object({
    data: postSchema.optional(),
    includes: includesSchema,
    errors: z.array(streamErrorSchema).optional(),
    matching_rules: z.array(z.object({ id: z.string().optional(), tag: z.string().optional() }).loose()).optional(),
  })
  .loose();

export type StreamMessage = z.infer<typeof streamMessageSchema>;

/** One page of recent search. `data` is absent when nothing matched. */
export const searchPageSchema = z
  .object({
    data: z.array(postSchema).optional(),
    includes: includesSchema,
    meta: z.object({ next_token: z.string().optional(), result_count: z.number().optional() }).loose().optional(),
  })
  .loose();

export const rulesSchema = z
  .object({ data: z.array(z.object({ id: z.string(), value: z.string(), tag: z.string().optional() }).loose()).optional() })
  .loose();

/** Does an in-stream error ask us to reconnect? X closes the stream after these. */
export function isDisconnectError(error: z.infer<typeof streamErrorSchema>): boolean {
  const text = `${error.title ?? ''} ${error.type ?? ''} ${error.disconnect_type ?? ''}`;
  return /disconnect/i.test(text);
}

/**
 * A post as the transport hands it on. A long post's full text is in `note_tweet` (its links too);
 * the username comes from the `author_id` expansion.
 */
export function toInboundMessage(post: XPost, includes: XIncludes, receivedAt: Date): InboundMessage {
  const authorId = post.author_id ?? '';
  const username = includes?.users?.find((u) => u.id === authorId)?.username;
  const entityUrls = post.note_tweet?.entities?.urls ?? post.entities?.urls ?? [];
  const meta: PostMeta = {
    id: post.id,
    authorId,
    username,
    createdAt: post.created_at,
    urls: entityUrls.map((u) => ({ url: u.url, expandedUrl: u.expanded_url ?? u.url })),
    editHistoryIds: post.edit_history_tweet_ids,
  };
  return { id: post.id, text: post.note_tweet?.text ?? post.text, receivedAt, ...postMessageFields(meta) };
}
