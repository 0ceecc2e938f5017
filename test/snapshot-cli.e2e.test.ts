import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openPgSchema, pgTestDatabaseUrl, type PgTestSchema } from '../common/pg-test-schema.js';
import { applyOutboxSchema } from '../publisher/capture/postgres/schema.js';

/**
 * Issue 27, as a user runs it: a PostgreSQL table that held rows before its capture trigger was
 * attached, then the built `snapshot-main.js` (what `npm run snapshot` and the container run),
 * configured by the publisher's variables alone.
 */

const entry = join(import.meta.dirname, '..', 'dist', 'publisher', 'snapshot-main.js');

function runSnapshot(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { env: { LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run snapshot', () => {
  let write: PgTestSchema;
  let env: Record<string, string>;

  beforeAll(async () => {
    write = await openPgSchema(pgTestDatabaseUrl, { prefix: 'snapshot_cli' });
    await applyOutboxSchema(write.db);
    await write.db.exec(`CREATE TABLE accounts (account_no bigint PRIMARY KEY, owner text);
      INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 2500) g;
      CREATE TRIGGER accounts_capture AFTER INSERT OR UPDATE OR DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('accounts', 'account_no');`);
    env = { OUTBOX_DATABASE_URL: `${pgTestDatabaseUrl}?options=${encodeURIComponent(`-c search_path=${write.schema}`)}` };
  });

  afterAll(async () => {
    await write.dispose();
  });

  it('enqueues every existing row, shows its progress and ends with rows/s', async () => {
    const run = await runSnapshot(['--collection', 'accounts', '--chunk-size', '1000'], env);
    expect(run.stderr).toContain('100%  2,500 / 2,500 rows  accounts -> accounts');
    expect(run.stdout).toMatch(/^snapshot of accounts into collection accounts: 2,500 rows enqueued in \d+\.\d s, [\d,]+ rows\/s\n$/);
    expect(run.code).toBe(0);
    const counted = await write.db.query(`SELECT count(DISTINCT aggregateid) AS keys, count(*) AS total FROM tweetbus_outbox WHERE aggregatetype = 'accounts' AND op = 'upsert'`);
    expect(z.object({ keys: z.coerce.number(), total: z.coerce.number() }).parse(counted.rows[0])).toEqual({ keys: 2500, total: 2500 });
  });

  it('exits 1 with the reason, and enqueues nothing, for a collection no table is captured into', async () => {
    const before = await write.db.query('SELECT count(*) AS total FROM tweetbus_outbox');
    const run = await runSnapshot(['--collection', 'acounts'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no table is captured into collection "acounts": the captured collections are "accounts"');
    const after = await write.db.query('SELECT count(*) AS total FROM tweetbus_outbox');
    expect(after.rows).toEqual(before.rows);
  });

  it('exits 1 naming what is wrong with the command line, before touching the database', async () => {
    const run = await runSnapshot(['--chunk-size', 'many'], { OUTBOX_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain('--collection');
    expect(run.stdout + run.stderr).toContain('--chunk-size');
  });
});
