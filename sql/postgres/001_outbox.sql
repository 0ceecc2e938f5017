-- tweetbus outbox for PostgreSQL (and PGlite, which runs the same SQL).
--
-- A row trigger writes each change into tweetbus_outbox in the same transaction as the change
-- (docs/design-notes.md, rule 1): rolled-back work never reaches the outbox, and nothing is visible to the
-- relay before its commit. The relay reads unpublished rows of transactions below the snapshot's
-- xmin, marks each row it published, and reads in seq order, so a transaction that commits late is
-- never skipped (rule 5) and each key's changes go out in version order.
--
-- Idempotent: safe to run on every start. Objects are created in the first schema of search_path.

-- Versions for captured rows: a hybrid logical clock on X's snowflake scale, so a database change
-- and a hand-typed post (whose version is its post id) compare by time, and the later one wins.
-- A version is (milliseconds since X's epoch, 2010-11-04T01:42:54.657Z) << 22, plus a counter in
-- the low 22 bits: the layout of a post id. One sequence for every table holds the clock; it only
-- ever moves forward, so versions strictly increase, per key and overall, when two changes fall in
-- one millisecond, when the clock steps back (the counter runs on from the last version until the
-- clock catches up) and when a deleted key is inserted again. An outbox from before this scheme
-- upgrades by itself: its sequence's small values jump to the clock at the first change.
CREATE SEQUENCE IF NOT EXISTS tweetbus_version_seq AS bigint;

-- The next version: the sequence's next value, or, when the clock has moved past it, the clock.
-- tweetbus_advance_version moves the sequence up (to the clock here; past a read model's version
-- when a heal needs one above it) under an advisory lock held for that step alone (never to commit,
-- so writers do not queue behind each other's transactions): without it, two sessions could move the
-- sequence to two readings in the wrong order, and so back.
-- The setting tweetbus.clock_ms pins the clock (milliseconds since 1970), for drills and tests that
-- step the clock back; never set it in production.
CREATE OR REPLACE FUNCTION tweetbus_advance_version(at_least bigint) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  -- The advisory lock key (any constant; 'tw' 'vr' in ASCII).
  lock_key constant bigint := 1953986162;
BEGIN
  IF at_least IS NULL OR (SELECT last_value FROM tweetbus_version_seq) >= at_least THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_lock(lock_key);
  BEGIN
    IF (SELECT last_value FROM tweetbus_version_seq) < at_least THEN
      PERFORM setval('tweetbus_version_seq', at_least);
    END IF;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- A session-level lock outlives the transaction: never leave it held.
    PERFORM pg_advisory_unlock(lock_key);
    RAISE;
  END;
  PERFORM pg_advisory_unlock(lock_key);
END;
$$;

CREATE OR REPLACE FUNCTION tweetbus_next_version() RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  -- X's snowflake epoch.
  epoch_ms  constant bigint := 1288834974657;
  pinned    text := current_setting('tweetbus.clock_ms', true);
  now_ms    bigint := CASE WHEN pinned IS NULL OR pinned = '' THEN floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint ELSE pinned::bigint END;
  clock     bigint := greatest(now_ms - epoch_ms, 0) << 22;
  candidate bigint := nextval('tweetbus_version_seq');
BEGIN
  IF candidate > clock THEN
    RETURN candidate;
  END IF;
  PERFORM tweetbus_advance_version(clock);
  RETURN nextval('tweetbus_version_seq');
END;
$$;

-- The time a version stands for: a captured row's created_at, so a post need not carry it twice.
CREATE OR REPLACE FUNCTION tweetbus_version_time(version bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
  SELECT timestamptz 'epoch' + ((version >> 22) + 1288834974657) * interval '1 millisecond'
$$;

-- Column names follow Debezium's outbox event router (id, aggregatetype, aggregateid, type, payload),
-- so the table can also feed Kafka Connect unchanged.
CREATE TABLE IF NOT EXISTS tweetbus_outbox (
  -- Event id: stable across retries; consumers use it to recognise duplicates.
  id             text PRIMARY KEY,
  -- The collection (read-model collection, and the hashtag on X).
  aggregatetype  text NOT NULL,
  -- The row's key.
  aggregateid    text NOT NULL,
  type           text NOT NULL,
  -- The full row image after the change; NULL for a delete.
  payload        jsonb,
  version        bigint NOT NULL,
  op             text NOT NULL CHECK (op IN ('upsert', 'delete')),
  source         text NOT NULL,
  -- When the change was made: the capture trigger writes the time its version stands for (the clock
  -- at the change, or just past the last version when the clock stepped back). The default is for
  -- rows written otherwise (the publisher's POST /events).
  created_at     timestamptz NOT NULL DEFAULT now(),
  correlation_id text,
  -- The writing transaction (64-bit, never wraps). Rows are read only once tx_id is below the
  -- xmin of the reader's snapshot, i.e. once no transaction that could still add earlier rows runs.
  tx_id          xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  -- Set by the relay after the transport acknowledged the event.
  published_at   timestamptz,
  -- Dead letter on the publisher side: the row can never be sent (it fails validation, or no
  -- transport message can carry it). A failed row is never retried automatically; an operator reads
  -- failed_reason, fixes the cause and re-queues it with
  --   UPDATE tweetbus_outbox SET failed_at = NULL, failed_reason = NULL WHERE id = '<id>';
  failed_at      timestamptz,
  failed_reason  text
);

-- The relay's only query (tweetbus_outbox_pending below): unpublished, not failed rows in seq order;
-- tx_id is filtered, not sorted on. Replaces the (tx_id, seq) index of earlier versions. On a large
-- outbox, build it first with CREATE INDEX CONCURRENTLY: this script's plain CREATE INDEX holds off
-- captured writes while it builds.
DROP INDEX IF EXISTS tweetbus_outbox_unpublished;
CREATE INDEX IF NOT EXISTS tweetbus_outbox_unpublished_seq
  ON tweetbus_outbox (seq) INCLUDE (tx_id)
  WHERE published_at IS NULL AND failed_at IS NULL;

-- The relay's read, one statement a batch: unpublished, not failed rows of transactions below the
-- snapshot's xmin, in seq order (see PostgresOutbox.readBatch for why seq and not (tx_id, seq)).
-- Marked rows stay in the partial index until a vacuum; a bitmap scan would visit every one of them
-- for every batch, and with stale statistics (never analyzed, autovacuum off) the planner picks one.
-- The function's own setting keeps the plan an ordered index walk that stops at max_rows.
CREATE OR REPLACE FUNCTION tweetbus_outbox_pending(max_rows integer) RETURNS SETOF tweetbus_outbox
LANGUAGE sql STABLE
SET enable_bitmapscan = off
AS $$
  SELECT * FROM tweetbus_outbox
   WHERE published_at IS NULL AND failed_at IS NULL
     AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
   ORDER BY seq
   LIMIT max_rows
$$;

-- Operators look for dead letters.
CREATE INDEX IF NOT EXISTS tweetbus_outbox_failed
  ON tweetbus_outbox (failed_at)
  WHERE failed_at IS NOT NULL;

-- Retention deletes published rows oldest first, a small batch at a time (OutboxRetention).
CREATE INDEX IF NOT EXISTS tweetbus_outbox_published
  ON tweetbus_outbox (published_at)
  WHERE published_at IS NOT NULL;

-- A new event id: 22 characters of base64url for a random UUID; short, because a post holds 280 characters.
CREATE OR REPLACE FUNCTION tweetbus_new_id() RETURNS text
LANGUAGE sql VOLATILE
AS $$
  SELECT translate(rtrim(encode(decode(replace(gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '='), '+/', '-_')
$$;

-- The version register: the version of each captured key's last change, kept for as long as the key
-- is in its table (a delete removes it). The outbox keeps a version only until retention; the register
-- is what `npm run verify` compares the read model's (key, version) with. Every writer of captured
-- versions keeps it: the capture trigger, snapshots and heals.
CREATE TABLE IF NOT EXISTS tweetbus_key_versions (
  collection text NOT NULL,
  key        text COLLATE "C" NOT NULL,
  version    bigint NOT NULL,
  PRIMARY KEY (collection, key)
);

-- An outbox from before the register: each key's newest captured change, taken once while the
-- register is still empty (a key whose newest change is a delete is not in its table).
INSERT INTO tweetbus_key_versions (collection, key, version)
SELECT aggregatetype, aggregateid, version
  FROM (SELECT DISTINCT ON (aggregatetype, aggregateid) aggregatetype, aggregateid, version, op
          FROM tweetbus_outbox
         ORDER BY aggregatetype, aggregateid, version DESC) newest
 WHERE op = 'upsert' AND NOT EXISTS (SELECT 1 FROM tweetbus_key_versions)
ON CONFLICT DO NOTHING;

-- Whether writers NOTIFY the relay. A NOTIFY serializes commits: PostgreSQL holds a database-wide
-- lock from the notifying transaction's pre-commit through its WAL flush, so notifying writers commit
-- one at a time and lose group commit (32 writers: 1,212 commits/s notifying, 1,800 not). The relay
-- asks for notifications only while it sleeps (notify = true) and turns them off while it polls
-- (publisher/capture/postgres/wake-gate.ts). Unlogged: a crash empties it, and with no row every
-- writer notifies, as with an outbox schema from before this table. A NOTIFY only saves latency: the
-- relay always polls too.
CREATE UNLOGGED TABLE IF NOT EXISTS tweetbus_relay_wake (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  notify   boolean NOT NULL
);
-- The trigger runs as whoever writes a captured table: every writer may read the flag, so an upgrade
-- needs no new grant for them.
GRANT SELECT ON tweetbus_relay_wake TO PUBLIC;

-- Generic capture trigger:
--   CREATE TRIGGER … AFTER INSERT OR UPDATE OR DELETE ON <table>
--     FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('<collection>', '<key column, default id>');
-- Writes one outbox row per changed row. An UPDATE that changes the key also writes a delete for the
-- old key, so the read model does not keep a document the table no longer has.
-- A row without a key is refused: an event with no key could never be applied anywhere.
CREATE OR REPLACE FUNCTION tweetbus_capture() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  collection  text := TG_ARGV[0];
  key_column  text := coalesce(TG_ARGV[1], 'id');
  image       jsonb;
  old_key     text;
  new_key     text;
  change_version bigint;
BEGIN
  IF collection IS NULL OR collection = '' THEN
    RAISE EXCEPTION 'tweetbus_capture() on table % needs the collection name as its first argument', TG_TABLE_NAME;
  END IF;

  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    old_key := to_jsonb(OLD) ->> key_column;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    image := to_jsonb(NEW);
    new_key := image ->> key_column;
    IF new_key IS NULL THEN
      RAISE EXCEPTION 'tweetbus_capture(%, %) on table %: the row has no value in key column %',
        collection, key_column, TG_TABLE_NAME, key_column
        USING ERRCODE = 'not_null_violation';
    END IF;
  END IF;

  IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
    change_version := tweetbus_next_version();
    INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
    VALUES (tweetbus_new_id(), collection, old_key, collection || '.deleted', NULL, change_version, 'delete', TG_TABLE_NAME, tweetbus_version_time(change_version));
    DELETE FROM tweetbus_key_versions r WHERE r.collection = TG_ARGV[0] AND r.key = old_key;
  END IF;

  IF new_key IS NOT NULL THEN
    change_version := tweetbus_next_version();
    INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
    VALUES (tweetbus_new_id(), collection, new_key, collection || '.upserted', image, change_version, 'upsert', TG_TABLE_NAME, tweetbus_version_time(change_version));
    INSERT INTO tweetbus_key_versions AS r (collection, key, version) VALUES (collection, new_key, change_version)
      ON CONFLICT ON CONSTRAINT tweetbus_key_versions_pkey DO UPDATE SET version = EXCLUDED.version;
  END IF;

  -- Wakes a LISTENing relay at commit (delivered only if the transaction commits). The poll
  -- interval remains the safety net, so a lost notification costs latency, never data.
  IF coalesce((SELECT w.notify FROM tweetbus_relay_wake w), true) THEN
    PERFORM pg_notify('tweetbus_outbox', '');
  END IF;
  RETURN NULL;
END;
$$;

-- Snapshots (docs/design-notes.md, "Snapshots: row locks and the version gate"): the current image of
-- every row of a captured table, enqueued as upserts, so rows that were there before the trigger, or
-- that a read model lost, reach it. One row per captured table and collection: the last snapshot's
-- progress (a crash resumes after last_key) and when it finished (SNAPSHOT_ON_ATTACH runs once).
CREATE TABLE IF NOT EXISTS tweetbus_snapshots (
  table_name    text NOT NULL,
  collection    text NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  -- The last key enqueued, as text (the key column's own type reads it back); NULL before the first chunk.
  last_key      text,
  rows_enqueued bigint NOT NULL DEFAULT 0,
  finished_at   timestamptz,
  PRIMARY KEY (table_name, collection)
);

-- The tables this schema's tweetbus_capture() is attached to (the one whose outbox this is), with its
-- arguments: the collection and the key column.
CREATE OR REPLACE FUNCTION tweetbus_captured_tables()
RETURNS TABLE (table_name text, collection text, key_column text)
LANGUAGE sql STABLE
AS $$
  SELECT t.tgrelid::regclass::text,
         args[1],
         coalesce(nullif(args[2], ''), 'id')
    FROM pg_trigger t
    JOIN pg_proc p ON p.oid = t.tgfoid
   CROSS JOIN LATERAL (SELECT string_to_array(encode(t.tgargs, 'escape'), '\000') AS args) a
   WHERE p.proname = 'tweetbus_capture' AND NOT t.tgisinternal
     AND p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = current_schema())
   ORDER BY 1, 2
$$;

-- Enqueues row images as upserts into collection, each at a fresh version, and records the versions in
-- the register. A caller that holds the rows' locks gets versions above every committed change to them.
CREATE OR REPLACE FUNCTION tweetbus_enqueue_images(in_collection text, in_source text, key_column text, images jsonb[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  enqueued integer;
BEGIN
  WITH versioned AS MATERIALIZED (
    SELECT i.image, i.image ->> key_column AS key, tweetbus_next_version() AS version FROM unnest(images) AS i(image)
  ), registered AS (
    INSERT INTO tweetbus_key_versions AS r (collection, key, version)
    SELECT in_collection, v.key, v.version FROM versioned v
    ON CONFLICT ON CONSTRAINT tweetbus_key_versions_pkey DO UPDATE SET version = EXCLUDED.version
  )
  INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
  SELECT tweetbus_new_id(), in_collection, v.key, in_collection || '.upserted', v.image, v.version, 'upsert', in_source, tweetbus_version_time(v.version)
    FROM versioned v;
  GET DIAGNOSTICS enqueued = ROW_COUNT;
  RETURN enqueued;
END;
$$;

-- Enqueues deletes of keys from collection, each at a fresh version, and takes them out of the register.
CREATE OR REPLACE FUNCTION tweetbus_enqueue_deletes(in_collection text, in_source text, keys text[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  enqueued integer;
BEGIN
  WITH versioned AS MATERIALIZED (
    SELECT k.key, tweetbus_next_version() AS version FROM unnest(keys) AS k(key)
  ), unregistered AS (
    DELETE FROM tweetbus_key_versions r USING versioned v WHERE r.collection = in_collection AND r.key = v.key
  )
  INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
  SELECT tweetbus_new_id(), in_collection, v.key, in_collection || '.deleted', NULL, v.version, 'delete', in_source, tweetbus_version_time(v.version)
    FROM versioned v;
  GET DIAGNOSTICS enqueued = ROW_COUNT;
  RETURN enqueued;
END;
$$;

-- The type of a table's key column, as SQL writes it; an error naming the column when there is none.
CREATE OR REPLACE FUNCTION tweetbus_key_type(target regclass, key_column text) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  key_type text;
BEGIN
  SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_attribute a
   WHERE a.attrelid = target AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION 'table % has no column %', target, key_column
      USING ERRCODE = 'undefined_column';
  END IF;
  RETURN key_type;
END;
$$;

-- One chunk of a snapshot: the next max_rows rows of target after after_key (NULL: from the start),
-- in the key column's own order (its index), each enqueued as an upsert at a fresh version. The rows
-- are read FOR SHARE, and each version is taken after its row's lock: a writer that changed a row
-- before has committed (its version is lower, its image is the one read), and a writer that changes it
-- after waits for this chunk's commit (its version is higher). So the newer version always carries the
-- newer image, and the version gate alone settles every race. Only this chunk's rows wait, for as long
-- as this chunk's transaction lasts; the table is never locked.
CREATE OR REPLACE FUNCTION tweetbus_snapshot_chunk(target regclass, collection text, key_column text, after_key text, max_rows integer)
RETURNS TABLE (enqueued integer, last_key text)
LANGUAGE plpgsql
AS $$
DECLARE
  images    jsonb[];
  chunk_end text;
BEGIN
  EXECUTE format($chunk$
    WITH chunk AS MATERIALIZED (
      SELECT t.%1$I AS sort_key, t.%1$I::text AS text_key, to_jsonb(t) AS image
        FROM %2$s t
       WHERE $1::text IS NULL OR t.%1$I > $1::%3$s
       ORDER BY t.%1$I
       LIMIT $2
         FOR SHARE
    )
    SELECT array_agg(image ORDER BY sort_key), (array_agg(text_key ORDER BY sort_key DESC))[1] FROM chunk
  $chunk$, key_column, target, tweetbus_key_type(target, key_column))
  INTO images, chunk_end
  USING after_key, max_rows;
  enqueued := tweetbus_enqueue_images(collection, tweetbus_table_source(target), key_column, coalesce(images, '{}'));
  last_key := chunk_end;
  RETURN NEXT;
  PERFORM pg_notify('tweetbus_outbox', '');
END;
$$;

-- The source an event of target names: its table name, as the capture trigger writes it (TG_TABLE_NAME).
CREATE OR REPLACE FUNCTION tweetbus_table_source(target regclass) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT c.relname::text FROM pg_class c WHERE c.oid = target
$$;

-- A table's rows, for a snapshot's progress (regclass prints the name quoted as SQL needs it).
CREATE OR REPLACE FUNCTION tweetbus_count_rows(target regclass) RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  total bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', target) INTO total;
  RETURN total;
END;
$$;

-- Verify (`npm run verify`, verify/): each row of a captured table as the read model must hold it,
-- (key, version): the key as the capture trigger writes it, and the register's version (NULL for a row
-- that no change, snapshot or heal ever enqueued). verify/digest.ts buckets and hashes these rows
-- in SQL, the same way on this side and on the read model's.
CREATE OR REPLACE FUNCTION tweetbus_table_versions(target regclass, in_collection text, key_column text)
RETURNS TABLE (key text, version bigint)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT k.key, r.version
      FROM (SELECT to_jsonb(t.%1$I) #>> '{}' AS key FROM %2$s t) k
      LEFT JOIN tweetbus_key_versions r ON r.collection = $1 AND r.key = k.key
  $q$, key_column, target)
  USING in_collection;
END;
$$;

-- Heal (`npm run verify -- --heal`): the keys of collection that drifted, sent again. Keys still in
-- target go as upserts of their current image (read FOR SHARE, as a snapshot chunk reads), keys gone
-- from it as deletes; every version is above `above`, the highest version the read model holds for
-- them, so the gate applies each.
CREATE OR REPLACE FUNCTION tweetbus_resend_keys(target regclass, in_collection text, key_column text, keys text[], above bigint)
RETURNS TABLE (upserts integer, deletes integer)
LANGUAGE plpgsql
AS $$
DECLARE
  images jsonb[];
  found  text[];
  source text := tweetbus_table_source(target);
BEGIN
  PERFORM tweetbus_advance_version(above);
  EXECUTE format($q$
    WITH found AS MATERIALIZED (
      SELECT to_jsonb(t) AS image, to_jsonb(t.%1$I) #>> '{}' AS key FROM %2$s t WHERE to_jsonb(t.%1$I) #>> '{}' = ANY ($1) FOR SHARE
    )
    SELECT array_agg(image), array_agg(key) FROM found
  $q$, key_column, target)
  INTO images, found
  USING keys;
  upserts := tweetbus_enqueue_images(in_collection, source, key_column, coalesce(images, '{}'));
  deletes := tweetbus_enqueue_deletes(in_collection, source, ARRAY(SELECT k FROM unnest(keys) AS k WHERE k <> ALL (coalesce(found, '{}'))));
  RETURN NEXT;
  PERFORM pg_notify('tweetbus_outbox', '');
END;
$$;
