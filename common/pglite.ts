import { PGlite } from '@electric-sql/pglite';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from './logger.js';

export interface OpenPgliteOptions {
  readonly logger: Logger;
  /**
   * Where the template of a new database is kept (made by the first open that needs one). Default
   * `<tmpdir>/tweetbus-pglite-<PGlite's version>.tar`.
   */
  readonly templatePath?: string | undefined;
}

/**
 * Opens an embedded PostgreSQL (PGlite) in `dataDir`, or in memory when it is undefined.
 *
 * A new database starts from a template, a copy of a freshly initialised one, instead of running
 * initdb: initdb takes seconds, and leaves hundreds of MiB of garbage behind until a collection.
 * The template is the first new database's own files, saved right after its initdb, so the first
 * open costs what it always did and every later one is quicker. It is written atomically (a
 * temporary file, then a rename), so processes that start together never read half of one; one that
 * cannot be read or written costs only the time of initdb.
 */
export async function openPglite(dataDir: string | undefined, options: OpenPgliteOptions): Promise<PGlite> {
  const logger = options.logger.child({ component: 'pglite' });
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true });
    if (existsSync(join(dataDir, 'PG_VERSION'))) return PGlite.create(dataDir);
  }
  const templatePath = options.templatePath ?? defaultTemplatePath();
  const template = await readTemplate(templatePath, logger);
  if (template !== undefined) {
    try {
      return await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), loadDataDir: template });
    } catch (err) {
      logger.warn({ err, templatePath }, 'the PGlite template could not be loaded; initialising the database instead');
      await rm(templatePath, { force: true });
      if (dataDir !== undefined) await emptyDirectory(dataDir);
    }
  }
  const started = performance.now();
  const db = await PGlite.create(dataDir);
  logger.debug({ ms: Math.round(performance.now() - started) }, 'initialised a new database');
  await saveTemplate(db, templatePath, logger);
  return db;
}

async function readTemplate(path: string, logger: Logger): Promise<Blob | undefined> {
  try {
    return new Blob([await readFile(path)]);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) logger.debug({ err, path }, 'no PGlite template to read');
    return undefined;
  }
}

async function saveTemplate(db: PGlite, path: string, logger: Logger): Promise<void> {
  const temporary = `${path}.${String(process.pid)}.${String(Date.now())}.tmp`;
  try {
    const dump = await db.dumpDataDir('none');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temporary, new Uint8Array(await dump.arrayBuffer()));
    await rename(temporary, path);
    logger.debug({ path, bytes: dump.size }, 'saved a template for new databases');
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => undefined);
    logger.debug({ err, path }, 'could not save a PGlite template; new databases run initdb');
  }
}

async function emptyDirectory(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

/** One template per PGlite version: a newer PGlite may not read an older one's files. */
export function defaultTemplatePath(): string {
  return join(tmpdir(), `tweetbus-pglite-${pgliteVersion()}.tar`);
}

let version: string | undefined;

function pgliteVersion(): string {
  if (version !== undefined) return version;
  try {
    const entry = new URL(import.meta.resolve('@electric-sql/pglite'));
    const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', entry), 'utf8'));
    version = typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    version = 'unknown';
  }
  return version;
}
