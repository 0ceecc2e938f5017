import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import { StoreUnavailableError } from '../../common/errors.js';
import { notFound, sendProblem } from '../../common/http/problem.js';
import { readinessHandler, type ReadinessCheck } from '../../common/http/readiness.js';
import type { Logger } from '../../common/logger.js';
import { collectionNamePattern, unsafeKeyReason } from '../../events/envelope.js';
import type { JsonPrimitive } from '../../events/json.js';
import type { Retrying } from '../../common/stall-watch.js';
import type { ConsumerStats } from '../stats.js';
import type { DeadLetter, DeadLetterStore, FieldFilter, ReadModelReader, StoredDocument } from '../stores/read-model-store.js';


export interface QueryAppOptions {
  readonly store: ReadModelReader & Pick<DeadLetterStore, 'listDeadLetters'>;
  /** The configured collections; any other is 404. */
  readonly collections: readonly string[];
  readonly readiness: readonly ReadinessCheck[];
  readonly stats: ConsumerStats;
  /** The batch the pipeline is retrying, if any, for `/api/_stats`. */
  readonly retrying?: () => Retrying | undefined;
  readonly logger: Logger;
  /** How long `/readyz` waits for each check. Default 2 s. */
  readonly readinessTimeoutMs?: number;
}

export const defaultFindLimit = 50;
export const maxFindLimit = 500;
const maxFilterFields = 16;
const maxKeyLength = 256;

/**
 * The consumer's query API over the read model.
 *
 * - `GET /api/:collection/:id`: one document, or 404 when missing or deleted.
 * - `GET /api/:collection?field=value&limit=`: documents whose top-level `data.field` equals the
 *   value, ordered by key. A query string is text, but people type `total=12` and `paid=true`, so a
 *   value that reads as a decimal number also matches that number, and `true`/`false` also match
 *   the booleans; the text itself always matches too. Repeating a field (`status=OPEN&status=PAID`)
 *   matches any of the values. `limit` is reserved (default 50, at most 500).
 * - `GET /api/_deadletters?limit=`, `GET /api/_stats`, `GET /healthz`, `GET /readyz`.
 *
 * Errors are `application/problem+json`; a bad parameter is a 400 that names it.
 */
export function createQueryApp(options: QueryAppOptions): Express {
  const { store, stats, readiness } = options;
  const logger = options.logger.child({ component: 'queryApi' });
  const collections = new Set(options.collections);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('json replacer', (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', readinessHandler(readiness, logger, options.readinessTimeoutMs));

  app.get('/api/_stats', (_req, res) => {
    res.json({ ...stats.snapshot(), retrying: options.retrying?.() ?? null, collections: [...collections] });
  });

  app.get('/api/_deadletters', async (req, res) => {
    const limit = parseLimit(req.query['limit']);
    if (typeof limit === 'string') {
      sendProblem(res, { status: 400, title: 'Invalid parameter', detail: limit, parameter: 'limit' });
      return;
    }
    const letters = await store.listDeadLetters({ limit });
    res.json({ count: letters.length, items: letters.map(deadLetterJson) });
  });

  app.get('/api/:collection/:id', async (req, res) => {
    const collection = req.params.collection;
    if (!checkCollection(res, collection)) return;
    const id = req.params.id;
    const doc = id.length > maxKeyLength || id.includes('\u0000') ? undefined : await store.get(collection, id);
    if (doc === undefined) {
      sendProblem(res, { status: 404, title: 'Not found', detail: `${collection} has no document with this id` });
      return;
    }
    res.json(documentJson(doc));
  });

  app.get('/api/:collection', async (req, res) => {
    const collection = req.params.collection;
    if (!checkCollection(res, collection)) return;
    const limit = parseLimit(req.query['limit']);
    if (typeof limit === 'string') {
      sendProblem(res, { status: 400, title: 'Invalid parameter', detail: limit, parameter: 'limit' });
      return;
    }
    const filter = parseFilter(req.query);
    if (!filter.ok) {
      sendProblem(res, { status: 400, title: 'Invalid parameter', detail: filter.detail, ...(filter.parameter === undefined ? {} : { parameter: filter.parameter }) });
      return;
    }
    const docs = await store.find(collection, filter.filter, { limit });
    res.json({ collection, count: docs.length, limit, items: docs.map(documentJson) });
  });

  app.use(notFound());

  // Express recognises an error handler by its four parameters, so `next` stays although unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const status = httpStatusOf(err);
    if (status !== undefined && status < 500) {
      sendProblem(res, { status, title: 'Bad request', detail: 'the request could not be understood (is the path correctly percent-encoded?)' });
      return;
    }
    if (err instanceof StoreUnavailableError) {
      logger.warn({ err, path: req.path }, 'read model unavailable');
      sendProblem(res, { status: 503, title: 'Read model unavailable', detail: 'the read model cannot be reached; try again shortly' });
      return;
    }
    logger.error({ err, path: req.path }, 'query failed');
    sendProblem(res, { status: 500, title: 'Internal error', detail: 'the query failed; the consumer log has the details' });
  };
  app.use(onError);

  function checkCollection(res: Response, collection: string): boolean {
    if (!collectionNamePattern.test(collection)) {
      sendProblem(res, { status: 400, title: 'Invalid parameter', detail: 'collection must be letters, digits and _ (at most 64), starting with a letter',
        parameter: 'collection',
      });
      return false;
    }
    if (!collections.has(collection)) {
      sendProblem(res, { status: 404, title: 'Unknown collection', detail: `${collection} is not a configured collection` });
      return false;
    }
    return true;
  }

  return app;
}

/** The wire form of a document: the version as a decimal string, because it may exceed 2^53. */
export function documentJson(doc: StoredDocument): Record<string, unknown> {
  return {
    id: doc.key,
    version: doc.version.toString(),
    data: doc.data,
    eventId: doc.eventId,
    source: doc.source,
    appliedAt: doc.appliedAt,
  };
}

function deadLetterJson(letter: DeadLetter): Record<string, unknown> {
  return { ...letter };
}

type QueryValue = Request['query'][string];

function parseLimit(value: QueryValue): number | string {
  const problem = `limit must be a whole number from 1 to ${maxFindLimit}`;
  if (value === undefined) return defaultFindLimit;
  if (typeof value !== 'string' || !/^\d{1,4}$/.test(value)) return problem;
  const limit = Number(value);
  return limit >= 1 && limit <= maxFindLimit ? limit : problem;
}

type FilterResult = { ok: true; filter: FieldFilter } | { ok: false; parameter?: string; detail: string };

function parseFilter(query: Request['query']): FilterResult {
  const fields = Object.entries(query).filter(([name]) => name !== 'limit');
  if (fields.length > maxFilterFields) return { ok: false, detail: `at most ${maxFilterFields} filter fields are accepted` };
  const filter: Record<string, readonly JsonPrimitive[]> = {};
  for (const [field, value] of fields) {
    const reason = unsafeKeyReason(field);
    if (reason !== undefined) return { ok: false, parameter: field, detail: `query parameter is not a usable field name: ${reason}` };
    const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
    if (texts.length === 0 || (Array.isArray(value) && texts.length !== value.length)) {
      return { ok: false, parameter: field, detail: `query parameter "${field}" must be plain text` };
    }
    filter[field] = texts.flatMap(valueAlternatives);
  }
  return { ok: true, filter };
}

/** `"12"` also matches the number 12, `"true"` the boolean; the text always matches itself. */
function valueAlternatives(text: string): JsonPrimitive[] {
  const alternatives: JsonPrimitive[] = [text];
  if (/^-?\d{1,15}(\.\d{1,15})?$/.test(text)) alternatives.push(Number(text));
  if (text === 'true') alternatives.push(true);
  if (text === 'false') alternatives.push(false);
  return alternatives;
}

function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = 'status' in err ? err.status : 'statusCode' in err ? err.statusCode : undefined;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}
