import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { createEnvReader, type EnvReader } from './env-reader.js';

/**
 * Command lines in the one config dialect: flags are read like variables (`--runs`), blank means
 * unset, and the command line's issues are reported with the environment's, all at once.
 */

/**
 * Reads the command line: its flags become the reader's names (`--runs`), and the one positional
 * argument, if the command takes one, is the flag `positional` names. `--dry-run` is a switch unless
 * `options.dryRun` is false; `options.switches` names more (`heal` for `--heal`), and `switched` holds
 * those given. A mistake becomes a ConfigError with the usage.
 */
export function readCommandLine(
  argv: readonly string[],
  flags: readonly string[],
  positional: string | undefined,
  usage: string,
  options: { readonly dryRun?: boolean; readonly switches?: readonly string[] } = {},
): { args: EnvReader; dryRun: boolean; switched: ReadonlySet<string> } {
  let parsed: { readonly values: Readonly<Record<string, string | boolean | undefined>>; readonly positionals: readonly string[] };
  try {
    const known: Record<string, { type: 'string' | 'boolean' }> = options.dryRun === false ? {} : { 'dry-run': { type: 'boolean' } };
    for (const flag of flags) known[flag] = { type: 'string' };
    for (const flag of options.switches ?? []) known[flag] = { type: 'boolean' };
    parsed = parseArgs({ args: [...argv], options: known, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError([`command line: ${err instanceof Error ? err.message : String(err)}; usage: ${usage}`]);
  }
  const { values, positionals } = parsed;
  const most = positional === undefined ? 0 : 1;
  if (positionals.length > most) throw new ConfigError([`command line: ${most === 0 ? 'no positional arguments' : 'one positional argument (N) at most'}, got ${String(positionals.length)}; usage: ${usage}`]);
  const given: Record<string, string | undefined> = {};
  for (const flag of flags) {
    const value = values[flag];
    given[`--${flag}`] = typeof value === 'string' ? value : undefined;
  }
  if (positional !== undefined) given[`--${positional}`] ??= positionals[0];
  const switched = new Set((options.switches ?? []).filter((flag) => values[flag] === true));
  return { args: createEnvReader(given), dryRun: values['dry-run'] === true, switched };
}

/** Every issue of both sources at once; the command line's are marked as such. */
export function finish<T>(env: EnvReader, args: EnvReader, config: T): T {
  const issues = [...env.issues, ...args.issues.map((issue) => `command line: ${issue}`)];
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}
