import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { TweetbusError } from '../../../common/errors.js';
import { quoteSchemaName, readModelSchemaScript } from './read-model-schema.js';

const scriptHeader = `-- The consumer's read model in PostgreSQL (schema "read_model"): documents as JSONB, checkpoints, dead letters.
-- The consumer creates these itself at start (idempotently); this script is the same DDL for DBAs and psql -f.
-- Generated from consumer/stores/postgres/read-model-schema.ts; a unit test keeps the two equal.

`;

describe('read-model schema', () => {
  it('sql/postgres/read-model.sql is exactly the DDL the store runs', async () => {
    const script = await readFile(new URL('../../../sql/postgres/read-model.sql', import.meta.url), 'utf8');

    expect(script).toBe(scriptHeader + readModelSchemaScript());
  });

  it('refuses a schema name that is not a plain identifier', () => {
    for (const name of ['Public', 'a"b', 'x; DROP SCHEMA public', '', '1abc']) {
      expect(() => quoteSchemaName(name)).toThrow(TweetbusError);
    }
  });
});
