import type { Logger } from '../../common/logger.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  defaultDocumentLimits,
  describeIssues,
  parseChangeEvent,
  type ChangeEvent,
  type DocumentLimits,
} from '../../events/envelope.js';
import { notFound, sendProblem } from '../../common/http/problem.js';
import { readinessHandler, type ReadinessCheck } from '../../common/http/readiness.js';
import type { OutboxWriter } from '../capture/outbox.js';
import { defaultMaxVersionAheadMs, versionAheadProblem } from '../../events/version-clock.js';
import { createSnowflakeVersions, newEventId } from '../ids.js';
import { legacyOrderEvent, legacyOrderQuerySchema, parseLegacyTimestamp } from './legacy-order.js';


/** What `/about` says. No secrets: kinds and names only. */
export interface PublisherAbout {
  readonly name: string;
  readonly version: string;
  readonly transport: string;
  readonly outbox: string;
  /** This relay instance's name (RELAY_INSTANCE_ID), when several may run on one outbox. */
  readonly instance?: string;
}

export interface PublisherAppOptions {
  readonly writer: OutboxWriter;
  /** Collections the publisher accepts events for. */
  readonly collections: readonly string[];
  readonly logger: Logger;
  readonly about: PublisherAbout;
  readonly readiness?: readonly ReadinessCheck[];
  /** Extra, non-secret runtime state for `/about` (relay counters). */
  readonly status?: () => Record<string, unknown>;
  /** `source` of the events `GET /order` makes. Default `legacy`: short, because every character of it is in every post. */
  readonly sourceName?: string;
  /** Collection `GET /order` writes to. Default `orders`. */
  readonly orderCollection?: string;
  readonly limits?: DocumentLimits;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Most events one `POST /events` may carry. Default 500. */
  readonly maxEventsPerRequest?: number;
  /** How long a readiness check may take before it counts as failed. Default 2000 ms. */
  readonly readinessTimeoutMs?: number;
  readonly now?: () => Date;
  readonly newId?: () => string;
  /**
   * Why the transport could never carry this event (for X: longer than one post), or `undefined`.
   * Such an event is refused with a 400 instead of being accepted and dead-lettered by the relay.
   */
  readonly transportProblem?: (event: ChangeEvent) => string | undefined;
  /** Versions for `GET /order` events. Default: time-ordered snowflakes (see `createSnowflakeVersions`). */
  readonly nextVersion?: () => bigint;
  /**
   * VERSION_MAX_AHEAD_MS: a `POST /events` version standing further past this clock is refused with a
   * 400, as a consumer would dead-letter it (it would hold its key until then). Default one hour.
   */
  readonly maxVersionAheadMs?: number;
}

const envelopeFields = ['id', 'source', 'type', 'collection', 'key', 'version', 'op', 'data', 'createdAt', 'correlationId'];

/** `version: …` at index 3 becomes `/3/version: …`; a reason about the whole item becomes `/3: …`. */
function pointerDetail(index: number, reason: string): string {
  const field = /^([A-Za-z_]+)[.:[ ]/.exec(reason)?.[1];
  return field !== undefined && envelopeFields.includes(field) ? `/${index}/${reason}` : `/${index}: ${reason}`;
}

const bodyParserError = z.object({ status: z.number().int(), type: z.string() });

/**
 * The publisher's HTTP ways in. Both store events in the outbox (one transaction) before they answer
 * 202, so a crash after the answer loses nothing; the relay publishes them later.
 */
export function createPublisherApp(options: PublisherAppOptions): express.Express {
  const logger = options.logger.child({ component: 'publisherHttp' });
  const collections = new Set(options.collections);
  const limits = options.limits ?? defaultDocumentLimits;
  const now = options.now ?? (() => new Date());
  const maxAheadMs = options.maxVersionAheadMs ?? defaultMaxVersionAheadMs;
  const newId = options.newId ?? newEventId;
  const nextVersion = options.nextVersion ?? createSnowflakeVersions(now);
  const sourceName = options.sourceName ?? 'legacy';
  const orderCollection = options.orderCollection ?? 'orders';
  const maxEvents = options.maxEventsPerRequest ?? 500;

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  async function store(res: Response, events: readonly ChangeEvent[], way: string): Promise<void> {
    try {
      await options.writer.append(events);
    } catch (err) {
      logger.error({ err, way, count: events.length }, 'could not store events in the outbox');
      sendProblem(res, { status: 503, title: 'Outbox unavailable', detail: 'the events were not stored; retry later' });
      return;
    }
    const ids = events.map((e) => e.id);
    logger.info({ way, count: events.length, eventIds: ids }, 'events stored in the outbox');
    res.status(202).json({ accepted: events.length, ids });
  }

  app.get('/order', async (req, res) => {
    const parsed = legacyOrderQuerySchema.safeParse(req.query);
    if (!parsed.success) {
      sendProblem(res, { status: 400, title: 'Invalid order callback', detail: describeIssues(parsed.error) });
      return;
    }
    if (!collections.has(orderCollection)) {
      sendProblem(res, { status: 400, title: 'Unknown collection', detail: `collection "${orderCollection}" is not configured` });
      return;
    }
    const query = parsed.data;
    const at = now();
    let lastUpdated = at;
    if (query.timestamp !== undefined && query.timestamp.trim() !== '') {
      const timestamp = parseLegacyTimestamp(query.timestamp);
      if (timestamp === undefined) {
        sendProblem(res, {
          status: 400,
          title: 'Invalid order callback',
          detail: 'timestamp: expected ISO 8601, epoch milliseconds, or Oracle text like 05-DEC-18 10.33.55.123456 AM',
        });
        return;
      }
      lastUpdated = timestamp;
    }
    const event = parseChangeEvent(
      legacyOrderEvent(query, lastUpdated, { id: newId(), version: nextVersion(), source: sourceName, collection: orderCollection, now: at }),
      limits,
    );
    if (!event.ok) {
      sendProblem(res, { status: 400, title: 'Invalid order callback', detail: event.reason });
      return;
    }
    const unsendable = options.transportProblem?.(event.value);
    if (unsendable !== undefined) {
      sendProblem(res, { status: 400, title: 'Order cannot be sent', detail: `order: ${unsendable}` });
      return;
    }
    await store(res, [event.value], 'GET /order');
  });

  app.post('/events', express.json({ limit: options.maxBodyBytes ?? 1024 * 1024 }), async (req: Request, res) => {
    if (!req.is('application/json')) {
      sendProblem(res, { status: 415, title: 'Unsupported media type', detail: 'body: send a JSON array with Content-Type: application/json' });
      return;
    }
    const body: unknown = req.body;
    if (!Array.isArray(body) || body.length === 0 || body.length > maxEvents) {
      sendProblem(res, { status: 400, title: 'Invalid events', detail: `body: expected a JSON array of 1 to ${maxEvents} change events` });
      return;
    }
    const events: ChangeEvent[] = [];
    const errors: { pointer: string; detail: string }[] = [];
    for (const [index, item] of body.entries()) {
      const parsed = parseChangeEvent(item, limits);
      if (!parsed.ok) {
        errors.push({ pointer: `/${index}`, detail: pointerDetail(index, parsed.reason) });
      } else if (!collections.has(parsed.value.collection)) {
        errors.push({
          pointer: `/${index}/collection`,
          detail: `/${index}/collection: "${parsed.value.collection}" is not a configured collection (${[...collections].join(', ')})`,
        });
      } else {
        const ahead = versionAheadProblem(parsed.value.version, now(), maxAheadMs);
        const unsendable = ahead === undefined ? options.transportProblem?.(parsed.value) : undefined;
        if (ahead !== undefined) {
          errors.push({
            pointer: `/${index}/version`,
            detail: `/${index}/version: ${parsed.value.version.toString()} ${ahead} this publisher's clock (VERSION_MAX_AHEAD_MS); versions are times on X's snowflake scale, and one this far ahead would hold its key until then`,
          });
        } else if (unsendable !== undefined) {
          errors.push({ pointer: `/${index}`, detail: `/${index}: ${unsendable}` });
        } else {
          events.push(parsed.value);
        }
      }
    }
    const [first] = errors;
    if (first !== undefined) {
      logger.info({ problem: { count: errors.length, first: first.detail } }, 'rejected invalid events');
      sendProblem(res, { status: 400, title: 'Invalid events', detail: first.detail, errors: errors.slice(0, 50) });
      return;
    }
    await store(res, events, 'POST /events');
  });

  app.get('/about', (_req, res) => {
    res.json({ ...options.about, collections: [...collections], ...(options.status === undefined ? {} : { status: options.status() }) });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'alive' });
  });

  app.get('/readyz', readinessHandler(options.readiness ?? [], logger, options.readinessTimeoutMs));

  app.use(notFound());

  // Express recognises an error handler by its four parameters.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const parserError = bodyParserError.safeParse(err);
    if (parserError.success) {
      const { status, type } = parserError.data;
      if (type === 'entity.too.large') {
        sendProblem(res, { status: 413, title: 'Body too large', detail: `body: larger than ${options.maxBodyBytes ?? 1024 * 1024} bytes` });
        return;
      }
      if (type === 'entity.parse.failed') {
        sendProblem(res, { status: 400, title: 'Invalid JSON', detail: 'body: not valid JSON' });
        return;
      }
      if (status >= 400 && status < 500) {
        sendProblem(res, { status, title: 'Bad request', detail: `body: ${type}` });
        return;
      }
    }
    logger.error({ err }, 'request failed');
    sendProblem(res, { status: 500, title: 'Internal error', detail: 'the request failed; see the publisher log' });
  });

  return app;
}
