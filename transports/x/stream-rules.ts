import type { TwitterApi } from 'twitter-api-v2';
import type { Logger } from '../../common/logger.js';
import { rulesSchema } from './payloads.js';

export const defaultRuleTagPrefix = 'tweetbus:';

export interface StreamRule {
  readonly value: string;
  readonly tag: string;
}

/**
 * The rule (and the recent-search query) for our hashtags: `(#orders OR #customers) -is:retweet`.
 * Retweets are left out because a retweet of an event is the same event again. The tag names the
 * hashtags in sorted order, so it is stable however the collections were listed.
 */
export function streamRuleFor(hashtags: readonly string[], tagPrefix = defaultRuleTagPrefix): StreamRule {
  const tags = [...new Set(hashtags.map((h) => h.replace(/^#/, '')))].sort();
  if (tags.length === 0) throw new Error('at least one hashtag is needed for the stream rule');
  const terms = tags.map((t) => `#${t}`);
  const match = terms.length === 1 ? terms.join('') : `(${terms.join(' OR ')})`;
  const value = `${match} -is:retweet`;
  if (value.length > 512) throw new Error(`the stream rule is ${value.length} characters; X accepts at most 512 in a search query`);
  return { value, tag: `${tagPrefix}${tags.join(',')}` };
}

/**
 * Makes sure the rule exists, idempotently: lists the rules, adds ours only when no rule has its
 * value, and deletes only rules that carry our tag prefix and differ from it (an earlier
 * configuration of ours). Rules anyone else made are left alone.
 */
export async function ensureStreamRule(
  client: TwitterApi,
  rule: StreamRule,
  logger: Logger,
  tagPrefix = defaultRuleTagPrefix,
): Promise<'present' | 'added'> {
  const listed: unknown = await client.v2.streamRules();
  const parsed = rulesSchema.safeParse(listed);
  if (!parsed.success) throw new Error('X answered the rule list in an unexpected shape');
  const rules = parsed.data.data ?? [];
  const stale = rules.filter((r) => r.tag?.startsWith(tagPrefix) === true && (r.value !== rule.value || r.tag !== rule.tag));
  if (stale.length > 0) {
    await client.v2.updateStreamRules({ delete: { ids: stale.map((r) => r.id) } });
    logger.info({ rules: stale.map((r) => ({ id: r.id, value: r.value, tag: r.tag })) }, 'deleted our outdated stream rules');
  }
  const staleIds = new Set(stale.map((r) => r.id));
  if (rules.some((r) => !staleIds.has(r.id) && r.value === rule.value)) return 'present';
  await client.v2.updateStreamRules({ add: [{ value: rule.value, tag: rule.tag }] });
  logger.info({ rule }, 'added the stream rule');
  return 'added';
}
