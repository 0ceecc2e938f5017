-- tweetbus outbox for Oracle Database 19c or later. Run as the schema owner, the user whose tables
-- are captured (see README.md):   SQL> @001_outbox.sql
--
-- A row trigger (010_orders.sql) writes each change into tweetbus_outbox in the same transaction as
-- the change (docs/design-notes.md, rule 1): rolled-back work never reaches the outbox, and nothing is visible to
-- a reader before its commit. The relay (publisher/capture/oracle/oracle-outbox.ts) keeps its state
-- per row (claimed, published, failed) rather than a high-water mark, because a row with a lower seq
-- can commit after one with a higher seq, and "seq > last" would skip it for good (rule 5).
--
-- Idempotent: a CREATE that Oracle cannot make conditional runs in a block that ignores only
-- "already exists"; code units use CREATE OR REPLACE. Safe to run again after an upgrade.

WHENEVER SQLERROR EXIT SQL.SQLCODE

-- Versions for captured rows: a hybrid logical clock on X's snowflake scale, as in
-- sql/postgres/001_outbox.sql, so a database change and a hand-typed post (whose version is its post
-- id) compare by time, and the later one wins. A version is (milliseconds since X's epoch,
-- 2010-11-04T01:42:54.657Z) * 2^22, plus a counter below. The clock is one row: the last version
-- handed out, moved only forward, so versions strictly increase, per key and overall, when two
-- changes fall in one millisecond, when the clock steps back, when a deleted key is inserted again,
-- and across RAC instances (the row lock orders them). An outbox of an earlier release, whose
-- versions came from the small tweetbus_version_seq, upgrades by itself: the first version taken
-- here is the clock, far above them. The old sequence is left in place, unused.
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_clock (
      id           NUMBER(1) DEFAULT 1 CONSTRAINT tweetbus_clock_pk PRIMARY KEY
                   CONSTRAINT tweetbus_clock_one_row CHECK (id = 1),
      last_version NUMBER(20) NOT NULL
                   CONSTRAINT tweetbus_clock_range CHECK (last_version BETWEEN 0 AND 9223372036854775807)
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF; -- ORA-00955: name is already used by an existing object
END;
/

-- Column names follow Debezium's outbox event router (id, aggregatetype, aggregateid, type,
-- payload), like sql/postgres/001_outbox.sql, so the table could also feed Kafka Connect unchanged.
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_outbox (
      -- Event id: stable across retries; consumers use it to recognise duplicates.
      id             VARCHAR2(128 CHAR) CONSTRAINT tweetbus_outbox_pk PRIMARY KEY,
      -- The collection (read-model collection, and the hashtag on X).
      aggregatetype  VARCHAR2(64 CHAR) NOT NULL,
      -- The row's key.
      aggregateid    VARCHAR2(256 CHAR) NOT NULL,
      type           VARCHAR2(128 CHAR) NOT NULL,
      -- The full row image after the change; NULL for a delete.
      payload        CLOB CONSTRAINT tweetbus_outbox_payload_json CHECK (payload IS JSON STRICT),
      -- Versions are signed 64-bit integers everywhere else (bigint in PostgreSQL and the envelope).
      version        NUMBER(20) NOT NULL
                     CONSTRAINT tweetbus_outbox_version_range CHECK (version BETWEEN 0 AND 9223372036854775807),
      op             VARCHAR2(6) NOT NULL CONSTRAINT tweetbus_outbox_op CHECK (op IN ('upsert', 'delete')),
      source         VARCHAR2(256 CHAR) NOT NULL,
      -- When the change was made: tweetbus_capture writes the time its version stands for. The
      -- default is for rows written otherwise.
      created_at     TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
      correlation_id VARCHAR2(256 CHAR),
      -- Position in the outbox; per key, rows are published in seq order. ORDER for the same reason
      -- as the version sequence: on RAC, two changes of one key must not get inverted positions.
      seq            NUMBER GENERATED ALWAYS AS IDENTITY (START WITH 1 INCREMENT BY 1 CACHE 100 ORDER),
      -- A relay instance's claim on the row: nobody else takes it before claimed_until. A claim of a
      -- dead instance simply runs out, so another instance takes over within the lease (15 s by default).
      claimed_by     VARCHAR2(128 CHAR),
      claimed_until  TIMESTAMP WITH TIME ZONE,
      -- Set by the relay after the transport acknowledged the event.
      published_at   TIMESTAMP WITH TIME ZONE,
      -- Dead letter on the publisher side: the row can never be sent (it fails validation, or no
      -- transport message can carry it). A failed row is never retried automatically; an operator
      -- reads failed_reason, fixes the cause and re-queues it with
      --   UPDATE tweetbus_outbox SET failed_at = NULL, failed_reason = NULL WHERE id = '<id>';
      failed_at      TIMESTAMP WITH TIME ZONE,
      failed_reason  VARCHAR2(1000 CHAR)
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF;
END;
/

-- The relay's scan: rows with neither published_at nor failed_at, in seq order. Oracle has no
-- partial indexes, but seq (an identity) is never NULL, so every row is in this index and
-- "published_at IS NULL AND failed_at IS NULL" is a range of it. Retention's "published_at < cutoff"
-- is another range of it.
-- (Here and below, ORA-01408 means the same columns are indexed already, under another name.)
BEGIN
  EXECUTE IMMEDIATE 'CREATE INDEX tweetbus_outbox_pending ON tweetbus_outbox (published_at, failed_at, seq)';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE NOT IN (-955, -1408) THEN RAISE; END IF;
END;
/

-- Per key: "is an earlier row of this key still pending?" and "the rows after a key's head".
BEGIN
  EXECUTE IMMEDIATE 'CREATE INDEX tweetbus_outbox_key ON tweetbus_outbox (aggregatetype, aggregateid, seq)';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE NOT IN (-955, -1408) THEN RAISE; END IF;
END;
/

-- Operators look for dead letters. A B-tree index leaves out rows whose key is NULL, so this one
-- holds only the failed rows.
BEGIN
  EXECUTE IMMEDIATE 'CREATE INDEX tweetbus_outbox_failed ON tweetbus_outbox (failed_at)';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE NOT IN (-955, -1408) THEN RAISE; END IF;
END;
/

-- The version register: the version of each captured key's last change, kept while the key is in
-- its table (a delete removes it), as in sql/postgres/001_outbox.sql. The outbox keeps versions only
-- until retention; the register is what `npm run verify` compares a read model's versions with.
-- Column names follow the outbox's (aggregatetype is the collection, aggregateid the key).
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_key_versions (
      aggregatetype VARCHAR2(64 CHAR) NOT NULL,
      aggregateid   VARCHAR2(256 CHAR) NOT NULL,
      version       NUMBER(20) NOT NULL,
      CONSTRAINT tweetbus_key_versions_pk PRIMARY KEY (aggregatetype, aggregateid)
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF;
END;
/

-- The tables a snapshot can read: each table's script (010_orders.sql for dvx_orders) records its
-- collection, key column and the procedure that enqueues one chunk of it, since Oracle builds each
-- table's row image in that table's own trigger (JSON_OBJECT over its columns).
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_captured (
      table_name      VARCHAR2(128 CHAR) NOT NULL,
      collection      VARCHAR2(64 CHAR) NOT NULL,
      key_column      VARCHAR2(128 CHAR) NOT NULL,
      chunk_procedure VARCHAR2(128 CHAR) NOT NULL,
      CONSTRAINT tweetbus_captured_pk PRIMARY KEY (table_name, collection)
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF;
END;
/

-- One row per captured table and collection: the last snapshot's progress (a crash resumes after
-- last_key) and when it finished, as in sql/postgres/001_outbox.sql.
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_snapshots (
      table_name    VARCHAR2(128 CHAR) NOT NULL,
      collection    VARCHAR2(64 CHAR) NOT NULL,
      started_at    TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
      last_key      VARCHAR2(256 CHAR),
      rows_enqueued NUMBER DEFAULT 0 NOT NULL,
      finished_at   TIMESTAMP WITH TIME ZONE,
      CONSTRAINT tweetbus_snapshots_pk PRIMARY KEY (table_name, collection)
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF;
END;
/

-- 22 characters of base64url for 16 bytes: short, because a post holds 280 characters. SYS_GUID is
-- unique across databases and sessions, which is all an event id needs.
CREATE OR REPLACE FUNCTION tweetbus_new_id RETURN VARCHAR2
IS
BEGIN
  RETURN TRANSLATE(RTRIM(UTL_RAW.CAST_TO_VARCHAR2(UTL_ENCODE.BASE64_ENCODE(SYS_GUID())), '='), '+/', '-_');
END tweetbus_new_id;
/

-- The next version: the clock's last version plus one, or the system clock when it has moved past
-- it. An autonomous transaction, so the clock row is locked for this step alone and not until the
-- caller commits (writers do not queue behind each other's transactions); a rolled-back change
-- leaves a gap, which is harmless.
CREATE OR REPLACE FUNCTION tweetbus_next_version RETURN NUMBER
IS
  PRAGMA AUTONOMOUS_TRANSACTION;
  l_since   INTERVAL DAY(9) TO SECOND(6) := SYS_EXTRACT_UTC(SYSTIMESTAMP) - TIMESTAMP '1970-01-01 00:00:00';
  l_ms      NUMBER;
  l_clock   NUMBER;
  l_version NUMBER;
BEGIN
  l_ms := EXTRACT(DAY FROM l_since) * 86400000 + EXTRACT(HOUR FROM l_since) * 3600000
        + EXTRACT(MINUTE FROM l_since) * 60000 + FLOOR(EXTRACT(SECOND FROM l_since) * 1000);
  l_clock := GREATEST(l_ms - 1288834974657, 0) * 4194304;
  UPDATE tweetbus_clock SET last_version = GREATEST(last_version + 1, l_clock) WHERE id = 1
    RETURNING last_version INTO l_version;
  IF SQL%ROWCOUNT = 0 THEN
    BEGIN
      INSERT INTO tweetbus_clock (id, last_version) VALUES (1, l_clock);
      l_version := l_clock;
    EXCEPTION
      WHEN DUP_VAL_ON_INDEX THEN -- another session made the row first
        UPDATE tweetbus_clock SET last_version = GREATEST(last_version + 1, l_clock) WHERE id = 1
          RETURNING last_version INTO l_version;
    END;
  END IF;
  COMMIT;
  RETURN l_version;
END tweetbus_next_version;
/

-- The time a version stands for: a captured row's created_at, so a post need not carry it twice.
CREATE OR REPLACE FUNCTION tweetbus_version_time (p_version IN NUMBER) RETURN TIMESTAMP WITH TIME ZONE
IS
BEGIN
  RETURN FROM_TZ(TIMESTAMP '1970-01-01 00:00:00', 'UTC')
       + NUMTODSINTERVAL((TRUNC(p_version / 4194304) + 1288834974657) / 1000, 'SECOND');
END tweetbus_version_time;
/

-- Writes the outbox rows of one changed row, and its version in the register; a capture trigger
-- calls it (see 010_orders.sql), and so does a snapshot chunk, with the row locked and no old key:
--   p_old_key   the key before the change (NULL for an insert)
--   p_new_key   the key after the change (NULL for a delete)
--   p_image     the full row image after the change, as JSON (NULL for a delete)
-- An update that changes the key also writes a delete for the old key, so the read model does not
-- keep a document the table no longer has. Runs inside the caller's transaction: it never commits.
CREATE OR REPLACE PROCEDURE tweetbus_capture (
  p_collection IN VARCHAR2,
  p_source     IN VARCHAR2,
  p_old_key    IN VARCHAR2,
  p_new_key    IN VARCHAR2,
  p_image      IN CLOB
)
IS
  l_version NUMBER;
BEGIN
  IF p_collection IS NULL THEN
    RAISE_APPLICATION_ERROR(-20100, 'tweetbus_capture on ' || p_source || ' needs a collection name');
  END IF;

  IF p_old_key IS NOT NULL AND (p_new_key IS NULL OR p_new_key <> p_old_key) THEN
    l_version := tweetbus_next_version;
    INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
    VALUES (tweetbus_new_id, p_collection, p_old_key, p_collection || '.deleted', NULL,
            l_version, 'delete', p_source, tweetbus_version_time(l_version));
    DELETE FROM tweetbus_key_versions WHERE aggregatetype = p_collection AND aggregateid = p_old_key;
  END IF;

  IF p_new_key IS NOT NULL THEN
    l_version := tweetbus_next_version;
    INSERT INTO tweetbus_outbox (id, aggregatetype, aggregateid, type, payload, version, op, source, created_at)
    VALUES (tweetbus_new_id, p_collection, p_new_key, p_collection || '.upserted', p_image,
            l_version, 'upsert', p_source, tweetbus_version_time(l_version));
    MERGE INTO tweetbus_key_versions r
    USING (SELECT p_collection AS aggregatetype, p_new_key AS aggregateid, l_version AS version FROM dual) c
       ON (r.aggregatetype = c.aggregatetype AND r.aggregateid = c.aggregateid)
     WHEN MATCHED THEN UPDATE SET r.version = c.version
     WHEN NOT MATCHED THEN INSERT (aggregatetype, aggregateid, version) VALUES (c.aggregatetype, c.aggregateid, c.version);
  END IF;
END tweetbus_capture;
/
