import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppClient, createUserClient, createXEndpoint, rebaseUrl } from './x-client.js';

// No nock here: nock's interception rejects an http: URL given to https.request, which the real
// Node accepts when the agent is an http.Agent (the path twitter-api-v2 takes).
describe('X client base URL', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function serve(): Promise<{ url: string; requests: { method: string; url: string; authorization: string }[] }> {
    const requests: { method: string; url: string; authorization: string }[] = [];
    const server = http.createServer((req, res) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization ?? '' });
      req.resume();
      req.on('end', () => {
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
        res.end(req.method === 'POST' ? '{"data":{"id":"7","text":"hi"}}' : '{"data":[],"meta":{"result_count":0}}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, requests };
  }

  it('rebasing keeps the path and query and puts the base in front', () => {
    const base = new URL('https://emulator.test:3443/prefix/');
    expect(rebaseUrl('https://api.x.com/2/tweets/search/recent?query=%23orders', base)).toBe(
      'https://emulator.test:3443/prefix/2/tweets/search/recent?query=%23orders',
    );
  });

  it('a user client posts to a plain http: base URL with an OAuth 1.0a header', async () => {
    const server = await serve();
    const endpoint = createXEndpoint({ apiUrl: server.url });
    closers.push(() => {
      endpoint.close();
    });
    const client = createUserClient({ appKey: 'k', appSecret: 's', accessToken: 't', accessSecret: 'x' }, endpoint);
    const response = await client.v2.tweet('hello');
    expect(response.data.id).toBe('7');
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/2/tweets' });
    expect(server.requests[0]?.authorization).toMatch(/^OAuth /);
  });

  it('an app client sends the bearer token to the base URL and its path prefix', async () => {
    const server = await serve();
    const endpoint = createXEndpoint({ apiUrl: `${server.url}/x-api` });
    closers.push(() => {
      endpoint.close();
    });
    const client = createAppClient('bearer-123', endpoint);
    await client.v2.search('#orders');
    expect(server.requests[0]?.url).toMatch(/^\/x-api\/2\/tweets\/search\/recent\?query=%23orders/);
    expect(server.requests[0]?.authorization).toBe('Bearer bearer-123');
  });
});
