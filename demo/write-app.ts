import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { SqlDatabase } from '../common/sql.js';
import { sendProblem } from '../common/http/problem.js';
import type { Logger } from '../common/logger.js';
import type { SqlQueryable } from '../common/sql.js';
import { defaultDocumentLimits, describeIssues, type ChangeEvent } from '../events/envelope.js';
import { lastCapturedRowSql, rowToEvent } from '../publisher/capture/postgres/postgres-outbox.js';

/**
 * The write side of the demo: a tiny order service that writes SQL and nothing else. It never talks to a
 * transport. The capture trigger on `dvx_orders` turns each committed write into an outbox row, which is
 * the whole point: the write side stays unaware of the read side.
 */

const text = (max: number) => z.string().trim().min(1).max(max);

const orderFieldsSchema = z
  .object({
    status: text(100),
    customer_id: text(200).optional(),
    customer_name: text(200).optional(),
    shipping_destination: text(200).optional(),
  })
  .strict();

const newOrderSchema = orderFieldsSchema.extend({ id: text(200).regex(/^[\w-]+$/, 'id may hold letters, digits, _ and -').optional() });

const orderRowSchema = z.object({
  id: z.string(),
  status: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  shipping_destination: z.string().nullable(),
  last_updated_timestamp: z.union([z.date(), z.string()]).transform((d) => new Date(d).toISOString()),
});

export type OrderRow = z.infer<typeof orderRowSchema>;

const columns = 'id, status, customer_id, customer_name, shipping_destination, last_updated_timestamp';

export interface WriteAppOptions {
  readonly db: SqlDatabase;
  readonly logger: Logger;
  readonly newId: () => string;
  /**
   * Why the change a write captures could never travel (over X: a post holds 280 weighted
   * characters), or undefined. Such a write is rolled back and refused with a 400, instead of being
   * committed and then dead-lettered in the outbox, out of the writer's sight.
   */
  readonly checkEvent?: ((event: ChangeEvent) => string | undefined) | undefined;
}

/** A write whose captured change could never be published: rolled back, and answered with a 400. */
class UntravellableChange extends Error {}

export async function listOrders(db: SqlDatabase, limit = 100): Promise<OrderRow[]> {
  const { rows } = await db.query(`SELECT ${columns} FROM dvx_orders ORDER BY last_updated_timestamp DESC, id LIMIT $1`, [limit]);
  return rows.map((row) => orderRowSchema.parse(row));
}

export function createWriteApp(options: WriteAppOptions): express.Express {
  const { db, logger } = options;
  const log = logger.child({ component: 'writeApp' });

  /** Runs one write; when it changed a row, checks the change it captured, rolling the write back if it can never travel. */
  async function write(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    const check = options.checkEvent;
    if (check === undefined) return (await db.query(sql, params)).rows;
    return db.transaction(async (tx: SqlQueryable) => {
      const { rows } = await tx.query(sql, params);
      if (rows.length === 0) return rows;
      const captured = (await tx.query(lastCapturedRowSql())).rows[0];
      if (captured === undefined) return rows;
      const event = rowToEvent(captured, defaultDocumentLimits);
      const problem = event.ok ? check(event.value) : event.reason;
      if (problem !== undefined) throw new UntravellableChange(problem);
      return rows;
    });
  }

  /** Sends the 400 for a write that was rolled back because its change could never travel; true when it was one. */
  function refusedAsUntravellable(err: unknown, res: Response): boolean {
    if (!(err instanceof UntravellableChange)) return false;
    sendProblem(res, { status: 400, title: 'Order cannot be published', detail: `nothing was written: ${err.message}` });
    return true;
  }
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  app.get('/orders', async (_req, res) => {
    res.json({ items: await listOrders(db) });
  });

  app.get('/orders/:id', async (req, res) => {
    const { rows } = await db.query(`SELECT ${columns} FROM dvx_orders WHERE id = $1`, [req.params.id]);
    const row = rows[0];
    if (row === undefined) {
      sendProblem(res, { status: 404, title: 'Not Found', detail: `order ${req.params.id} does not exist` });
      return;
    }
    res.json(orderRowSchema.parse(row));
  });

  app.post('/orders', async (req, res) => {
    const parsed = newOrderSchema.safeParse(req.body);
    if (!parsed.success) {
      sendProblem(res, { status: 400, title: 'Invalid order', detail: describeIssues(parsed.error) });
      return;
    }
    const order = parsed.data;
    const id = order.id ?? options.newId();
    let rows: Record<string, unknown>[];
    try {
      rows = await write(
        `INSERT INTO dvx_orders (id, status, customer_id, customer_name, shipping_destination, last_updated_timestamp)
         VALUES ($1, $2, $3, $4, $5, date_trunc('second', now()))
         ON CONFLICT (id) DO NOTHING
         RETURNING ${columns}`,
        [id, order.status, order.customer_id ?? null, order.customer_name ?? null, order.shipping_destination ?? null],
      );
    } catch (err) {
      if (refusedAsUntravellable(err, res)) return;
      throw err;
    }
    const row = rows[0];
    if (row === undefined) {
      sendProblem(res, { status: 409, title: 'Conflict', detail: `order ${id} already exists; use PUT /orders/${id} to change it` });
      return;
    }
    log.info({ orderId: id }, 'order created');
    res.status(201).location(`/orders/${encodeURIComponent(id)}`).json(orderRowSchema.parse(row));
  });

  app.put('/orders/:id', async (req, res) => {
    const parsed = orderFieldsSchema.safeParse(req.body);
    if (!parsed.success) {
      sendProblem(res, { status: 400, title: 'Invalid order', detail: describeIssues(parsed.error) });
      return;
    }
    const order = parsed.data;
    let rows: Record<string, unknown>[];
    try {
      rows = await write(
        `UPDATE dvx_orders SET status = $2, customer_id = $3, customer_name = $4, shipping_destination = $5,
                last_updated_timestamp = date_trunc('second', now())
         WHERE id = $1 RETURNING ${columns}`,
        [req.params.id, order.status, order.customer_id ?? null, order.customer_name ?? null, order.shipping_destination ?? null],
      );
    } catch (err) {
      if (refusedAsUntravellable(err, res)) return;
      throw err;
    }
    const row = rows[0];
    if (row === undefined) {
      sendProblem(res, { status: 404, title: 'Not Found', detail: `order ${req.params.id} does not exist` });
      return;
    }
    log.info({ orderId: req.params.id }, 'order updated');
    res.json(orderRowSchema.parse(row));
  });

  // The capture trigger writes the delete into the outbox; the consumer turns it into a tombstone.
  app.delete('/orders/:id', async (req, res) => {
    const { rows } = await db.query('DELETE FROM dvx_orders WHERE id = $1 RETURNING id', [req.params.id]);
    if (rows.length === 0) {
      sendProblem(res, { status: 404, title: 'Not Found', detail: `order ${req.params.id} does not exist` });
      return;
    }
    log.info({ orderId: req.params.id }, 'order deleted');
    res.status(204).end();
  });

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof SyntaxError || (typeof err === 'object' && err !== null && 'type' in err && err.type === 'entity.parse.failed')) {
      sendProblem(res, { status: 400, title: 'Invalid JSON', detail: 'the request body is not valid JSON' });
      return;
    }
    log.error({ err }, 'write failed');
    sendProblem(res, { status: 503, title: 'Write database unavailable', detail: 'the order was not written; try again' });
  });

  return app;
}
