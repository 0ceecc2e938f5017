import { z } from 'zod';
import { createEnvReader, type Env, type EnvReader } from '../common/config/env-reader.js';
import { readHost, readLogLevel, readPort } from '../common/config/readers.js';
import { ConfigError } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import type { XEmulatorCredentials } from './server.js';

/** x-emulator run on its own (`npm run x-emulator`, or its container), configured by environment alone. */
export interface XEmulatorConfig {
  readonly port: number;
  readonly host: string;
  /** Where cert.pem (the public certificate only) is written for clients to trust. */
  readonly certDir: string;
  /** Extra certificate names, e.g. the compose service name other containers use. */
  readonly certHosts: readonly string[];
  /** Only the variables that are set; the rest keep the emulator's fixed demo values. */
  readonly credentials: Partial<XEmulatorCredentials>;
  readonly logLevel: LogLevel;
}


/** A credential the emulator accepts in place of its demo value; unset keeps the demo value. */
function readSecret(env: EnvReader, name: string, what: string): string | undefined {
  return env.read<string | undefined>(name, z.string().regex(/^\S+$/), undefined, `${what}, without spaces (leave it unset for the demo value)`);
}

/**
 * Reads the emulator's configuration, as the services read theirs: every problem at once in one
 * `ConfigError`, each naming its variable, and a blank variable counts as unset.
 */
export function loadConfig(processEnv: Env = process.env): XEmulatorConfig {
  const env = createEnvReader(processEnv);
  const port = readPort(env, 'X_EMULATOR_PORT', 3443);
  const host = readHost(env, 'X_EMULATOR_HOST');
  const certDir = env.read('X_EMULATOR_CERT_DIR', z.string(), 'data/x-emulator', 'a directory path for cert.pem');
  const certHosts = env.read(
    'X_EMULATOR_CERT_HOSTS',
    z.string().regex(/^[A-Za-z0-9.:_-]+(,[A-Za-z0-9.:_-]+)*$/).transform((list) => list.split(',')),
    [],
    'comma-separated host names or IP addresses',
  );
  const entries: [keyof XEmulatorCredentials, string | undefined][] = [
    ['bearerToken', readSecret(env, 'X_EMULATOR_BEARER_TOKEN', 'the app-only bearer token clients will send')],
    ['apiKey', readSecret(env, 'X_EMULATOR_API_KEY', 'the OAuth 1.0a consumer (API) key')],
    ['apiSecret', readSecret(env, 'X_EMULATOR_API_SECRET', 'the OAuth 1.0a consumer (API) secret')],
    ['accessToken', readSecret(env, 'X_EMULATOR_ACCESS_TOKEN', 'the OAuth 1.0a access token of the posting user')],
    ['accessSecret', readSecret(env, 'X_EMULATOR_ACCESS_SECRET', 'the OAuth 1.0a access token secret')],
  ];
  const logLevel = readLogLevel(env);
  if (env.issues.length > 0) throw new ConfigError(env.issues);
  const credentials: Partial<Record<keyof XEmulatorCredentials, string>> = {};
  for (const [key, value] of entries) if (value !== undefined) credentials[key] = value;
  return { port, host, certDir, certHosts, credentials, logLevel };
}
