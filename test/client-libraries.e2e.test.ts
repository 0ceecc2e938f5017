import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServiceGroup, type ServiceGroup } from './processes.fixture.js';

/**
 * Each service loads only the client libraries its configuration names (docs/performance.md, "Memory": about
 * 10 MiB of a service's memory). A module hook, given to the built services through NODE_OPTIONS,
 * writes every package they import.
 */

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const notConfigured = ['mongodb', 'kafkajs', 'twitter-api-v2', 'oracledb'];

let group: ServiceGroup;
let nodeOptions: string;

beforeAll(async () => {
  group = await openServiceGroup('tweetbus-client-libraries-');
  const hooks = join(group.dir, 'hooks.mjs');
  await writeFile(
    hooks,
    `const seen = new Set();
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const name = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(resolved.url)?.[1];
  if (name !== undefined && !seen.has(name)) { seen.add(name); process.stderr.write('package loaded: ' + name + '\\n'); }
  return resolved;
}
`,
  );
  const register = join(group.dir, 'register.mjs');
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  nodeOptions = `--import=${pathToFileURL(register).href}`;
});

afterAll(async () => {
  await group.close();
});

function packagesOf(output: readonly string[]): string[] {
  return [...output.join('').matchAll(/^package loaded: (\S+)$/gm)].map((match) => match[1] ?? '');
}

describe('the client libraries a service loads', () => {
  it('are only those of its transport and store: over Redis with embedded databases, neither MongoDB, Kafka, X nor Oracle', async () => {
    const stream = `tweetbus:e2e:${String(process.pid)}:client-libraries`;
    const shared = { NODE_OPTIONS: nodeOptions, TRANSPORT: 'redis-streams', REDIS_URL: redisUrl, REDIS_STREAM: stream };
    const publisher = await group.startReady('publisher', 'publisher/main.js', 'PUBLISHER_PORT', { ...shared, DATA_DIR: join(group.dir, 'publisher') });
    const consumer = await group.startReady('consumer', 'consumer/main.js', 'CONSUMER_PORT', { ...shared, STORE: 'embedded', DATA_DIR: join(group.dir, 'consumer') });

    for (const service of [publisher, consumer]) {
      const loaded = packagesOf(service.output);
      // The hook works: what the service does use shows.
      expect(loaded, service.name).toEqual(expect.arrayContaining(['ioredis', '@electric-sql/pglite', 'express']));
      for (const name of notConfigured) expect(loaded, `${service.name} loaded ${name}`).not.toContain(name);
    }
  });
});
