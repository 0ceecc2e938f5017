import type { PGlite } from '@electric-sql/pglite';
import { createLogger } from './logger.js';
import { openPglite } from './pglite.js';

/** A new in-memory embedded database for a test, started from the shared template (no initdb). */
export function newPglite(): Promise<PGlite> {
  return openPglite(undefined, { logger: createLogger({ level: 'silent' }) });
}
