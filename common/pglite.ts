import { PGlite } from '@electric-sql/pglite';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { copyDirectory } from './copy-directory.js';
import type { Logger } from './logger.js';

/**
 * PGlite's own start parameters, with 8 MB of shared buffers instead of PostgreSQL's 128 MB, which a
 * process's embedded database touches at start: about 120 MiB less resident memory per instance. The
 * embedded databases are small, and their files stay in the operating system's cache besides: the
 * consumer's bench ran as fast with 8 MB as with 16 (15,800 against 16,100 events/s, within its spread).
 *
 * And new WAL segments are not filled with zeros (`wal_init_zero=off`: PostgreSQL writes a segment's
 * last byte, as it does on copy-on-write file systems). PostgreSQL zeroes a new 16 MB segment 1 MB (128
 * blocks) a `pwritev`, and Emscripten's `pwritev` copies each call's blocks into a new JavaScript
 * buffer, none of which is collected before the segment is done: each new segment cost 14-16 MiB
 * resident for a moment, and 50 ms. Through 20,000 events the publisher alone peaked at 153-155 MiB
 * with the zeros and at 144-148 without, the consumer at 151-152 and 135 (docs/performance.md,
 * "Memory"). Without the zeros, a full disk shows at the first write into the segment instead of at
 * its creation; both stop the database's writes alike.
 */
const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=8MB', '-c', 'wal_init_zero=off'];

/**
 * Which of V8's WebAssembly compilers run PGlite's 9 MB of wasm. V8 compiles each function with its
 * baseline compiler (Liftoff) and, by default, recompiles the hot ones with its optimizing compiler
 * (TurboFan) on background threads. For PGlite that second tier costs about 60 MiB resident for the
 * life of the process: the optimized code, and the compilers' working memory (about 90 MiB at its
 * peak), which the C allocator keeps. It buys about 50% more bulk upserts per second (see
 * docs/performance.md, "Memory"). An embedded database serves the demo and small deployments, so the
 * baseline alone is the default, and PGLITE_OPTIMIZE=true asks for both.
 *
 * The choice is a V8 flag of the whole process, so it is made once: a composition root calls
 * `choosePgliteTier` before its first database, and the first open applies it.
 */
export type PgliteTier = 'baseline' | 'optimizing';

const tier: { chosen: PgliteTier; applied: boolean } = { chosen: 'baseline', applied: false };

/** PGLITE_OPTIMIZE's choice for this process; after the first database opened, it can no longer change. */
export function choosePgliteTier(optimize: boolean): void {
  const wanted: PgliteTier = optimize ? 'optimizing' : 'baseline';
  if (tier.applied && tier.chosen !== wanted) {
    throw new Error(`PGlite's compiler tier is chosen before the first embedded database opens; this process runs the ${tier.chosen} tier already`);
  }
  tier.chosen = wanted;
}

/** The tier this process's embedded databases run with. */
export function pgliteTier(): PgliteTier {
  return tier.chosen;
}

function applyTier(): void {
  if (tier.applied) return;
  tier.applied = true;
  if (tier.chosen === 'baseline') setFlagsFromString('--liftoff-only');
}

export interface OpenPgliteOptions {
  readonly logger: Logger;
  /**
   * Where the templates of new databases are kept, made by the first open that needs one: `pgdata/`
   * for databases on disk, `pgdata.tar` for those in memory. Default
   * `<tmpdir>/tweetbus-pglite-<PGlite's version>`.
   */
  readonly templateDir?: string | undefined;
}

/**
 * Opens an embedded PostgreSQL (PGlite) in `dataDir`, or in memory when it is undefined.
 *
 * A new database starts as a copy of a template, a freshly initialised database, instead of running
 * initdb: initdb takes seconds, and leaves hundreds of MiB of garbage behind until a collection. A
 * database on disk is copied from the template's directory, file by file, so nothing of it passes
 * through this process's memory; one in memory is loaded from the template's archive. Templates are
 * made once, by the first open that needs one, and put in place by a rename, so processes that
 * start together never see half of one. A template that cannot be made or read costs only the time
 * of initdb; an existing database is opened as it is.
 */
export async function openPglite(dataDir: string | undefined, options: OpenPgliteOptions): Promise<PGlite> {
  const logger = options.logger.child({ component: 'pglite' });
  const templateDir = options.templateDir ?? defaultTemplateDir();
  applyTier();
  if (dataDir === undefined) return openInMemory(join(templateDir, 'pgdata.tar'), logger);
  await mkdir(dataDir, { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await copyTemplate(join(templateDir, 'pgdata'), dataDir, logger);
  return PGlite.create({ dataDir, startParams });
}

/** Copies the template's files into the empty `dataDir`, making the template first if need be; on failure, leaves `dataDir` empty for initdb. */
async function copyTemplate(template: string, dataDir: string, logger: Logger): Promise<void> {
  try {
    if (!existsSync(join(template, 'PG_VERSION'))) await makeTemplateDirectory(template, logger);
    await copyDirectory(template, dataDir);
  } catch (err) {
    logger.warn({ err, template }, 'could not start the database from the template; initialising it instead');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
  }
}

async function makeTemplateDirectory(template: string, logger: Logger): Promise<void> {
  const temporary = `${template}.${String(process.pid)}.${String(Date.now())}.tmp`;
  try {
    const started = performance.now();
    await mkdir(temporary, { recursive: true });
    const db = await PGlite.create({ dataDir: temporary, startParams });
    await db.close();
    await rename(temporary, template).catch((err: unknown) => {
      // Another process put its template in place first: that one will do.
      if (!existsSync(join(template, 'PG_VERSION'))) throw err;
    });
    logger.debug({ template, ms: Math.round(performance.now() - started) }, 'initialised a template for new databases');
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

/** Archives read once per process: in-memory databases are opened many at a time (tests). */
const archives = new Map<string, Promise<Blob | undefined>>();

function readArchive(archive: string): Promise<Blob | undefined> {
  let read = archives.get(archive);
  if (read === undefined) {
    read = readFile(archive).then((bytes) => new Blob([bytes]), () => undefined);
    archives.set(archive, read);
  }
  return read;
}

async function openInMemory(archive: string, logger: Logger): Promise<PGlite> {
  const template = await readArchive(archive);
  if (template !== undefined) {
    try {
      return await PGlite.create({ loadDataDir: template, startParams });
    } catch (err) {
      logger.warn({ err, archive }, 'the PGlite template could not be loaded; initialising the database instead');
      archives.delete(archive);
      await rm(archive, { force: true });
    }
  }
  const started = performance.now();
  const db = await PGlite.create({ startParams });
  logger.debug({ ms: Math.round(performance.now() - started) }, 'initialised a new database');
  await saveArchive(db, archive, logger);
  return db;
}

/** The database just initialised, before anything was written to it, as the template of later ones. */
async function saveArchive(db: PGlite, archive: string, logger: Logger): Promise<void> {
  const temporary = `${archive}.${String(process.pid)}.${String(Date.now())}.tmp`;
  try {
    const dump = await db.dumpDataDir('none');
    await mkdir(join(archive, '..'), { recursive: true });
    await writeFile(temporary, new Uint8Array(await dump.arrayBuffer()));
    await rename(temporary, archive);
    archives.set(archive, Promise.resolve(dump));
    logger.debug({ archive, bytes: dump.size }, 'saved a template for new databases');
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => undefined);
    logger.debug({ err, archive }, 'could not save a PGlite template; new databases run initdb');
  }
}

/** One template per PGlite version: a newer PGlite may not read an older one's files. */
export function defaultTemplateDir(): string {
  return join(tmpdir(), `tweetbus-pglite-${pgliteVersion()}`);
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
