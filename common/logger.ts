import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

/** A level a logger can be set to, `silent` included. */
export type LogLevel = LevelWithSilent;

/**
 * Paths pino blanks out wherever they appear. Connection strings are also passed through
 * `redactUrl` before they are logged, because a password inside a URL is not a separate field.
 */
export const redactPaths = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.token',
  '*.secret',
  '*.bearerToken',
  '*.accessToken',
  '*.accessSecret',
  '*.apiKey',
  '*.apiSecret',
  '*.appKey',
  '*.appSecret',
  '*.connectionString',
  'password',
  'token',
  'secret',
  'bearerToken',
  'accessToken',
  'accessSecret',
  'apiKey',
  'apiSecret',
  'connectionString',
  // A Redis command's arguments (ioredis puts them on a failed command's error): AUTH's are the password.
  'command.args',
  '*.command.args',
];

/**
 * pino's error serializer, then the arguments of a failed command blanked out, on the error and on
 * every error in its `cause` chain and `errors` list: ioredis attaches `command: { name, args }`, and
 * for AUTH and HELLO (and CONFIG, ACL, MIGRATE) the arguments are credentials. Every command keeps
 * its name and loses its arguments: an XADD's are the event itself, and no list of commands whose
 * arguments are safe would stay complete.
 */
function serializeError(err: unknown): unknown {
  return scrubCommands(pino.stdSerializers.err(err instanceof Error ? err : new Error(String(err))), 0);
}

function scrubCommands(value: unknown, depth: number): unknown {
  if (depth > 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => scrubCommands(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field: unknown = Reflect.get(value, key);
    if (key === 'command' && typeof field === 'object' && field !== null && 'args' in field) {
      const named: unknown = Reflect.get(field, 'name');
      const name = typeof named === 'string' ? named : undefined;
      out[key] = { ...(name === undefined ? {} : { name }), args: '[redacted]' };
    } else {
      out[key] = scrubCommands(field, depth + 1);
    }
  }
  return out;
}

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  readonly name?: string;
  /** Where lines go: `stdout` (the default), `stderr` (the benchmarks, whose stdout is the report), or a stream tests read back. */
  readonly destination?: DestinationStream | 'stdout' | 'stderr';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { err: serializeError },
    },
    options.destination === undefined || options.destination === 'stdout'
      ? pino.destination(1)
      : options.destination === 'stderr'
        ? pino.destination(2)
        : options.destination,
  );
}

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`. Leaves anything that is not a URL alone. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    return value.replace(/\/\/([^:/@\s]+):[^@/\s]+@/g, '//$1:***@');
  }
}

/** An error and its cause in one line, with any credentials inside URLs masked: safe for `/readyz` and status pages. */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return redactUrl(`${message}${cause}`);
}
