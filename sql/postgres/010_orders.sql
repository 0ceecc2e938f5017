-- The demo's write table: the original dvx_orders columns (seed 000), captured into the outbox
-- as collection "orders". Requires 001_outbox.sql. Idempotent.

CREATE TABLE IF NOT EXISTS dvx_orders (
  id                     text PRIMARY KEY,
  status                 text,
  customer_id            text,
  customer_name          text,
  shipping_destination   text,
  -- Whole seconds: every character counts in a 280-character post, and the image carries this value.
  -- Whole seconds keep a post short; truncated, because rounding could stamp a change up to 0.5 s in the future.
  last_updated_timestamp timestamptz(0) DEFAULT date_trunc('second', now())
);

DROP TRIGGER IF EXISTS dvx_orders_capture ON dvx_orders;
CREATE TRIGGER dvx_orders_capture
  AFTER INSERT OR UPDATE OR DELETE ON dvx_orders
  FOR EACH ROW EXECUTE FUNCTION tweetbus_capture('orders', 'id');
