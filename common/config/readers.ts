import { z } from 'zod';
import { collectionNamePattern } from '../../events/envelope.js';
import type { LogLevel } from '../logger.js';
import { booleanFlag, wholeNumber, type EnvReader } from './env-reader.js';

/**
 * The readers every service's `config.ts` composes: each reads one kind of variable the same way
 * everywhere (blank means unset, problems name the variable and never echo the value).
 */

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** LOG_LEVEL, `info` by default. */
export function readLogLevel(env: EnvReader): LogLevel {
  return readLevel(env, 'LOG_LEVEL', 'info');
}

/** A log level in the variable named (a benchmark's BENCH_LOG_LEVEL). */
export function readLevel(env: EnvReader, name: string, fallback: LogLevel): LogLevel {
  return env.read(name, z.enum(logLevels), fallback, `one of ${logLevels.join(', ')}`);
}

/** A TCP port to listen on (0 picks a free one). */
export function readPort(env: EnvReader, name: string, fallback: number): number {
  return env.read(name, wholeNumber(0, 65_535), fallback, 'a TCP port number (0-65535; 0 picks a free one)');
}

/** The address to listen on, loopback by default. */
export function readHost(env: EnvReader, name = 'HOST'): string {
  return env.read(name, z.string(), '127.0.0.1', 'the address to listen on, e.g. 127.0.0.1 or 0.0.0.0');
}

/** DATA_DIR: where the embedded databases live. */
export function readDataDir(env: EnvReader): string {
  return env.read('DATA_DIR', z.string(), './data', 'a directory path');
}

/** PGLITE_OPTIMIZE: whether V8 also compiles the embedded databases' hot code with its optimizing compiler (common/pglite.ts). */
export function readPgliteOptimize(env: EnvReader): boolean {
  return env.read('PGLITE_OPTIMIZE', booleanFlag, false, "true or false (true: the embedded databases' hot code is optimized, about 50% faster upserts and 60 MiB larger)");
}

/** Whether `value` is a URL whose scheme is one of `schemes` (`postgres:`, `mongodb+srv:`). */
export function isUrlWith(schemes: readonly string[], value: string): boolean {
  try {
    return schemes.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** A URL with one of `schemes`, or undefined when unset. */
export function readUrl(env: EnvReader, name: string, schemes: readonly string[], should: string): string | undefined {
  const value = env.value(name);
  if (value === undefined) return undefined;
  if (!isUrlWith(schemes, value)) {
    env.problem(`${name} should hold ${should}`);
    return undefined;
  }
  return value;
}

/** COLLECTIONS: distinct names (in any letter case, as hashtags match), `orders` by default. */
export function readCollections(env: EnvReader): readonly string[] {
  return env.read(
    'COLLECTIONS',
    z
      .string()
      .transform((s) => s.split(',').map((c) => c.trim()).filter((c) => c !== ''))
      .pipe(z.array(z.string().regex(collectionNamePattern)).min(1))
      .refine((list) => new Set(list.map((name) => name.toLowerCase())).size === list.length),
    ['orders'],
    'a comma-separated list of distinct collection names (letters, digits and _, at most 64, starting with a letter; names that differ only in letter case are one hashtag)',
  );
}

/** One of `choices`, `fallback` when unset. */
export function readChoice<const T extends readonly [string, ...string[]]>(env: EnvReader, name: string, choices: T, fallback: T[number], should?: string): T[number] {
  return env.read(name, z.enum(choices), fallback, should ?? `one of ${choices.join(', ')}`);
}
