import type { PGlite } from '@electric-sql/pglite';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

/** Without `templatePath`, the default one every embedded database of the suite shares. */
async function open(dataDir: string | undefined, templatePath?: string) {
  const log = logSink('debug');
  const db = await openPglite(dataDir, { logger: log.logger, templatePath });
  opened.push(db);
  const initialised = log.lines.some((l) => l.msg === 'initialised a new database');
  return { db, log, initialised };
}

describe('opening an embedded database', () => {
  it('saves the first new database as a template, and starts later new ones from it without initdb, each its own database', async () => {
    const templatePath = join(dir, 'template.tar');
    const first = await open(join(dir, 'a'), templatePath);
    expect(first.initialised).toBe(true);
    expect(existsSync(templatePath)).toBe(true);
    await first.db.exec('CREATE TABLE only_in_a (id int)');

    const second = await open(join(dir, 'b'), templatePath);
    expect(second.initialised).toBe(false);
    const tables = await second.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'");
    expect(tables.rows[0]?.n).toBe(0);
    await second.db.exec('CREATE TABLE t (id int); INSERT INTO t VALUES (1)');

    const inMemory = await open(undefined, templatePath);
    expect(inMemory.initialised).toBe(false);
    expect((await inMemory.db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
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

  it('initialises the database when the template cannot be loaded, and replaces the template', async () => {
    const templatePath = join(dir, 'template.tar');
    await writeFile(templatePath, 'not a tar file');
    const { db, log, initialised } = await open(join(dir, 'c'), templatePath);
    expect(initialised).toBe(true);
    expect(log.lines.some((l) => l.level === 40 && l.msg === 'the PGlite template could not be loaded; initialising the database instead')).toBe(true);
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await open(join(dir, 'd'), templatePath)).initialised).toBe(false);
  });
});
