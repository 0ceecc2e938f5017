import { readFile } from 'node:fs/promises';
import { config as loadDotenv } from 'dotenv';
import { ConfigError } from './errors.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { createScope, type Scope } from './scope.js';

/** After the first signal, a process exits within this even if closing hangs (Kubernetes waits 30 s). */
export const defaultShutdownGraceMs = 25_000;

/**
 * On shutdown, how long the work in flight (a relay's batch) may take to finish by itself before the
 * transport is closed under it, aborting its requests. Every transport's request timeout is shorter
 * than the grace period too, so nothing waits on a silent peer past it.
 */
export const defaultShutdownDrainMs = 5_000;

/** The parts of `process` that `stopOnSignals` and `runService` use; tests pass a fake. */
export interface ProcessTarget {
  once(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
  exitCode: number | string | undefined;
}

export interface StopOnSignalsOptions {
  readonly logger: Logger;
  /**
   * Closes everything the composition root built. It should settle every part itself; if it rejects
   * anyway, the error is logged and the process exits with 1.
   */
  readonly close: () => Promise<void>;
  /** Logged at info with `{ signal }` when the first signal arrives: say what shutting down waits for. */
  readonly message: string;
  /** Logged at info once `close` has resolved; nothing is logged when it is omitted. */
  readonly stoppedMessage?: string;
  /** Default `defaultShutdownGraceMs`. */
  readonly graceMs?: number;
  /** Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Default the real `process`. */
  readonly target?: ProcessTarget;
}

/**
 * Stops the process cleanly on the first of `signals`: logs `message`, runs `close`, flushes the
 * logger and exits with 0. If closing takes longer than `graceMs`, it logs an error and exits with 1
 * (the timer does not keep the process alive). Later signals of another kind are ignored; a second
 * signal of the same kind gets Node's default handling, so a second Ctrl-C ends the process at once.
 * Call it once per process, after the service has started.
 */
export function stopOnSignals(options: StopOnSignalsOptions): void {
  const { logger } = options;
  const target = options.target ?? process;
  const graceMs = options.graceMs ?? defaultShutdownGraceMs;
  let stopping = false;
  const exit = (code: number): void => {
    logger.flush();
    target.exit(code);
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, options.message);
    const tooLong = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown took too long; exiting anyway');
      exit(1);
    }, graceMs);
    tooLong.unref();
    options.close().then(
      () => {
        clearTimeout(tooLong);
        if (options.stoppedMessage !== undefined) logger.info(options.stoppedMessage);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(tooLong);
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) target.once(signal, stop);
}

export interface RunServiceOptions extends StopOnSignalsOptions {
  /**
   * Builds and starts the service. Whatever it builds must be reachable from `close`, which also runs
   * when `start` fails halfway.
   */
  readonly start: () => Promise<void>;
  /** Logged at fatal with `{ err }` when `start` throws; a ConfigError is logged by its own message instead. */
  readonly failedMessage: string;
}

/**
 * A composition root's life after its configuration is loaded: runs `start`, then stops the process
 * on signals (see `stopOnSignals`). If `start` throws, it logs that as fatal, runs `close` (settled),
 * flushes the logger and sets the exit code to 1 without exiting, so the process ends once idle.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const { logger } = options;
  try {
    await options.start();
  } catch (err) {
    logger.fatal({ err }, err instanceof ConfigError ? err.message : options.failedMessage);
    await Promise.allSettled([options.close()]);
    logger.flush();
    (options.target ?? process).exitCode = 1;
    return;
  }
  stopOnSignals(options);
}

/**
 * Loads a service's configuration at start. On a ConfigError it logs the issues as fatal (each names
 * its variable) through a logger called `name`, sets the exit code to 1 and returns `undefined`, and
 * the caller returns. Any other error is thrown.
 */
export function loadConfigOrReport<T>(load: () => T, name: string): T | undefined {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const logger = createLogger({ name });
    logger.fatal({ issues: err.issues }, err.message);
    logger.flush();
    process.exitCode = 1;
    return undefined;
  }
}

/**
 * Reads a PEM file named by a configuration variable, for example the CA that `X_CA_FILE` points at.
 * Throws a ConfigError naming `variable` and the reason (ENOENT, EACCES, …) when it cannot be read.
 */
export async function readPemFile(path: string, variable: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'unreadable';
    throw new ConfigError([`${variable} must be the path of a readable PEM certificate file (${reason})`]);
  }
}

export interface MainOptions<C extends { readonly logLevel: LogLevel }> {
  /** The service's name: its logger's, and in the lines that say it failed to start. */
  readonly name: string;
  readonly loadConfig: () => C;
  /** Logged when the first signal arrives: what shutting down waits for. */
  readonly shutdownMessage: string;
  /** Builds and starts the service; everything it opens is deferred to `scope`, which closes it on shutdown or a failed start. */
  readonly start: (config: C, logger: Logger, scope: Scope) => Promise<void>;
}

/**
 * The one way a service runs as a process of its own: `.env` (when there is one), its configuration
 * (a ConfigError is one fatal line naming every variable, and exit code 1), its root logger, a scope
 * that owns what `start` opens, and a clean stop on SIGTERM or SIGINT.
 */
export function runMain<C extends { readonly logLevel: LogLevel }>(options: MainOptions<C>): void {
  const run = async (): Promise<void> => {
    loadDotenv({ quiet: true });
    const config = loadConfigOrReport(options.loadConfig, options.name);
    if (config === undefined) return;
    const logger = createLogger({ level: config.logLevel, name: options.name });
    const scope = createScope(logger);
    await runService({
      logger,
      close: () => scope.close(),
      failedMessage: `${options.name} failed to start`,
      message: options.shutdownMessage,
      stoppedMessage: 'stopped',
      start: () => options.start(config, logger, scope),
    });
  };
  run().catch((err: unknown) => {
    // Only reached for a failure before the logger exists (for example dotenv itself).
    process.stderr.write(`${options.name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
