import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import type { XEmulatorCredentials } from './server.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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

const secret = (name: string, what: string) =>
  z
    .string()
    .min(1, `${name} must be ${what} (leave it unset for the demo value)`)
    .regex(/^\S+$/, `${name} must be ${what} without spaces`)
    .optional();

const envSchema = z.object({
  X_EMULATOR_PORT: z.coerce
    .number({ message: 'X_EMULATOR_PORT must be a TCP port number' })
    .int('X_EMULATOR_PORT must be a whole number')
    .min(0, 'X_EMULATOR_PORT must be between 0 and 65535')
    .max(65535, 'X_EMULATOR_PORT must be between 0 and 65535')
    .default(3443),
  X_EMULATOR_HOST: z.string().min(1, 'X_EMULATOR_HOST must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0').default('127.0.0.1'),
  X_EMULATOR_CERT_DIR: z.string().min(1, 'X_EMULATOR_CERT_DIR must be a directory path for cert.pem').default('data/x-emulator'),
  X_EMULATOR_CERT_HOSTS: z
    .string()
    .regex(/^[A-Za-z0-9.:_-]*(,[A-Za-z0-9.:_-]+)*$/, 'X_EMULATOR_CERT_HOSTS must be comma-separated host names or IPs')
    .default(''),
  X_EMULATOR_BEARER_TOKEN: secret('X_EMULATOR_BEARER_TOKEN', 'the app-only bearer token clients will send'),
  X_EMULATOR_API_KEY: secret('X_EMULATOR_API_KEY', 'the OAuth 1.0a consumer (API) key'),
  X_EMULATOR_API_SECRET: secret('X_EMULATOR_API_SECRET', 'the OAuth 1.0a consumer (API) secret'),
  X_EMULATOR_ACCESS_TOKEN: secret('X_EMULATOR_ACCESS_TOKEN', 'the OAuth 1.0a access token of the posting user'),
  X_EMULATOR_ACCESS_SECRET: secret('X_EMULATOR_ACCESS_SECRET', 'the OAuth 1.0a access token secret'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): XEmulatorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  const credentials: Partial<XEmulatorCredentials> = {};
  if (e.X_EMULATOR_BEARER_TOKEN !== undefined) credentials.bearerToken = e.X_EMULATOR_BEARER_TOKEN;
  if (e.X_EMULATOR_API_KEY !== undefined) credentials.apiKey = e.X_EMULATOR_API_KEY;
  if (e.X_EMULATOR_API_SECRET !== undefined) credentials.apiSecret = e.X_EMULATOR_API_SECRET;
  if (e.X_EMULATOR_ACCESS_TOKEN !== undefined) credentials.accessToken = e.X_EMULATOR_ACCESS_TOKEN;
  if (e.X_EMULATOR_ACCESS_SECRET !== undefined) credentials.accessSecret = e.X_EMULATOR_ACCESS_SECRET;
  return {
    port: e.X_EMULATOR_PORT,
    host: e.X_EMULATOR_HOST,
    certDir: e.X_EMULATOR_CERT_DIR,
    certHosts: e.X_EMULATOR_CERT_HOSTS.split(',').filter((h) => h !== ''),
    credentials,
    logLevel: e.LOG_LEVEL,
  };
}
