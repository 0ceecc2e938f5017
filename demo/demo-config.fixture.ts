import type { DemoConfig } from './config.js';

/**
 * The demo as the end-to-end tests start it: a fresh `dataDir`, free ports, silent, over X unless
 * `overrides` say otherwise.
 */
export function aDemoConfig(dataDir: string, overrides: Partial<DemoConfig> = {}): DemoConfig {
  return {
    dataDir,
    pgliteOptimize: false,
    fresh: true,
    host: '127.0.0.1',
    ports: { writeApp: 0, publisher: 0, consumer: 0, xEmulator: 0 },
    logLevel: 'silent',
    hashtagPrefix: '',
    stuckAfterMs: { consumer: 60_000, relay: 60_000 },
    transport: { kind: 'x' },
    ...overrides,
  };
}
