import { join } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { createLogger } from '../common/logger.js';
import { loadConfigOrReport, stopOnSignals } from '../common/process.js';
import { loadConfig } from './config.js';
import { certFileName, startXEmulator } from './server.js';

/** Composition root: x-emulator as a process of its own. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfigOrReport(() => loadConfig(), 'x-emulator');
  if (config === undefined) return;
  const logger = createLogger({ level: config.logLevel, name: 'x-emulator' });
  const emulator = await startXEmulator({
    port: config.port,
    host: config.host,
    logger,
    certDir: config.certDir,
    certHosts: config.certHosts,
    credentials: config.credentials,
  });
  logger.info(
    { url: emulator.url, page: `${emulator.url}/`, certPath: join(config.certDir, certFileName), user: emulator.credentials.username },
    'x-emulator ready: trust the certificate at certPath (e.g. NODE_EXTRA_CA_CERTS) and open the page to hand-post',
  );

  stopOnSignals({ logger, close: () => emulator.close(), message: 'shutting down' });
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad configuration), so write the reason plainly and fail.
  process.stderr.write(`x-emulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
