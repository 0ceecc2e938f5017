import { ConfigError } from '../errors.js';

/** The ConfigError `load` throws; fails the test when it throws nothing, or something else. */
export function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
