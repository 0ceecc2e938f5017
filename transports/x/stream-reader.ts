import * as http from 'node:http';
import * as https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import type { XEndpoint } from './x-client.js';
import { isDisconnectError, postFields, streamMessageSchema, type StreamMessage } from './payloads.js';

/**
 * Why the filtered stream is read here and not with twitter-api-v2's `TweetStream`: its parser decodes
 * every network chunk on its own, so a multi-byte character split across two chunks arrives as U+FFFD,
 * and it only splits on `\r\n`. Posting, rules and search still go through the library.
 */

/**
 * Splits a byte stream into lines. Bytes are decoded with one `StringDecoder` for the whole
 * connection, so a character split across chunks stays whole. A line ends at `\n`; a trailing `\r`
 * is dropped; an empty line is a keep-alive.
 */
export interface LineReader {
  push(chunk: Buffer | string): void;
  /** Flushes what is left; a last line without `\n` is delivered. */
  end(): void;
}

export function createLineReader(
  onLine: (line: string) => void,
  onKeepAlive: () => void = () => undefined,
  maxLineLength = 1024 * 1024,
): LineReader {
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  const emit = (raw: string): void => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') onKeepAlive();
    else onLine(line);
  };
  return {
    push(chunk) {
      buffer += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        emit(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
      if (buffer.length > maxLineLength) throw new Error(`stream line longer than ${maxLineLength} characters`);
    },
    end() {
      buffer += decoder.end();
      if (buffer.length > 0) emit(buffer);
      buffer = '';
    },
  };
}

/** The stream answered with an HTTP error instead of opening. */
export class StreamHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(status: number, body: unknown, headers: Record<string, string | string[] | undefined>) {
    super(`filtered stream answered ${status}`);
    this.name = 'StreamHttpError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** Why an open stream ended. `closed` covers a clean end and a dropped socket alike. */
export type StreamEnd =
  | { readonly reason: 'closed' }
  | { readonly reason: 'stalled' }
  | { readonly reason: 'disconnect'; readonly detail: string }
  | { readonly reason: 'error'; readonly error: Error }
  | { readonly reason: 'aborted' };

export interface StreamConnection {
  /** Resolves (never rejects) when the connection is over. */
  readonly ended: Promise<StreamEnd>;
  /** Ends the connection; `ended` resolves with `aborted`. Harmless after the end. */
  close(): void;
}

export interface StreamOpenOptions {
  readonly endpoint: XEndpoint;
  readonly bearerToken: string;
  /** No byte (keep-alives included) for this long means the connection is dead. X sends one every 20 s. */
  readonly heartbeatTimeoutMs: number;
  readonly onMessage: (message: StreamMessage & { data: NonNullable<StreamMessage['data']> }) => void;
  /** A line that is not a post: unparsable, or an in-stream error that does not end the stream. */
  readonly onProblem: (problem: { reason: string; line: string }) => void;
  readonly onKeepAlive?: () => void;
}

export function streamUrl(base: URL): URL {
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${prefix}/2/tweets/search/stream`);
  url.searchParams.set('tweet.fields', postFields.join(','));
  url.searchParams.set('expansions', 'author_id');
  url.searchParams.set('user.fields', 'username');
  return url;
}

const maxErrorBody = 64 * 1024;

/**
 * Opens the filtered stream. Resolves once X answered 200 (the stream is open), rejects with
 * `StreamHttpError` for any other status, or with the network error.
 */
export function openFilteredStream(options: StreamOpenOptions): Promise<StreamConnection> {
  const url = streamUrl(options.endpoint.base);
  const request = url.protocol === 'http:' ? http.request : https.request;
  return new Promise<StreamConnection>((resolve, reject) => {
    let settled = false;
    let finish: (end: StreamEnd) => void = () => undefined;
    const ended = new Promise<StreamEnd>((r) => {
      finish = (end) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        r(end);
      };
    });
    let timer: NodeJS.Timeout | undefined;
    const req = request(url, {
      method: 'GET',
      agent: options.endpoint.agent,
      headers: { authorization: `Bearer ${options.bearerToken}`, 'user-agent': 'tweetbus', accept: 'application/json' },
    });
    const armHeartbeat = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish({ reason: 'stalled' });
        req.destroy();
      }, options.heartbeatTimeoutMs);
    };
    armHeartbeat();
    req.on('error', (error) => {
      clearTimeout(timer);
      if (settled) return;
      if (!responded) {
        settled = true;
        reject(error);
      } else {
        finish({ reason: 'error', error });
      }
    });
    let responded = false;
    req.on('response', (res) => {
      responded = true;
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= maxErrorBody) chunks.push(chunk);
        });
        res.on('end', () => {
          settled = true;
          reject(new StreamHttpError(status, parseJson(Buffer.concat(chunks).toString('utf8')), res.headers));
        });
        res.on('error', (error) => {
          settled = true;
          reject(error);
        });
        return;
      }
      const reader = createLineReader(
        (line) => {
          const message = handleLine(line, options);
          if (message !== undefined) {
            finish(message);
            req.destroy();
          }
        },
        () => {
          options.onKeepAlive?.();
        },
      );
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        armHeartbeat();
        try {
          reader.push(chunk);
        } catch (error) {
          finish({ reason: 'error', error: error instanceof Error ? error : new Error(String(error)) });
          req.destroy();
        }
      });
      res.on('end', () => {
        if (!settled) {
          reader.end();
        }
        finish({ reason: 'closed' });
      });
      res.on('close', () => {
        finish({ reason: 'closed' });
      });
      res.on('error', (error) => {
        finish({ reason: 'error', error });
      });
      resolve({
        ended,
        close() {
          finish({ reason: 'aborted' });
          req.destroy();
        },
      });
    });
    req.end();
  });
}

/** Hands a post on; returns how the stream ends when the line is a disconnect. */
function handleLine(line: string, options: StreamOpenOptions): StreamEnd | undefined {
  const parsed = streamMessageSchema.safeParse(parseJson(line));
  if (!parsed.success) {
    options.onProblem({ reason: `not a stream message: ${z.prettifyError(parsed.error)}`, line });
    return undefined;
  }
  const message = parsed.data;
  if (message.data !== undefined) {
    options.onMessage({ ...message, data: message.data });
    return undefined;
  }
  const errors = message.errors ?? [];
  const disconnect = errors.find(isDisconnectError);
  if (disconnect !== undefined) {
    return { reason: 'disconnect', detail: disconnect.detail ?? disconnect.title ?? 'operational disconnect' };
  }
  options.onProblem({ reason: 'stream message without a post', line });
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
