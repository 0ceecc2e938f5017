import { z } from 'zod';
import { defaultEventType, type ChangeEvent } from '../../events/envelope.js';

/**
 * The original demo's UTL_HTTP callback (seed 000): `GET /order?orderId=&customerName=&status=
 * &customerId=&shippingDestination=&timestamp=`. Parameter names and lengths follow `dvx_orders`.
 * Other parameters are ignored, as the original did.
 */
export const legacyOrderQuerySchema = z.object({
  orderId: z.string({ error: 'required' }).trim().min(1, 'required').max(200),
  status: z.string().max(100).optional(),
  customerId: z.string().max(200).optional(),
  customerName: z.string().max(200).optional(),
  shippingDestination: z.string().max(200).optional(),
  timestamp: z.string().max(64).optional(),
});

export type LegacyOrderQuery = z.infer<typeof legacyOrderQuerySchema>;

const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** Oracle's default NLS_TIMESTAMP_FORMAT, `DD-MON-RR HH.MI.SSXFF AM`, which the trigger's string concatenation produces. */
const oracleTimestamp = /^(\d{1,2})-([A-Za-z]{3})-(\d{2}|\d{4}) (\d{1,2})\.(\d{2})\.(\d{2})(?:[.,](\d{1,9}))? ?([AaPp][Mm])$/;

/**
 * Reads the callback's `timestamp`: ISO 8601, epoch milliseconds, or Oracle's default timestamp text
 * (taken as UTC, since it carries no zone). Returns `undefined` for anything else.
 */
export function parseLegacyTimestamp(text: string): Date | undefined {
  const value = text.trim();
  if (/^\d{10,16}$/.test(value)) return new Date(Number(value));
  const oracle = oracleTimestamp.exec(value);
  if (oracle !== null) {
    const [, day, mon, year, hour, minute, second, fraction = '0', meridiem = 'AM'] = oracle;
    const month = months.indexOf((mon ?? '').toUpperCase());
    if (month < 0) return undefined;
    const fullYear = (year ?? '').length === 2 ? 2000 + Number(year) - (Number(year) >= 50 ? 100 : 0) : Number(year);
    const hour12 = Number(hour) % 12;
    const ms = Math.floor(Number(`0.${fraction}`) * 1000);
    const date = new Date(Date.UTC(fullYear, month, Number(day), hour12 + (meridiem.toUpperCase() === 'PM' ? 12 : 0), Number(minute), Number(second), ms));
    return date.getUTCDate() === Number(day) ? date : undefined;
  }
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value);
  if (iso === null) return undefined;
  // Without a zone, UTC (as for Oracle's text), not this server's local time.
  const hasTime = value.length > 10;
  const date = new Date(value.replace(' ', 'T') + (hasTime && iso[1] === undefined ? 'Z' : ''));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Whole seconds, like `dvx_orders.last_updated_timestamp` (timestamptz(0)): the milliseconds would
 * cost 9 of a post's 280 characters (the codec escapes the dot).
 */
function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The `orders` upsert for one callback: the full `dvx_orders` row image, snake_case like the table. */
export function legacyOrderEvent(
  query: LegacyOrderQuery,
  lastUpdated: Date,
  context: { id: string; version: bigint; source: string; collection: string; now: Date },
): ChangeEvent {
  return {
    id: context.id,
    source: context.source,
    type: defaultEventType(context.collection, 'upsert'),
    collection: context.collection,
    key: query.orderId,
    version: context.version,
    op: 'upsert',
    data: {
      id: query.orderId,
      status: query.status ?? null,
      customer_id: query.customerId ?? null,
      customer_name: query.customerName ?? null,
      shipping_destination: query.shippingDestination ?? null,
      last_updated_timestamp: isoSeconds(lastUpdated),
    },
    createdAt: context.now.toISOString(),
  };
}
