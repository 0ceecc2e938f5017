import type { Logger } from '../common/logger.js';
import type { ServerResponse } from 'node:http';
import type { FieldSelection } from './fields.js';

export interface StreamHubOptions {
  readonly logger: Logger;
  readonly keepAliveMs: number;
  readonly newConnectionId: () => string;
}

export interface StreamHub {
  /** Takes over an HTTP response that has passed every check, and writes the first keep-alive. */
  open(res: ServerResponse, appKey: string, selection: FieldSelection): void;
  count(appKey: string): number;
  /** Writes one message to every open stream; `render` returns the JSON for a connection, or undefined to skip it. */
  publish(render: (selection: FieldSelection) => string | undefined): number;
  /** Ends the app's streams cleanly (DELETE /2/connections/all). Returns how many. */
  endAll(appKey: string): number;
  /** Destroys every stream socket abruptly. */
  dropAll(): number;
  stall(ms: number): void;
  operationalDisconnect(message: string): number;
  setSplitChunks(on: boolean): void;
  resetFaults(): void;
  close(): void;
}

interface Connection {
  readonly id: string;
  readonly appKey: string;
  readonly selection: FieldSelection;
  readonly res: ServerResponse;
  readonly keepAlive: NodeJS.Timeout;
  queue: Promise<void>;
  closed: boolean;
  readonly stalled: string[];
}

const pieceDelayMs = 2;

/**
 * Cuts a message so that chunk boundaries fall inside multi-byte UTF-8 sequences (one byte after a
 * lead byte), at least `minPiece` bytes apart, and long ASCII runs every 64 bytes.
 */
export function splitInsideCharacters(bytes: Buffer, minPiece = 8): Buffer[] {
  const cuts: number[] = [];
  let last = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i] ?? 0;
    if (byte >= 0xc0 && (cuts.length === 0 || i + 1 - last >= minPiece)) {
      cuts.push(i + 1);
      last = i + 1;
    } else if (i - last >= 64) {
      cuts.push(i);
      last = i;
    }
  }
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  if (from < bytes.length) pieces.push(bytes.subarray(from));
  return pieces;
}

/** Read through a function: the flag changes while a write sleeps, which narrowing cannot see. */
const isClosed = (conn: Connection): boolean => conn.closed;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * The open filtered-stream connections and the faults that act on them. Each connection writes
 * through its own queue so split chunks and messages never interleave.
 */
export function createStreamHub(options: StreamHubOptions): StreamHub {
  const logger = options.logger;
  const connections = new Set<Connection>();
  let splitChunks = false;
  let stalled = false;
  let stallTimer: NodeJS.Timeout | undefined;

  const writeNow = async (conn: Connection, payload: string): Promise<void> => {
    if (conn.closed) return;
    if (!splitChunks) {
      conn.res.write(payload);
      return;
    }
    for (const piece of splitInsideCharacters(Buffer.from(payload, 'utf8'))) {
      if (isClosed(conn)) return;
      conn.res.write(piece);
      await sleep(pieceDelayMs);
    }
  };

  const enqueue = (conn: Connection, payload: string): void => {
    conn.queue = conn.queue.then(() => writeNow(conn, payload)).catch((err: unknown) => {
      logger.warn({ err, connectionId: conn.id }, 'stream write failed');
    });
  };

  const endConnection = (conn: Connection, finalPayload?: string): void => {
    if (finalPayload !== undefined) enqueue(conn, finalPayload);
    conn.queue = conn.queue.then(() => {
      if (!conn.closed) conn.res.end();
    });
  };

  const endStall = (): void => {
    stalled = false;
    stallTimer = undefined;
    for (const conn of connections) {
      for (const payload of conn.stalled.splice(0)) enqueue(conn, payload);
    }
  };

  return {
    open(res, appKey, selection) {
      const id = options.newConnectionId();
      const keepAlive = setInterval(() => {
        if (!stalled) enqueue(conn, '\r\n');
      }, options.keepAliveMs);
      const conn: Connection = { id, appKey, selection, res, keepAlive, queue: Promise.resolve(), closed: false, stalled: [] };
      connections.add(conn);
      res.socket?.setNoDelay(true);
      res.on('close', () => {
        conn.closed = true;
        clearInterval(keepAlive);
        connections.delete(conn);
        logger.info({ connectionId: id, open: connections.size }, 'stream disconnected');
      });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
      // Clients (and nock) need a first chunk before they report the connection as open.
      enqueue(conn, '\r\n');
      logger.info({ connectionId: id, open: connections.size }, 'stream connected');
    },
    count(appKey) {
      let n = 0;
      for (const conn of connections) if (conn.appKey === appKey) n += 1;
      return n;
    },
    publish(render) {
      let n = 0;
      for (const conn of connections) {
        const json = render(conn.selection);
        if (json === undefined) continue;
        n += 1;
        if (stalled) conn.stalled.push(`${json}\r\n`);
        else enqueue(conn, `${json}\r\n`);
      }
      return n;
    },
    endAll(appKey) {
      let n = 0;
      for (const conn of connections) {
        if (conn.appKey !== appKey) continue;
        n += 1;
        endConnection(conn);
      }
      return n;
    },
    dropAll() {
      const n = connections.size;
      for (const conn of connections) conn.res.socket?.destroy();
      return n;
    },
    stall(ms) {
      if (stallTimer !== undefined) clearTimeout(stallTimer);
      stalled = true;
      stallTimer = setTimeout(endStall, ms);
    },
    operationalDisconnect(message) {
      const n = connections.size;
      for (const conn of connections) endConnection(conn, `${message}\r\n`);
      return n;
    },
    setSplitChunks(on) {
      splitChunks = on;
    },
    resetFaults() {
      splitChunks = false;
      if (stallTimer !== undefined) clearTimeout(stallTimer);
      endStall();
    },
    close() {
      if (stallTimer !== undefined) clearTimeout(stallTimer);
      stallTimer = undefined;
      for (const conn of connections) {
        clearInterval(conn.keepAlive);
        conn.closed = true;
        conn.res.socket?.destroy();
      }
      connections.clear();
    },
  };
}
