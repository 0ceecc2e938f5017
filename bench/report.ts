import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../common/errors.js';
import { findUp } from '../common/find-up.js';
import { choosePgliteTier, pgliteTier } from '../common/pglite.js';

/** The machine column of `bench/results.md`: CPU model, cores, memory, Node version, and PGlite's compiler tier (PGLITE_OPTIMIZE). */
export function machine(): string {
  const cores = cpus();
  const model = (cores[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  return `${model}, ${cores.length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.version}, PGlite ${pgliteTier()} tier`;
}

/** The date column of `bench/results.md`: now, in UTC, to the minute. */
export function resultDate(now: Date = new Date()): string {
  return now.toISOString().slice(0, 16).replace('T', ' ');
}

/** A plain-text table for the console, columns right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const fixed = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/**
 * The median run by `value`: a run that really happened (the lower middle one for an even count),
 * so every figure reported beside it comes from the same run.
 */
export function medianBy<T>(runs: readonly T[], value: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => value(a) - value(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('no runs');
  return median;
}

/** The bench's report goes to stdout; the services' own logs go to stderr. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Finds `bench/results.md` by walking up from this module (it runs from `dist/bench/`). */
export function resultsPath(): string {
  // bench/report.ts is in the sources but not in dist/, so it marks the repository root (results.md may not exist yet).
  const root = findUp(join('bench', 'report.ts'), import.meta.url);
  if (root === undefined) throw new Error(`no bench/report.ts in ${dirname(fileURLToPath(import.meta.url))} or above`);
  return join(root, 'bench', 'results.md');
}

/** Rewrites `bench/results.md` with `render(its current text)` and returns its path. */
export async function updateResults(render: (existing: string) => string): Promise<string> {
  const path = resultsPath();
  const existing = existsSync(path) ? await readFile(path, 'utf8') : '';
  await writeFile(path, render(existing));
  return path;
}

/** The bench's configuration, or `undefined` after printing what is wrong (exit code 1): a CLI says it plainly. */
export function loadBenchConfig<T extends { readonly pgliteOptimize: boolean }>(load: () => T): T | undefined {
  try {
    const config = load();
    choosePgliteTier(config.pgliteOptimize);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    return undefined;
  }
}

/** Polls `check` every 10 ms until it resolves; after `timeoutMs` fails with its last error. */
export async function untilHealthy(check: () => Promise<void>, timeoutMs: number, what = 'the check'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: err });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
