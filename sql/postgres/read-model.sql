-- The consumer's read model in PostgreSQL (schema "read_model"): documents as JSONB, checkpoints, dead letters.
-- The consumer creates these itself at start (idempotently); this script is the same DDL for DBAs and psql -f.
-- Generated from consumer/stores/postgres/read-model-schema.ts; a unit test keeps the two equal.

CREATE SCHEMA IF NOT EXISTS "read_model";

CREATE TABLE IF NOT EXISTS "read_model".documents (
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
);

CREATE INDEX IF NOT EXISTS documents_data_idx ON "read_model".documents USING gin (data jsonb_path_ops) WHERE NOT deleted;

CREATE TABLE IF NOT EXISTS "read_model".checkpoints (
  name text PRIMARY KEY,
  position text NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS "read_model".dead_letters (
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
);
