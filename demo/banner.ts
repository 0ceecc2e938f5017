import type { TrustMode } from '../consumer/trust.js';
import type { DemoConfig } from './config.js';
import { trustedDemoUser, type Demo } from './demo.js';

/** What `npm start` prints once everything is up: where each part is, a short tour, and whose messages apply. */
export function banner(demo: Demo, config: DemoConfig, ms: number): string {
  const { urls } = demo;
  const tag = `#${demo.hashtag}`;
  const emulatorUrl = urls.xEmulator;
  const overX = emulatorUrl !== undefined;
  const where = overX ? 'everything local, no network needed' : `events travel over ${demo.transport}`;
  const trip = overX ? 'write DB -> X post -> read model' : `write DB -> ${demo.transport} -> read model`;
  return `
tweetbus demo ready in ${(ms / 1000).toFixed(1)} s — ${where} (data in ${config.dataDir})

  live page        ${urls.writeApp}/          watch a row travel: ${trip}
  write side       ${urls.writeApp}/orders    POST / PUT / DELETE orders (SQL + capture trigger)
  publisher        ${urls.publisher}/about     also the legacy GET /order?orderId=… callback and POST /events
  query API        ${urls.consumer}/api/orders
${emulatorUrl === undefined ? '' : `  X emulator       ${emulatorUrl}/        hand-post page (self-signed certificate)\n`}
Try it:
  curl -s -XPOST ${urls.writeApp}/orders -H 'content-type: application/json' -d '{"id":"8172","status":"NEW","customer_name":"Smith & Sons"}'
  curl -s ${urls.consumer}/api/orders/8172
  curl -s -XPUT ${urls.writeApp}/orders/8172 -H 'content-type: application/json' -d '{"status":"SHIPPED","customer_name":"Smith & Sons"}'
  curl -s '${urls.publisher}/order?orderId=9001&status=NEW&customerName=Ada&customerId=c1&shippingDestination=Oslo'
${overX ? `  curl -s -XPOST ${urls.writeApp}/demo/hand-post -H 'content-type: application/json' -d '{"username":"speaker","text":"${tag} {\\"id\\":\\"h1\\",\\"status\\":\\"OPEN\\"}"}'\n` : ''}
${trustLine(config.trust ?? 'open', overX ? `any account posting ${tag}` : `anyone who can write to the demo's ${demo.transport === 'kafka' ? 'Kafka topic' : 'Redis stream'}`)}
Ctrl-C stops everything cleanly; \`npm start -- --fresh\` starts from empty databases.

`;
}

/** The banner's line on the trust policy; `who` names the strangers (`any account posting #orders`). */
export function trustLine(trust: TrustMode, who: string): string {
  switch (trust) {
    case 'open':
      return `TRUST=open: ${who} can change this read model. That is the demo's fun, and only for demos.`;
    case 'authors':
      return `TRUST=authors: only the publisher's posts and @${trustedDemoUser}'s apply; post as anyone else to see them dead-lettered.`;
    case 'signed':
      return `TRUST=signed: only events the publisher signed apply; ${who} sees theirs dead-lettered.`;
    case 'signed,authors':
      return `TRUST=signed,authors: the publisher's signed posts apply, and hand-typed ones only from @${trustedDemoUser}.`;
  }
}
