import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig } from './config.js';

describe('x-emulator loadConfig', () => {
  it('defaults to the embedded demo: port 3443 on loopback, cert in data/x-emulator, demo credentials', () => {
    expect(loadConfig({})).toEqual({
      port: 3443,
      host: '127.0.0.1',
      certDir: 'data/x-emulator',
      certHosts: [],
      credentials: {},
      logLevel: 'info',
    });
  });

  it('takes credentials and extra certificate names from the environment', () => {
    const config = loadConfig({ X_EMULATOR_BEARER_TOKEN: 'b', X_EMULATOR_ACCESS_SECRET: 's', X_EMULATOR_CERT_HOSTS: 'x-emulator,10.0.0.5' });
    expect(config.credentials).toEqual({ bearerToken: 'b', accessSecret: 's' });
    expect(config.certHosts).toEqual(['x-emulator', '10.0.0.5']);
  });

  it('names the variable and what it should hold when it is wrong', () => {
    expect(() => loadConfig({ X_EMULATOR_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ X_EMULATOR_PORT: '70000' })).toThrow(/X_EMULATOR_PORT must be between 0 and 65535/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
  });
});
