-- The demo's write table: the original dvx_orders columns (seed 000), captured into the outbox as
-- collection "orders". Requires 001_outbox.sql. Run as the schema owner. Idempotent.

WHENEVER SQLERROR EXIT SQL.SQLCODE

-- Two changes from the original table:
-- - id is the primary key: a key must name one row, or the read model could not follow it.
-- - last_updated_timestamp keeps its zone. A plain TIMESTAMP drops the zone of SYSTIMESTAMP, so which
--   instant it holds would depend on the server's clock setting and the reading session. The default
--   is truncated to whole seconds, as in PostgreSQL: every character counts in a 280-character post,
--   and truncating (not rounding, which TIMESTAMP(0) would do) never stamps a change in the future.
BEGIN
  EXECUTE IMMEDIATE q'[
    CREATE TABLE dvx_orders (
      id                     VARCHAR2(200) CONSTRAINT dvx_orders_pk PRIMARY KEY,
      status                 VARCHAR2(100),
      customer_id            VARCHAR2(200),
      customer_name          VARCHAR2(200),
      shipping_destination   VARCHAR2(200),
      last_updated_timestamp TIMESTAMP(0) WITH TIME ZONE
                             DEFAULT SYSTIMESTAMP - NUMTODSINTERVAL(MOD(EXTRACT(SECOND FROM SYSTIMESTAMP), 1), 'SECOND')
    )]';
EXCEPTION
  WHEN OTHERS THEN
    IF SQLCODE != -955 THEN RAISE; END IF; -- ORA-00955: name is already used by an existing object
END;
/

-- The full row image as JSON, for the capture trigger and the snapshot alike. Keys are the column
-- names in lower case, as PostgreSQL's to_jsonb(NEW) writes them. Every value is rendered explicitly,
-- so the image does not depend on the session's NLS or time zone settings: timestamps as ISO-8601 in
-- UTC with a Z.
CREATE OR REPLACE FUNCTION dvx_orders_image (
  p_id                     IN VARCHAR2,
  p_status                 IN VARCHAR2,
  p_customer_id            IN VARCHAR2,
  p_customer_name          IN VARCHAR2,
  p_shipping_destination   IN VARCHAR2,
  p_last_updated_timestamp IN TIMESTAMP WITH TIME ZONE
) RETURN CLOB
IS
  l_image CLOB;
BEGIN
  SELECT JSON_OBJECT(
           'id'                     VALUE p_id,
           'status'                 VALUE p_status,
           'customer_id'            VALUE p_customer_id,
           'customer_name'          VALUE p_customer_name,
           'shipping_destination'   VALUE p_shipping_destination,
           'last_updated_timestamp' VALUE TO_CHAR(SYS_EXTRACT_UTC(p_last_updated_timestamp), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           NULL ON NULL
           RETURNING CLOB)
    INTO l_image
    FROM dual;
  RETURN l_image;
END dvx_orders_image;
/

-- The capture trigger: the full row image, written to the outbox in the changing transaction.
CREATE OR REPLACE TRIGGER dvx_orders_capture
  AFTER INSERT OR UPDATE OR DELETE ON dvx_orders
  FOR EACH ROW
DECLARE
  l_image CLOB;
BEGIN
  IF INSERTING OR UPDATING THEN
    l_image := dvx_orders_image(:NEW.id, :NEW.status, :NEW.customer_id, :NEW.customer_name,
                                :NEW.shipping_destination, :NEW.last_updated_timestamp);
  END IF;
  -- On INSERT :OLD.id is NULL, on DELETE :NEW.id is NULL (the primary key keeps both non-NULL otherwise).
  tweetbus_capture('orders', 'dvx_orders', :OLD.id, :NEW.id, l_image);
END;
/

-- One chunk of a snapshot (`npm run snapshot`, publisher/capture/oracle/oracle-snapshot.ts): the next
-- p_max_rows rows after p_after_key (NULL: from the first), in key order, each enqueued as an upsert
-- by tweetbus_capture at a fresh version taken after its row's lock, as on PostgreSQL
-- (docs/design-notes.md, "Snapshots"): a writer that changed a row before has committed, and one that
-- changes it after waits for the chunk's commit and gets a higher version. Oracle has no FOR SHARE,
-- so the rows are locked FOR UPDATE, for the chunk's short transaction; and FOR UPDATE takes no row
-- limit (ORA-02014), so the chunk's last key is read first and the rows up to it are locked. The
-- caller commits. p_last is 1 when fewer than p_max_rows keys were left: the snapshot is done.
CREATE OR REPLACE PROCEDURE dvx_orders_snapshot_chunk (
  p_after_key IN  VARCHAR2,
  p_max_rows  IN  NUMBER,
  p_enqueued  OUT NUMBER,
  p_last_key  OUT VARCHAR2,
  p_last      OUT NUMBER
)
IS
  l_keys NUMBER;
BEGIN
  SELECT COUNT(*), MAX(id) INTO l_keys, p_last_key
    FROM (SELECT id FROM dvx_orders
           WHERE p_after_key IS NULL OR id > p_after_key
           ORDER BY id
           FETCH FIRST p_max_rows ROWS ONLY);
  p_enqueued := 0;
  p_last := CASE WHEN l_keys < p_max_rows THEN 1 ELSE 0 END;
  IF l_keys = 0 THEN
    RETURN;
  END IF;
  FOR r IN (SELECT t.id, t.status, t.customer_id, t.customer_name, t.shipping_destination, t.last_updated_timestamp
              FROM dvx_orders t
             WHERE (p_after_key IS NULL OR t.id > p_after_key) AND t.id <= p_last_key
             ORDER BY t.id
               FOR UPDATE)
  LOOP
    tweetbus_capture('orders', 'dvx_orders', NULL, r.id,
                     dvx_orders_image(r.id, r.status, r.customer_id, r.customer_name, r.shipping_destination, r.last_updated_timestamp));
    p_enqueued := p_enqueued + 1;
  END LOOP;
END dvx_orders_snapshot_chunk;
/

-- Snapshots find dvx_orders here: its collection, key column and chunk procedure.
BEGIN
  MERGE INTO tweetbus_captured c
  USING (SELECT 'DVX_ORDERS' AS table_name, 'orders' AS collection FROM dual) t
     ON (c.table_name = t.table_name AND c.collection = t.collection)
   WHEN MATCHED THEN UPDATE SET c.key_column = 'ID', c.chunk_procedure = 'DVX_ORDERS_SNAPSHOT_CHUNK'
   WHEN NOT MATCHED THEN INSERT (table_name, collection, key_column, chunk_procedure)
        VALUES (t.table_name, t.collection, 'ID', 'DVX_ORDERS_SNAPSHOT_CHUNK');
  COMMIT;
END;
/
