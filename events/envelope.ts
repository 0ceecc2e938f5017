import { z } from 'zod';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';

/**
 * The change event: one envelope flows from capture to the read model (docs/design-notes.md, "The event").
 *
 * - `version` comes from the source (a sequence taken in the row trigger, or a post's snowflake id
 *   for a hand-typed post). It is a bigint because snowflake ids exceed 2^53.
 * - `data` is the full row image after the change; it is `null` exactly when `op` is `delete`.
 *   Version gating is only correct for full images.
 */
export type ChangeOp = 'upsert' | 'delete';

export interface ChangeEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly collection: string;
  readonly key: string;
  readonly version: bigint;
  readonly op: ChangeOp;
  readonly data: JsonObject | null;
  /** ISO-8601, UTC, millisecond precision: when the change was committed at the source. */
  readonly createdAt: string;
  readonly correlationId?: string | undefined;
}

/** Limits that keep hostile documents from costing memory, CPU or a store's nesting limit. */
export interface DocumentLimits {
  readonly maxDepth: number;
  readonly maxKeys: number;
  /** Size of the document serialized as JSON, in UTF-8 bytes. */
  readonly maxBytes: number;
  readonly maxStringLength: number;
}

export const defaultDocumentLimits: DocumentLimits = {
  maxDepth: 8,
  maxKeys: 512,
  maxBytes: 64 * 1024,
  maxStringLength: 16 * 1024,
};

export const maxVersion = 2n ** 63n - 1n;
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

/** Collection names double as hashtags on X, which end at `-` or `.`: letters, digits and `_` only. */
export const collectionNamePattern = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * Why a string cannot be stored as it is by every read model, or `undefined` when it can. Both
 * problems slip through `JSON.parse` (`"\u0000"`, `"\uD800"`):
 * - NUL: PostgreSQL's `text` and `jsonb` refuse it (22P05), and BSON keys end at it;
 * - a lone UTF-16 surrogate is not Unicode text: `jsonb` refuses it (22P02), and UTF-8 drivers (pg,
 *   BSON) would write U+FFFD in its place, so two different keys or values would become one.
 * The reason never quotes the string: the caller names where it is.
 */
export function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000), which no read model can store';
  if (!value.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not Unicode text and no read model can store';
  return undefined;
}

/** Why a document key is unsafe for MongoDB or for JavaScript objects, or `undefined` when it is fine. */
export function unsafeKeyReason(key: string): string | undefined {
  if (key.length === 0) return 'a key may not be empty';
  const text = textProblem(key);
  if (text !== undefined) return `a key ${text}`;
  if (key.startsWith('$')) return `key "${key}" may not start with "$"`;
  if (key.includes('.')) return `key "${key}" may not contain "."`;
  if (forbiddenKeys.has(key)) return `key "${key}" is not allowed`;
  if (key.length > 256) return 'a key may be at most 256 characters';
  return undefined;
}

/**
 * Checks a document against the key rules and limits. Returns the first problem found, with the
 * path to it, or `undefined` when the document is acceptable.
 */
export function documentProblem(doc: JsonObject, limits: DocumentLimits = defaultDocumentLimits): string | undefined {
  let keys = 0;
  // At least the size of the document as JSON.stringify writes it, in UTF-8 bytes, summed on the way:
  // a document within the limit by this bound is not serialized to be measured. A UTF-16 unit takes
  // at most 6 bytes (an escape such as \u001f), a finite number at most 25 characters
  // (-0.0000012345678901234567), and every value at most one comma.
  let sizeBound = 0;
  const stringBound = (text: string): number => 6 * text.length + 2;
  // The keys and indexes down to the value in hand; its path is written only for a problem (the
  // consumer checks every value of every document).
  const trail: (string | number)[] = [];
  const path = (): string => `data${trail.map((step) => (typeof step === 'number' ? `[${String(step)}]` : `.${step}`)).join('')}`;
  const visit = (value: JsonValue, depth: number): string | undefined => {
    if (typeof value === 'string') {
      if (value.length > limits.maxStringLength) return `${path()} is longer than ${limits.maxStringLength} characters`;
      sizeBound += stringBound(value) + 1;
      const problem = textProblem(value);
      return problem === undefined ? undefined : `${path()} ${problem}`;
    }
    if (typeof value === 'number') {
      sizeBound += 26;
      return Number.isFinite(value) ? undefined : `${path()} is not a finite number`;
    }
    if (value === null || typeof value === 'boolean') {
      sizeBound += 6;
      return undefined;
    }
    if (depth >= limits.maxDepth) return `${path()} is nested deeper than ${limits.maxDepth} levels`;
    sizeBound += 3;
    if (Array.isArray(value)) {
      keys += value.length;
      if (keys > limits.maxKeys) return `document has more than ${limits.maxKeys} keys and items`;
      for (let i = 0; i < value.length; i += 1) {
        trail.push(i);
        const problem = visit(value[i] ?? null, depth + 1);
        if (problem !== undefined) return problem;
        trail.pop();
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      keys += 1;
      if (keys > limits.maxKeys) return `document has more than ${limits.maxKeys} keys and items`;
      const reason = unsafeKeyReason(key);
      if (reason !== undefined) return `${path()}: ${reason}`;
      sizeBound += stringBound(key) + 1;
      trail.push(key);
      const problem = visit(value[key] ?? null, depth + 1);
      if (problem !== undefined) return problem;
      trail.pop();
    }
    return undefined;
  };
  const problem = visit(doc, 0);
  if (problem !== undefined) return problem;
  if (sizeBound <= limits.maxBytes) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(doc), 'utf8');
  if (bytes > limits.maxBytes) return `data is ${bytes} bytes; at most ${limits.maxBytes} are accepted`;
  return undefined;
}

/**
 * A version on the wire: a safe integer, or a string of digits (snowflakes exceed 2^53). Validation
 * only: `versionFromWire` makes it a bigint. (A zod transform costs about 0.8 us a field in zod 4, and
 * the consumer parses every message: the envelope's three conversions cost more than all its checks.)
 */
const wireVersionDigits = /^\d{1,19}$/;
const wireVersion = z.union([z.bigint(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(wireVersionDigits)]);

/** The version as a bigint, or `undefined` when it does not fit in a signed 64-bit integer. */
function versionFromWire(wire: z.infer<typeof wireVersion>): bigint | undefined {
  const version = BigInt(wire);
  return version > maxVersion ? undefined : version;
}

/** A JSON-safe rendering of a version: a number when it is exact as one, a string otherwise. */
export function versionToJson(version: bigint): number | string {
  return version <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(version) : version.toString();
}

/** What `Date.prototype.toISOString` writes for the years 0000-9999: a string already in this form is kept as it is. */
const canonicalInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const jsonObjectSchema = z.custom<JsonObject>(isJsonObject, { message: 'expected a JSON object' });

/** Adds `textProblem` to a string schema: every envelope string is stored somewhere (ids, source, key). */
function storable<T extends z.ZodType<string | number>>(schema: T) {
  // A check, not a superRefine: the consumer runs it on every field of every message, and a
  // superRefine costs ten times as much in zod 4. Numbers are always storable.
  return schema.check((payload) => {
    if (typeof payload.value !== 'string') return;
    const problem = textProblem(payload.value);
    if (problem !== undefined) payload.issues.push({ code: 'custom', message: problem, input: payload.value });
  });
}

/** The longest each text field of the envelope may be, in UTF-16 units (the schema and `plainEnvelope`). */
const maxLength = { id: 128, source: 256, type: 128, key: 256, correlationId: 256 };

/** A key on the wire: a plain string, or a safe integer, which becomes its decimal string. */
const wireKey = storable(z.union([z.string().min(1).max(maxLength.key), z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)]));

const shortText = (max: number) => storable(z.string().min(1).max(max));

/**
 * The wire form of the envelope (JSON), field by field. `parseChangeEvent` is the one way untrusted
 * JSON becomes a ChangeEvent: it adds the rule that joins two fields (an upsert carries data) and the
 * conversions (key, version, createdAt) outside the schema, where they cost nothing per field (the
 * consumer runs this for every message).
 */
export const changeEventSchema = z
  .object({
    id: shortText(maxLength.id),
    source: shortText(maxLength.source),
    type: shortText(maxLength.type),
    collection: z.string().regex(collectionNamePattern, 'collection must be letters, digits and _ (at most 64), starting with a letter'),
    key: wireKey,
    version: wireVersion,
    op: z.enum(['upsert', 'delete']),
    data: jsonObjectSchema.nullable().optional(),
    createdAt: z.union([z.iso.datetime({ offset: true }), z.date()]),
    correlationId: shortText(maxLength.correlationId).optional(),
  })
  .strict();

/** The envelope as the schema reads it, with createdAt in canonical form. */
type WireEnvelope = Omit<z.infer<typeof changeEventSchema>, 'createdAt'> & { readonly createdAt: string };

const envelopeFields = new Set(Object.keys(changeEventSchema.shape));

function isStorableText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max && textProblem(value) === undefined;
}

/** The number the ASCII digits of `text` from `from` to `to` write. */
function digitsAt(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i += 1) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/** A canonical instant (it matched `canonicalInstant`) that names a real time: month, day of that month, hour, minute and second in range. */
function isRealInstant(text: string): boolean {
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return month >= 1 && month <= 12 && day >= 1 && day <= days && digitsAt(text, 11, 13) <= 23 && digitsAt(text, 14, 16) <= 59 && digitsAt(text, 17, 19) <= 59;
}

/**
 * `changeEventSchema` for the envelope every publisher writes (JSON, createdAt already canonical),
 * checked without zod; `undefined` for anything else, valid or not, which the schema then judges and
 * explains. The consumer parses every message, and zod 4 allocates about 3 KB for each (a result
 * object per field and per check): a third of what the consumer allocates an event. It accepts
 * nothing the schema refuses, and gives what the schema would (envelope.unit.test.ts checks both on
 * generated envelopes, valid and not).
 */
export function plainEnvelope(value: unknown): WireEnvelope | undefined {
  if (!isJsonObject(value)) return undefined;
  for (const field in value) if (!envelopeFields.has(field)) return undefined;
  const { id, source, type, collection, key, version, op, data, createdAt, correlationId } = value;
  if (!isStorableText(id, maxLength.id) || !isStorableText(source, maxLength.source) || !isStorableText(type, maxLength.type)) return undefined;
  if (typeof collection !== 'string' || !collectionNamePattern.test(collection)) return undefined;
  if (!isStorableText(key, maxLength.key) && !(typeof key === 'number' && Number.isSafeInteger(key))) return undefined;
  if (typeof version === 'string') {
    if (!wireVersionDigits.test(version)) return undefined;
  } else if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return undefined;
  if (op !== 'upsert' && op !== 'delete') return undefined;
  if (data !== undefined && data !== null && !isJsonObject(data)) return undefined;
  if (typeof createdAt !== 'string' || !canonicalInstant.test(createdAt) || !isRealInstant(createdAt)) return undefined;
  if (correlationId !== undefined && !isStorableText(correlationId, maxLength.correlationId)) return undefined;
  return { id, source, type, collection, key, version, op, data, createdAt, correlationId };
}

/**
 * A `Date` as the canonical instant the schema would make of it, so `parseChangeEvent` takes its
 * plain path: an adapter that reads `created_at` as a `Date` (pg does) would otherwise send every
 * row through zod (about 3 KB a row). A date whose ISO form is not canonical (a year past 9999)
 * stays a `Date`, and a string stays as it is, for the schema to judge.
 */
export function wireInstant(value: Date | string): Date | string {
  if (typeof value === 'string' || Number.isNaN(value.getTime())) return value;
  const iso = value.toISOString();
  return canonicalInstant.test(iso) ? iso : value;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * Describes zod issues as one line: `path: message; path: message`. Zod quotes what it found (an
 * unrecognized key, say), so a lone surrogate becomes U+FFFD: a reason is text every store and
 * transport keeps as it is.
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
    .toWellFormed();
}

/** Validates an untrusted value as a ChangeEvent, including the document's key rules and limits. */
export function parseChangeEvent(value: unknown, limits: DocumentLimits = defaultDocumentLimits): ParseResult<ChangeEvent> {
  let e = plainEnvelope(value);
  if (e === undefined) {
    const parsed = changeEventSchema.safeParse(value);
    if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
    const { createdAt } = parsed.data;
    e = { ...parsed.data, createdAt: typeof createdAt === 'string' && canonicalInstant.test(createdAt) ? createdAt : new Date(createdAt).toISOString() };
  }
  const version = versionFromWire(e.version);
  if (version === undefined) return { ok: false, reason: 'version: version must fit in a signed 64-bit integer' };
  const data = e.op === 'delete' ? null : (e.data ?? null);
  if (e.op === 'upsert' && data === null) return { ok: false, reason: 'data: an upsert carries the full row image in data' };
  if (data !== null) {
    const problem = documentProblem(data, limits);
    if (problem !== undefined) return { ok: false, reason: problem };
  }
  const event: ChangeEvent = {
    id: e.id,
    source: e.source,
    type: e.type,
    collection: e.collection,
    key: typeof e.key === 'string' ? e.key : String(e.key),
    version,
    op: e.op,
    data,
    createdAt: e.createdAt,
    ...(e.correlationId === undefined ? {} : { correlationId: e.correlationId }),
  };
  return { ok: true, value: event };
}

/** The envelope as plain JSON (version as number or string). Inverse of `parseChangeEvent`. */
export function changeEventToJson(event: ChangeEvent): JsonObject {
  return {
    id: event.id,
    source: event.source,
    type: event.type,
    collection: event.collection,
    key: event.key,
    version: versionToJson(event.version),
    op: event.op,
    data: event.data,
    createdAt: event.createdAt,
    ...(event.correlationId === undefined ? {} : { correlationId: event.correlationId }),
  };
}

/** The type a change gets when nobody names one: `orders.upserted`, `orders.deleted`. */
export function defaultEventType(collection: string, op: ChangeOp): string {
  return `${collection}.${op === 'delete' ? 'deleted' : 'upserted'}`;
}
