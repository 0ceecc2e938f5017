import { config as loadDotenv } from 'dotenv';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { runService } from '../common/process.js';
import { loadDemoConfig, type DemoConfig } from './config.js';
import { startDemo, type Demo } from './demo.js';

/**
 * `npm start`: the whole loop, offline, in one process. Prints where everything is and a short tour;
 * the log lines below the banner are the services' own (JSON, one per line).
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  let config: DemoConfig;
  try {
    config = loadDemoConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ level: config.logLevel, name: 'demo' });
  // startDemo closes what it started when it fails, so there is nothing to close until it returns.
  let demo: Demo | undefined;
  await runService({
    logger,
    close: () => demo?.close() ?? Promise.resolve(),
    failedMessage: 'the demo failed to start',
    message: 'stopping the demo',
    start: async () => {
      const started = Date.now();
      const ready = await startDemo(config, logger);
      demo = ready;
      process.stdout.write(banner(ready, config, Date.now() - started));
    },
  });
}

function banner(demo: Demo, config: DemoConfig, ms: number): string {
  const { urls } = demo;
  const tag = `#${demo.hashtag}`;
  return `
tweetbus demo ready in ${(ms / 1000).toFixed(1)} s — everything local, no network needed (data in ${config.dataDir})

  live page        ${urls.writeApp}/          watch a row travel: write DB -> X post -> read model
  write side       ${urls.writeApp}/orders    POST / PUT orders (SQL + capture trigger)
  publisher        ${urls.publisher}/about     also the legacy GET /order?orderId=… callback and POST /events
  query API        ${urls.consumer}/api/orders
  X emulator       ${urls.xEmulator}/        hand-post page (self-signed certificate)

Try it:
  curl -s -XPOST ${urls.writeApp}/orders -H 'content-type: application/json' -d '{"id":"8172","status":"NEW","customer_name":"Smith & Sons"}'
  curl -s ${urls.consumer}/api/orders/8172
  curl -s -XPUT ${urls.writeApp}/orders/8172 -H 'content-type: application/json' -d '{"status":"SHIPPED","customer_name":"Smith & Sons"}'
  curl -s '${urls.publisher}/order?orderId=9001&status=NEW&customerName=Ada&customerId=c1&shippingDestination=Oslo'
  curl -s -XPOST ${urls.writeApp}/demo/hand-post -H 'content-type: application/json' -d '{"username":"speaker","text":"${tag} {\\"id\\":\\"h1\\",\\"status\\":\\"OPEN\\"}"}'

TRUST=open: any account posting ${tag} can change this read model. That is the demo's fun, and only for demos.
Ctrl-C stops everything cleanly; \`npm start -- --fresh\` starts from empty databases.

`;
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
