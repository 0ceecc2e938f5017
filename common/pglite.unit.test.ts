import type { PGlite } from '@electric-sql/pglite';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logSink } from './log-sink.fixture.js';
import { openPglite } from './pglite.js';

let dir: string;
const opened: PGlite[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tweetbus-pglite-'));
});

afterEach(async () => {
  for (const db of opened.splice(0)) if (!db.closed) await db.close();
  await rm(dir, { recursive: true, force: true });
});

/** Without `templateDir`, the default one every embedded database of the suite shares. */
async function open(dataDir: string | undefined, templateDir?: string) {
  const log = logSink('debug');
  const db = await openPglite(dataDir, { logger: log.logger, templateDir });
  opened.push(db);
  const initialised = log.lines.some((l) => l.msg === 'initialised a new database' || l.msg === 'initialised a template for new databases');
  return { db, log, initialised };
}

describe('opening an embedded database', () => {
  it('makes a template once, and starts later new databases as copies of it without initdb, each its own database', async () => {
    const templateDir = join(dir, 'templates');
    const first = await open(join(dir, 'a'), templateDir);
    expect(first.initialised).toBe(true);
    expect(existsSync(join(templateDir, 'pgdata', 'PG_VERSION'))).toBe(true);
    await first.db.exec('CREATE TABLE only_in_a (id int)');

    const second = await open(join(dir, 'b'), templateDir);
    expect(second.initialised).toBe(false);
    const tables = await second.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'");
    expect(tables.rows[0]?.n).toBe(0);
    await second.db.exec('CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const setting = async (db: PGlite, name: string) => (await db.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]?.setting;
    expect(await setting(second.db, 'shared_buffers')).toBe('1024');
    // A new WAL segment is not zeroed 1 MB at a time through JavaScript buffers (14-16 MiB for a moment).
    expect(await setting(second.db, 'wal_init_zero')).toBe('off');

    const inMemory = await open(undefined, templateDir);
    expect(inMemory.initialised).toBe(true);
    expect(existsSync(join(templateDir, 'pgdata.tar'))).toBe(true);
    const again = await open(undefined, templateDir);
    expect(again.initialised).toBe(false);
    expect(await setting(again.db, 'wal_init_zero')).toBe('off');
    expect((await again.db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('opens an existing database as it is, never over it from the template', async () => {
    const dataDir = join(dir, 'kept');
    const before = await open(dataDir);
    await before.db.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await before.db.close();

    const after = await open(dataDir);
    expect(after.initialised).toBe(false);
    expect((await after.db.query('SELECT v FROM kept')).rows).toEqual([{ v: 'still here' }]);
  });

  it('initialises the database when a template cannot be made or loaded', async () => {
    const notADirectory = join(dir, 'file');
    await writeFile(notADirectory, 'a file where the templates would go');
    const onDisk = await open(join(dir, 'c'), join(notADirectory, 'templates'));
    expect(onDisk.log.lines.some((l) => l.level === 40 && l.msg === 'could not start the database from the template; initialising it instead')).toBe(true);
    await onDisk.db.exec('CREATE TABLE works (id int)');

    const templateDir = join(dir, 'broken');
    await mkdir(templateDir);
    await writeFile(join(templateDir, 'pgdata.tar'), 'not a tar file');
    const inMemory = await open(undefined, templateDir);
    expect(inMemory.initialised).toBe(true);
    expect(inMemory.log.lines.some((l) => l.level === 40 && l.msg === 'the PGlite template could not be loaded; initialising the database instead')).toBe(true);
    expect((await inMemory.db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await open(undefined, templateDir)).initialised).toBe(false);
  });
});
