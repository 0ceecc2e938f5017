-- The original demo's UTL_HTTP callback, kept as an option and made commit-safe. The relay is the
-- default path (README.md says why); install this instead of running the relay on this outbox, not
-- beside it. Run as the schema owner after 001_outbox.sql and, as a DBA, 030_http_callback_acl.sql.
--
-- The original trigger called HTTP while the change was still uncommitted: a rolled-back insert was
-- tweeted anyway, and a change made while the service was down was lost. Here nothing calls HTTP in
-- a trigger. The capture trigger only writes the outbox; a job, in a session of its own that sees only
-- committed rows, POSTs them to the publisher's POST /events and marks them published after a 2xx
-- answer. A failed call leaves them unpublished for the next run. The publisher ignores an event id
-- it already holds, so a run that dies between the answer and its commit only sends them again.
--
-- Two things start a run:
-- - a DBMS_SCHEDULER job every 10 seconds (the safety net, and the catch-up after downtime);
-- - a statement trigger on tweetbus_outbox that submits a one-off DBMS_JOB run. DBMS_JOB is
--   transactional: the run exists only once the inserting transaction commits, and never after a
--   rollback. (DBMS_JOB is still supported in 19c and later, as a front to the scheduler.)
--
-- Substitution variable (SQL*Plus and SQLcl ask for it, or take it from DEFINE):
--   publisher_events_url   e.g. http://publisher.example.com:3001/events
-- It is stored in tweetbus_callback_state, so it can be changed later without running this again.
--
-- Idempotent. To remove the option again:
--   EXEC DBMS_SCHEDULER.DROP_JOB('TWEETBUS_HTTP_PUBLISH')
--   DROP TRIGGER tweetbus_outbox_kick
--   DROP PACKAGE tweetbus_http_callback
--   DROP TABLE tweetbus_callback_state

WHENEVER SQLERROR EXIT SQL.SQLCODE

-- One row: where to send, and the row runs lock so that they take turns.
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE tweetbus_callback_state (
      id         NUMBER(1) DEFAULT 1 CONSTRAINT tweetbus_callback_state_pk PRIMARY KEY
                 CONSTRAINT tweetbus_callback_state_one CHECK (id = 1),
      events_url VARCHAR2(2000 CHAR) NOT NULL
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF; -- ORA-00955: name is already used by an existing object
END;
/

MERGE INTO tweetbus_callback_state s
USING (SELECT 1 AS id, '&&publisher_events_url' AS events_url FROM dual) v
   ON (s.id = v.id)
 WHEN MATCHED THEN UPDATE SET s.events_url = v.events_url
 WHEN NOT MATCHED THEN INSERT (id, events_url) VALUES (v.id, v.events_url);

COMMIT;

CREATE OR REPLACE PACKAGE tweetbus_http_callback AUTHID DEFINER
IS
  -- Sends committed, unpublished outbox rows to POST /events in seq order, at most 100 a request,
  -- and marks them published only after a 2xx answer. A request the publisher refuses as invalid
  -- (400, 413, 422) is retried one event at a time, and the event refused alone is marked failed
  -- with the answer as its reason. Any other answer or error ends the run; the rows wait.
  -- Runs take turns; a run that finds another one sending leaves at once.
  PROCEDURE publish_pending;

  -- For the statement trigger: submits one run of publish_pending per transaction, with DBMS_JOB,
  -- so that the run starts only if the transaction commits.
  PROCEDURE kick;
END tweetbus_http_callback;
/

CREATE OR REPLACE PACKAGE BODY tweetbus_http_callback
IS
  c_batch_size  CONSTANT PLS_INTEGER := 100; -- events a request (the publisher takes up to 500)
  c_max_batches CONSTANT PLS_INTEGER := 100; -- requests a run; the next run goes on from there
  c_timeout_s   CONSTANT PLS_INTEGER := 30;

  TYPE t_ids IS TABLE OF tweetbus_outbox.id%TYPE;
  TYPE t_events IS TABLE OF CLOB;

  -- The transaction this session last submitted a run for.
  g_kicked_tx VARCHAR2(200);

  PROCEDURE kick
  IS
    l_tx  VARCHAR2(200) := DBMS_TRANSACTION.LOCAL_TRANSACTION_ID;
    l_job BINARY_INTEGER;
  BEGIN
    -- One run per transaction, however many statements it inserts with.
    IF l_tx IS NOT NULL AND (g_kicked_tx IS NULL OR g_kicked_tx <> l_tx) THEN
      DBMS_JOB.SUBMIT(l_job, 'tweetbus_http_callback.publish_pending;');
      g_kicked_tx := l_tx;
    END IF;
  END kick;

  -- POSTs one JSON array; returns the status code and the start of the answer.
  PROCEDURE post_events (
    p_url    IN  VARCHAR2,
    p_body   IN  CLOB,
    o_status OUT PLS_INTEGER,
    o_answer OUT VARCHAR2
  )
  IS
    l_blob     BLOB;
    l_dest_off INTEGER := 1;
    l_src_off  INTEGER := 1;
    l_lang     INTEGER := DBMS_LOB.DEFAULT_LANG_CTX;
    l_warning  INTEGER;
    l_length   INTEGER;
    l_offset   INTEGER := 1;
    l_amount   INTEGER;
    l_chunk    RAW(32767);
    l_req      UTL_HTTP.REQ;
    l_resp     UTL_HTTP.RESP;
    l_started  BOOLEAN := FALSE;
    l_answered BOOLEAN := FALSE;
  BEGIN
    -- Content-Length counts bytes, so the body goes out as UTF-8 bytes rather than characters.
    DBMS_LOB.CREATETEMPORARY(l_blob, TRUE);
    DBMS_LOB.CONVERTTOBLOB(l_blob, p_body, DBMS_LOB.LOBMAXSIZE, l_dest_off, l_src_off,
                           NLS_CHARSET_ID('AL32UTF8'), l_lang, l_warning);
    l_length := DBMS_LOB.GETLENGTH(l_blob);

    UTL_HTTP.SET_TRANSFER_TIMEOUT(c_timeout_s);
    l_req := UTL_HTTP.BEGIN_REQUEST(p_url, 'POST', 'HTTP/1.1');
    l_started := TRUE;
    UTL_HTTP.SET_HEADER(l_req, 'Content-Type', 'application/json');
    UTL_HTTP.SET_HEADER(l_req, 'Content-Length', TO_CHAR(l_length));
    WHILE l_offset <= l_length LOOP
      l_amount := LEAST(32767, l_length - l_offset + 1);
      DBMS_LOB.READ(l_blob, l_amount, l_offset, l_chunk);
      UTL_HTTP.WRITE_RAW(l_req, l_chunk);
      l_offset := l_offset + l_amount;
    END LOOP;

    l_resp := UTL_HTTP.GET_RESPONSE(l_req);
    l_answered := TRUE;
    o_status := l_resp.status_code;
    BEGIN
      UTL_HTTP.READ_TEXT(l_resp, o_answer, 500);
    EXCEPTION
      WHEN UTL_HTTP.END_OF_BODY THEN
        NULL;
    END;
    UTL_HTTP.END_RESPONSE(l_resp);
    DBMS_LOB.FREETEMPORARY(l_blob);
  EXCEPTION
    WHEN OTHERS THEN
      IF l_answered THEN
        BEGIN UTL_HTTP.END_RESPONSE(l_resp); EXCEPTION WHEN OTHERS THEN NULL; END;
      ELSIF l_started THEN
        BEGIN UTL_HTTP.END_REQUEST(l_req); EXCEPTION WHEN OTHERS THEN NULL; END;
      END IF;
      IF DBMS_LOB.ISTEMPORARY(l_blob) = 1 THEN
        DBMS_LOB.FREETEMPORARY(l_blob);
      END IF;
      RAISE;
  END post_events;

  PROCEDURE publish_pending
  IS
    l_url    tweetbus_callback_state.events_url%TYPE;
    l_limit  PLS_INTEGER := c_batch_size;
    l_ids    t_ids;
    l_events t_events;
    l_body   CLOB;
    l_status PLS_INTEGER;
    l_answer VARCHAR2(4000);
  BEGIN
    FOR l_request IN 1 .. c_max_batches LOOP
      -- Runs take turns on the state row, so rows go out in seq order, which keeps each key's
      -- changes in order. The lock lasts one request; a run that finds it taken leaves, because
      -- the run holding it sends what is there, and the repeating job catches anything later.
      BEGIN
        SELECT events_url INTO l_url FROM tweetbus_callback_state WHERE id = 1 FOR UPDATE SKIP LOCKED;
      EXCEPTION
        WHEN NO_DATA_FOUND THEN
          ROLLBACK;
          RETURN;
      END;

      -- The envelope POST /events takes (events/envelope.ts): version as a string of digits, so
      -- versions above 2^53 survive; data and correlationId left out when NULL.
      SELECT o.id,
             JSON_OBJECT(
               'id'            VALUE o.id,
               'source'        VALUE o.source,
               'type'          VALUE o.type,
               'collection'    VALUE o.aggregatetype,
               'key'           VALUE o.aggregateid,
               'version'       VALUE TO_CHAR(o.version),
               'op'            VALUE o.op,
               'data'          VALUE o.payload FORMAT JSON,
               'createdAt'     VALUE TO_CHAR(SYS_EXTRACT_UTC(o.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"'),
               'correlationId' VALUE o.correlation_id
               ABSENT ON NULL
               RETURNING CLOB)
        BULK COLLECT INTO l_ids, l_events
        FROM tweetbus_outbox o
       WHERE o.published_at IS NULL AND o.failed_at IS NULL
       ORDER BY o.seq
       FETCH FIRST l_limit ROWS ONLY;

      IF l_ids.COUNT = 0 THEN
        COMMIT;
        RETURN;
      END IF;

      DBMS_LOB.CREATETEMPORARY(l_body, TRUE);
      DBMS_LOB.WRITEAPPEND(l_body, 1, '[');
      FOR i IN 1 .. l_events.COUNT LOOP
        IF i > 1 THEN
          DBMS_LOB.WRITEAPPEND(l_body, 1, ',');
        END IF;
        DBMS_LOB.APPEND(l_body, l_events(i));
      END LOOP;
      DBMS_LOB.WRITEAPPEND(l_body, 1, ']');

      post_events(l_url, l_body, l_status, l_answer);
      DBMS_LOB.FREETEMPORARY(l_body);

      IF l_status BETWEEN 200 AND 299 THEN
        FORALL i IN 1 .. l_ids.COUNT
          UPDATE tweetbus_outbox
             SET published_at = SYSTIMESTAMP
           WHERE id = l_ids(i) AND published_at IS NULL;
        COMMIT;
        l_limit := c_batch_size;
      ELSIF l_status IN (400, 413, 422) AND l_ids.COUNT > 1 THEN
        -- The publisher refuses a whole request for one bad event: go one at a time until the bad
        -- one is alone.
        ROLLBACK;
        l_limit := 1;
      ELSIF l_status IN (400, 413, 422) THEN
        UPDATE tweetbus_outbox
           SET failed_at = SYSTIMESTAMP,
               failed_reason = SUBSTR('POST /events answered ' || TO_CHAR(l_status) || ': ' || l_answer, 1, 1000)
         WHERE id = l_ids(1) AND published_at IS NULL;
        COMMIT;
        l_limit := c_batch_size;
      ELSE
        -- 5xx, 429, a redirect or an auth problem: nothing is lost; the rows wait for the next run.
        ROLLBACK;
        RETURN;
      END IF;
    END LOOP;
  EXCEPTION
    WHEN OTHERS THEN
      ROLLBACK;
      -- Re-raised, so the scheduler records it in USER_SCHEDULER_JOB_RUN_DETAILS.
      RAISE;
  END publish_pending;
END tweetbus_http_callback;
/

-- A statement trigger (no FOR EACH ROW) and no HTTP in it: it only asks for a run after commit.
CREATE OR REPLACE TRIGGER tweetbus_outbox_kick
  AFTER INSERT ON tweetbus_outbox
BEGIN
  tweetbus_http_callback.kick;
END;
/

BEGIN
  DBMS_SCHEDULER.CREATE_JOB(
    job_name        => 'TWEETBUS_HTTP_PUBLISH',
    job_type        => 'STORED_PROCEDURE',
    job_action      => 'TWEETBUS_HTTP_CALLBACK.PUBLISH_PENDING',
    repeat_interval => 'FREQ=SECONDLY; INTERVAL=10',
    enabled         => TRUE,
    comments        => 'tweetbus: POSTs unpublished outbox rows to the publisher (031_http_callback.sql)');
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -27477 THEN RAISE; END IF; -- ORA-27477: the job exists already
END;
/
