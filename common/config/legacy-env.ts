import type { Env } from './env-reader.js';

/** Which process reads the variables: `PORT` means a different port for each. */
export type LegacyRole = 'publisher' | 'consumer' | 'demo';

export interface LegacyEnv {
  /** The environment with each old name copied to its new one where the new one is unset. */
  readonly env: Env;
  /** One line per old name in use, for the log: which new name it stands for. */
  readonly notices: readonly string[];
  readonly issues: readonly string[];
}

/** The original demo's names (seed 000) and the names that replaced them. */
const renamed: readonly (readonly [old: string, current: string])[] = [
  ['TWITTER_CONSUMER_KEY', 'X_API_KEY'],
  ['TWITTER_CONSUMER_SECRET', 'X_API_SECRET'],
  ['TWITTER_ACCESS_TOKEN_KEY', 'X_ACCESS_TOKEN'],
  ['TWITTER_ACCESS_TOKEN_SECRET', 'X_ACCESS_SECRET'],
];

const set = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
};

/**
 * Lets a user of the original demo keep its variables: `PUBLISH_TO_KAFKA_YN`, `KAFKA_SERVER`,
 * `KAFKA_TOPIC` (unchanged), `TWITTER_*`, `MONGODB_HOST`/`MONGODB_PORT` and `PORT`. An old name
 * only fills a new name that is unset; when both are set the new one wins and a notice says so.
 */
export function applyLegacyAliases(env: Env, role: LegacyRole): LegacyEnv {
  const out: Record<string, string | undefined> = { ...env };
  const notices: string[] = [];
  const issues: string[] = [];

  function alias(old: string, current: string, value: string | undefined = set(env, old)): void {
    if (value === undefined) return;
    if (set(env, current) !== undefined) {
      notices.push(`${old} is ignored because ${current} is set`);
      return;
    }
    out[current] = value;
    notices.push(`${old} is the original demo's name for ${current}; it works, and ${current} is the name to use from now on`);
  }

  for (const [old, current] of renamed) alias(old, current);

  const kafkaYn = set(env, 'PUBLISH_TO_KAFKA_YN');
  if (kafkaYn !== undefined) {
    const yn = kafkaYn.toUpperCase();
    if (yn === 'Y' || yn === 'YES') alias('PUBLISH_TO_KAFKA_YN', 'TRANSPORT', 'kafka');
    else if (yn === 'N' || yn === 'NO') alias('PUBLISH_TO_KAFKA_YN', 'TRANSPORT', 'x');
    else issues.push('PUBLISH_TO_KAFKA_YN should hold Y (Kafka) or N (X); TRANSPORT=x|kafka|redis-streams is its new name');
  }

  // The old demo took "the IP address of the Kafka Server": a host, maybe without a port.
  const server = set(env, 'KAFKA_SERVER');
  if (server !== undefined) {
    const brokers = server
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b !== '')
      .map((b) => (/:\d+$/.test(b) ? b : `${b}:9092`));
    alias('KAFKA_SERVER', 'KAFKA_BROKERS', brokers.join(','));
  }

  const hashtag = set(env, 'TWITTER_HASHTAG');
  if (hashtag !== undefined) alias('TWITTER_HASHTAG', 'X_HASHTAG', hashtag.replace(/^[#＃]/, ''));

  const mongoHost = set(env, 'MONGODB_HOST');
  if (mongoHost !== undefined && role !== 'publisher') {
    const port = set(env, 'MONGODB_PORT') ?? '27017';
    if (!/^\d{1,5}$/.test(port)) issues.push('MONGODB_PORT should hold a TCP port number (the original demo\'s name; MONGODB_URL is the new one)');
    else {
      const host = mongoHost.includes(':') && !mongoHost.startsWith('[') ? `[${mongoHost}]` : mongoHost;
      alias('MONGODB_HOST', 'MONGODB_URL', `mongodb://${host}:${port}`);
      // The original consumer always wrote to MongoDB.
      if (set(env, 'STORE') === undefined && set(env, 'MONGODB_URL') === undefined) out['STORE'] = 'mongodb';
    }
  }

  if (role !== 'demo') alias('PORT', role === 'publisher' ? 'PUBLISHER_PORT' : 'CONSUMER_PORT');

  return { env: out, notices, issues };
}
