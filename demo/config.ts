import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { collectionNamePattern } from '../events/envelope.js';

/**
 * The demo's configuration: everything embedded, so every variable is optional.
 * Command-line flags: `--fresh` wipes the data directory first.
 */
export interface DemoConfig {
  readonly dataDir: string;
  readonly fresh: boolean;
  readonly host: string;
  readonly ports: { readonly writeApp: number; readonly publisher: number; readonly consumer: number; readonly xEmulator: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly hashtagPrefix: string;
}

const port = (name: string, fallback: number) =>
  z.coerce
    .number({ message: `${name} must be a TCP port number` })
    .int(`${name} must be a whole number`)
    .min(0, `${name} must be between 0 and 65535`)
    .max(65535, `${name} must be between 0 and 65535`)
    .default(fallback);

const envSchema = z.object({
  DATA_DIR: z.string().min(1).default('./data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  WRITE_APP_PORT: port('WRITE_APP_PORT', 3000),
  PUBLISHER_PORT: port('PUBLISHER_PORT', 3001),
  CONSUMER_PORT: port('CONSUMER_PORT', 3002),
  X_EMULATOR_PORT: port('X_EMULATOR_PORT', 3443),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  }).default('info'),
  X_HASHTAG_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_]*$/, 'X_HASHTAG_PREFIX may hold only letters, digits and _ (a hashtag ends at - or .)')
    .default(''),
});

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): DemoConfig {
  let flags: { fresh?: boolean | undefined };
  try {
    flags = parseArgs({ args: [...argv], options: { fresh: { type: 'boolean' } }, strict: true }).values;
  } catch (err) {
    throw new ConfigError([`command line: ${err instanceof Error ? err.message : String(err)}; the demo takes --fresh`]);
  }
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (!collectionNamePattern.test(`x${e.X_HASHTAG_PREFIX}orders`)) {
    throw new ConfigError(['X_HASHTAG_PREFIX: the prefix plus a collection name must form a hashtag of at most 64 characters']);
  }
  return {
    dataDir: e.DATA_DIR,
    fresh: flags.fresh === true,
    host: e.HOST,
    ports: { writeApp: e.WRITE_APP_PORT, publisher: e.PUBLISHER_PORT, consumer: e.CONSUMER_PORT, xEmulator: e.X_EMULATOR_PORT },
    logLevel: e.LOG_LEVEL,
    hashtagPrefix: e.X_HASHTAG_PREFIX,
  };
}
