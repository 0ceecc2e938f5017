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

  it('treats a blank variable as unset, as the services do', () => {
    expect(loadConfig({ X_EMULATOR_PORT: ' ', X_EMULATOR_BEARER_TOKEN: '', LOG_LEVEL: '' })).toMatchObject({ port: 3443, credentials: {}, logLevel: 'info' });
  });

  it('names the variable and what it should hold when it is wrong', () => {
    expect(() => loadConfig({ X_EMULATOR_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ X_EMULATOR_PORT: '70000' })).toThrow(/X_EMULATOR_PORT should hold a TCP port number \(0-65535/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL should hold one of fatal, error, warn, info, debug, trace, silent/);
  });
});
