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
      let ready: Demo;
      try {
        ready = await startDemo(config, logger);
      } catch (err) {
        // The JSON log line follows; a person at a terminal reads this one.
        if (err instanceof ConfigError) process.stderr.write(`\n${err.issues.join('\n')}\n\n`);
        throw err;
      }
      demo = ready;
      process.stdout.write(banner(ready, config, Date.now() - started));
    },
  });
}

function banner(demo: Demo, config: DemoConfig, ms: number): string {
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
${
  overX
    ? `  curl -s -XPOST ${urls.writeApp}/demo/hand-post -H 'content-type: application/json' -d '{"username":"speaker","text":"${tag} {\\"id\\":\\"h1\\",\\"status\\":\\"OPEN\\"}"}'

TRUST=open: any account posting ${tag} can change this read model. That is the demo's fun, and only for demos.`
    : `
TRUST=open: anyone who can write to the demo's ${demo.transport === 'kafka' ? 'Kafka topic' : 'Redis stream'} can change this read model.`
}
Ctrl-C stops everything cleanly; \`npm start -- --fresh\` starts from empty databases.

`;
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
