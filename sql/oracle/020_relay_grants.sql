-- What the relay's database user may do: read, claim, mark and delete outbox rows, and append the
-- events of the publisher's HTTP ways in. Nothing else: not the captured tables, not the sequence.
-- Run as the schema owner after 001_outbox.sql. GRANT is idempotent.
--
-- relay_user (substitution variable) is the user in OUTBOX_DATABASE_URL; SQL*Plus and SQLcl ask for
-- it, or take it from   DEFINE relay_user = TWEETBUS_RELAY   run first. A DBA creates that user
-- with nothing but CREATE SESSION; the publisher then names the owner's schema in the URL
-- (oracle://tweetbus_relay:…@host:1521/service?schema=<owner>).
--
--   SELECT  find and read claimable rows (SELECT … FOR UPDATE SKIP LOCKED also needs UPDATE)
--   UPDATE  claim rows, mark them published or failed
--   INSERT  append events that arrive over HTTP (POST /events, GET /order)
--   DELETE  retention: delete published rows past their age

WHENEVER SQLERROR EXIT SQL.SQLCODE

GRANT SELECT, INSERT, UPDATE, DELETE ON tweetbus_outbox TO &&relay_user;
