import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locateSqlDir } from './schema.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..');

describe('locating the SQL scripts', () => {
  it('finds sql/postgres from the source module', () => {
    const dir = locateSqlDir(pathToFileURL(join(repoRoot, 'publisher', 'capture', 'postgres', 'schema.ts')));

    expect(dir).toBe(join(repoRoot, 'sql', 'postgres'));
    expect(existsSync(join(dir, '001_outbox.sql'))).toBe(true);
    expect(existsSync(join(dir, '010_orders.sql'))).toBe(true);
  });

  it('finds the same sql/postgres from the built module in dist/', () => {
    const dir = locateSqlDir(pathToFileURL(join(repoRoot, 'dist', 'publisher', 'capture', 'postgres', 'schema.js')));

    expect(dir).toBe(join(repoRoot, 'sql', 'postgres'));
  });

  it('says where it looked when no sql directory is above the module', () => {
    expect(() => locateSqlDir(pathToFileURL('/nonexistent/dist/publisher/schema.js'))).toThrow(/sql.postgres.001_outbox\.sql.*\/nonexistent\/dist\/publisher/);
  });
});
