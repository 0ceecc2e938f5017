import type { Logger } from '../../common/logger.js';
import { z } from 'zod';
import { describeIssues, parseChangeEvent, wireInstant, type ChangeEvent, type DocumentLimits, type ParseResult } from '../../events/envelope.js';

/**
 * An integer column fetched as text, as a bigint. Outbox positions and versions exceed 2^53, where a
 * JavaScript number would round them, so every adapter fetches them as digits.
 */
export const digits = z.string().regex(/^\d{1,20}$/).transform((s) => BigInt(s));

// In the order of the columns, so a reason lists the bad ones in that order.
export const outboxFields = z.object({
  id: z.string(),
  aggregatetype: z.string(),
  aggregateid: z.string(),
  type: z.string(),
  payload: z.unknown(),
  version: z.string(),
  op: z.string(),
  source: z.string(),
  created_at: z.union([z.date(), z.string()]),
  correlation_id: z.string().nullable(),
});

/**
 * One outbox row's columns as the adapter read them, named as in sql/postgres/001_outbox.sql, still
 * unchecked. `payload` is the row image as a JSON value (already parsed), `version` its digits.
 */
export type OutboxRowFields = { readonly [K in keyof z.input<typeof outboxFields>]-?: unknown };

type OutboxColumns = z.output<typeof outboxFields>;

/**
 * `outboxFields` for columns of the types the table gives them, checked by hand: the relay reads
 * every row through here, and zod allocates about 1 KB a row. `undefined` for anything else, which
 * the schema then judges and explains. It accepts nothing the schema refuses, and gives what the
 * schema gives (outbox-row.unit.test.ts checks both on generated rows).
 */
export function plainOutboxFields(fields: OutboxRowFields): OutboxColumns | undefined {
  const { id, aggregatetype, aggregateid, type, payload, version, op, source, created_at, correlation_id } = fields;
  if (typeof id !== 'string' || typeof aggregatetype !== 'string' || typeof aggregateid !== 'string' || typeof type !== 'string') return undefined;
  if (typeof version !== 'string' || typeof op !== 'string' || typeof source !== 'string') return undefined;
  if (typeof created_at !== 'string' && !(created_at instanceof Date && !Number.isNaN(created_at.getTime()))) return undefined;
  if (correlation_id !== null && typeof correlation_id !== 'string') return undefined;
  return { id, aggregatetype, aggregateid, type, payload, version, op, source, created_at, correlation_id };
}

/** Reads one outbox row as a change event: `{ ok: false, reason }` for a row that can never be sent. */
export function outboxRowToEvent(fields: OutboxRowFields, limits: DocumentLimits): ParseResult<ChangeEvent> {
  let c = plainOutboxFields(fields);
  if (c === undefined) {
    const columns = outboxFields.safeParse(fields);
    if (!columns.success) return unexpectedColumns(columns.error);
    c = columns.data;
  }
  const parsed = parseChangeEvent(
    {
      id: c.id,
      source: c.source,
      type: c.type,
      collection: c.aggregatetype,
      key: c.aggregateid,
      version: c.version,
      op: c.op,
      data: c.payload,
      createdAt: wireInstant(c.created_at),
      ...(c.correlation_id === null ? {} : { correlationId: c.correlation_id }),
    },
    limits,
  );
  return parsed.ok ? parsed : notAnEvent(parsed.reason);
}

/** The reason for a row whose columns do not have the types the table gives them. */
export function unexpectedColumns(error: z.ZodError): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason: `outbox row has unexpected columns: ${describeIssues(error)}` };
}

/** The reason for a row whose columns are all there but do not make a valid change event. */
export function notAnEvent(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason: `outbox row is not a valid change event: ${reason}` };
}

/**
 * `reason` cut to at most `max` characters (code points, so a surrogate pair is never split), ending
 * in `…` when cut. Reasons come from validation messages, which can quote much of a row.
 */
export function cutReason(reason: string, max: number): string {
  const chars = Array.from(reason);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : reason;
}

/** An outbox row `readBatch` marked failed instead of returning it. */
export interface DeadLetteredRow {
  readonly id: string;
  readonly seq: bigint;
  readonly reason: string;
}

/** Reports rows dead-lettered by `readBatch`, one warning each; the rows' `failed_reason` keeps the reason too. */
export function logDeadLettered(logger: Logger, rows: readonly DeadLetteredRow[]): void {
  for (const row of rows) {
    logger.warn({ outboxRow: { id: row.id, seq: row.seq.toString() }, reason: row.reason }, 'outbox row dead-lettered: it can never be published');
  }
}
