import { Agent, createServer, request, type RequestListener, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen, urlHost } from './server.js';

const host = '127.0.0.1';
const servers: Server[] = [];
const agents: Agent[] = [];

function aServer(handler: RequestListener = (_req, res) => res.end('ok')): Server {
  const server = createServer(handler);
  // Far longer than any test: only closeServer can end an idle keep-alive connection in time.
  server.keepAliveTimeout = 120_000;
  servers.push(server);
  return server;
}

function aKeepAliveAgent(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  return agent;
}

/** GET / and resolve the status and body, or reject with the socket error. */
function get(port: number, agent: Agent): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(servers.splice(0).map((server) => closeServer(server, { graceMs: 0 })));
});

describe('listen', () => {
  it('resolves the port the system picked when asked for port 0', async () => {
    const server = aServer();
    const port = await listen(server, 0, host);
    expect(port).toBeGreaterThan(0);
    expect(await get(port, aKeepAliveAgent())).toEqual({ status: 200, body: 'ok' });
  });

  it('rejects with the server error when the port is taken', async () => {
    const port = await listen(aServer(), 0, host);
    await expect(listen(aServer(), port, host)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('closeServer', () => {
  it('resolves while a keep-alive client still holds an idle connection', async () => {
    const server = aServer();
    const port = await listen(server, 0, host);
    const agent = aKeepAliveAgent();
    await get(port, agent);
    let connections = 0;
    server.getConnections((_err, count) => (connections = count));
    await new Promise((resolve) => setImmediate(resolve));
    expect(connections).toBe(1);

    // A grace far beyond the test timeout: only closing the idle connection at once lets this resolve.
    await closeServer(server, { graceMs: 120_000 });
    expect(server.listening).toBe(false);
  });

  it('lets a request in flight finish within the grace period', async () => {
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = aServer((_req, res) => {
      release = () => res.end('late');
      arrived();
    });
    const port = await listen(server, 0, host);
    const response = get(port, aKeepAliveAgent());
    await requestArrived;

    // The connection stays open after the answer (keep-alive), so close resolves when the grace ends.
    const closed = closeServer(server, { graceMs: 1000 });
    setTimeout(release, 50);
    expect(await response).toEqual({ status: 200, body: 'late' });
    await closed;
    expect(server.listening).toBe(false);
  });

  it('cuts a request still running once the grace period is over', async () => {
    const server = aServer(() => {
      // Never answers.
    });
    const port = await listen(server, 0, host);
    const response = get(port, aKeepAliveAgent());
    await new Promise<void>((resolve) => {
      server.once('request', () => {
        resolve();
      });
    });

    await closeServer(server, { graceMs: 10 });
    await expect(response).rejects.toThrow(/socket hang up/);
  });

  it('resolves at once for a server that is not listening', async () => {
    await expect(closeServer(aServer())).resolves.toBeUndefined();
  });
});

describe('urlHost', () => {
  it('puts an IPv6 address in brackets and leaves other hosts alone', () => {
    expect(urlHost('::1')).toBe('[::1]');
    expect(urlHost('127.0.0.1')).toBe('127.0.0.1');
  });
});
