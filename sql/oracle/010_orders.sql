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

-- The capture trigger: the full row image as JSON, written to the outbox in the changing transaction.
-- Keys are the column names in lower case, as PostgreSQL's to_jsonb(NEW) writes them. Every value is
-- rendered explicitly, so the image does not depend on the session's NLS or time zone settings:
-- timestamps as ISO-8601 in UTC with a Z.
CREATE OR REPLACE TRIGGER dvx_orders_capture
  AFTER INSERT OR UPDATE OR DELETE ON dvx_orders
  FOR EACH ROW
DECLARE
  l_image CLOB;
BEGIN
  IF INSERTING OR UPDATING THEN
    SELECT JSON_OBJECT(
             'id'                     VALUE :NEW.id,
             'status'                 VALUE :NEW.status,
             'customer_id'            VALUE :NEW.customer_id,
             'customer_name'          VALUE :NEW.customer_name,
             'shipping_destination'   VALUE :NEW.shipping_destination,
             'last_updated_timestamp' VALUE TO_CHAR(SYS_EXTRACT_UTC(:NEW.last_updated_timestamp), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             NULL ON NULL
             RETURNING CLOB)
      INTO l_image
      FROM dual;
  END IF;
  -- On INSERT :OLD.id is NULL, on DELETE :NEW.id is NULL (the primary key keeps both non-NULL otherwise).
  tweetbus_capture('orders', 'dvx_orders', :OLD.id, :NEW.id, l_image);
END;
/
