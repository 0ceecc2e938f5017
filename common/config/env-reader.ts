import { z } from 'zod';

/** The environment a configuration is read from: the process's own, or a test's. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads variables and collects every problem, so a service reports them all at once. Each issue
 * names the variable and what it should hold; values are never echoed, because some are secrets.
 * An empty or blank variable counts as unset.
 */
export interface EnvReader {
  /** The trimmed value, or undefined when unset or blank. */
  readonly value: (name: string) => string | undefined;
  /** The parsed value, the fallback when unset, or the fallback plus an issue when it does not parse. */
  readonly read: <T>(name: string, schema: z.ZodType<T>, fallback: T, should: string) => T;
  /** The value; when unset, '' plus an issue that says what it must hold. */
  readonly required: (name: string, should: string) => string;
  /** Adds an issue of the caller's own. */
  readonly problem: (issue: string) => void;
  readonly issues: readonly string[];
}

export function createEnvReader(env: Env): EnvReader {
  const issues: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  return {
    issues,
    value,
    read: (name, schema, fallback, should) => {
      const raw = value(name);
      if (raw === undefined) return fallback;
      const parsed = schema.safeParse(raw);
      if (parsed.success) return parsed.data;
      issues.push(`${name} should hold ${should}`);
      return fallback;
    },
    required: (name, should) => {
      const raw = value(name);
      if (raw === undefined) issues.push(`${name} is required: ${should}`);
      return raw ?? '';
    },
    problem: (issue) => {
      issues.push(issue);
    },
  };
}

/** A whole number from `min` to `max`, from a variable's text. */
export const wholeNumber = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** true/false, 1/0, yes/no. */
export const booleanFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const durationUnits = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationUnitSchema = z.enum(['ms', 's', 'm', 'h', 'd']);

/**
 * A duration in milliseconds, from `0`, a whole number of milliseconds, or a number with a unit:
 * `90s`, `30m`, `1h`, `7d`, `1.5h`. At most `maxMs`.
 */
export const duration = (maxMs: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)?$/)
    .transform((text) => {
      const [, amount = '0', unit = 'ms'] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text) ?? [];
      return Math.round(Number(amount) * durationUnits[durationUnitSchema.parse(unit === '' ? 'ms' : unit)]);
    })
    .pipe(z.number().int().min(0).max(maxMs));
