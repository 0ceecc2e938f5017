import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';

/** How long `closeServer` lets requests in flight run before it cuts their connections. */
export const defaultCloseGraceMs = 1000;

/**
 * Starts `server` listening and resolves the port it is bound to (the real one when `port` is 0).
 * Rejects with the server's error when it cannot listen (for example EADDRINUSE); the error listener
 * is removed once it listens, so later errors are the caller's to handle.
 */
export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('the server is not bound to a TCP port'));
      else resolve(address.port);
    });
  });
}

/**
 * Stops accepting connections and resolves once the server has closed. Idle keep-alive connections
 * are closed at once, so a client holding one open cannot delay shutdown; connections with a request
 * still running get `graceMs` (default 1000) to finish, then are cut. The timer does not keep the
 * process alive. Never rejects; resolves at once when the server is not listening.
 */
export function closeServer(server: HttpServer | HttpsServer, options: { graceMs?: number } = {}): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const cut = setTimeout(() => {
      server.closeAllConnections();
    }, options.graceMs ?? defaultCloseGraceMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** `host` as it goes in a URL: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
