import { TweetbusError } from '../../../common/errors.js';

/** Schema names are put into SQL text, so they are held to plain lower-case identifiers and quoted. */
export const schemaNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

export const defaultReadModelSchema = 'read_model';

/** `"read_model"`: a validated, quoted schema name ready for SQL text. */
export function quoteSchemaName(schema: string): string {
  if (!schemaNamePattern.test(schema)) {
    throw new TweetbusError('store.invalid', `schema name "${schema}" must be lower-case letters, digits and _ (at most 63)`);
  }
  return `"${schema}"`;
}

/**
 * The read-model tables, one statement per entry so they run on PGlite's extended protocol too.
 * Every statement is idempotent. `sql/postgres/read-model.sql` is this list for the default schema.
 *
 * - `key` uses the "C" collation so `ORDER BY key` is code point order, as in MongoDB.
 * - `version` is `bigint`: versions are at most 2^63-1 (snowflake ids fit).
 * - The GIN index serves `data @> '{"field": value}'`, which is how `find` filters.
 */
export function readModelSchemaStatements(schema: string = defaultReadModelSchema): string[] {
  const s = quoteSchemaName(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.documents (
  collection text NOT NULL,
  key text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  deleted boolean NOT NULL,
  data jsonb,
  event_id text NOT NULL,
  source text NOT NULL,
  applied_at timestamptz NOT NULL,
  PRIMARY KEY (collection, key),
  CHECK (deleted = (data IS NULL))
)`,
    `CREATE INDEX IF NOT EXISTS documents_data_idx ON ${s}.documents USING gin (data jsonb_path_ops) WHERE NOT deleted`,
    `CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
  name text PRIMARY KEY,
  position text NOT NULL,
  updated_at timestamptz NOT NULL
)`,
    `CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id text NOT NULL,
  transport text NOT NULL,
  text text NOT NULL,
  reason text NOT NULL,
  author_id text,
  author_username text,
  received_at timestamptz NOT NULL,
  stored_at timestamptz NOT NULL,
  UNIQUE (message_id, transport)
)`,
  ];
}

/** The schema as one script (for `psql -f`). */
export function readModelSchemaScript(schema: string = defaultReadModelSchema): string {
  return `${readModelSchemaStatements(schema).map((statement) => `${statement};`).join('\n\n')}\n`;
}
