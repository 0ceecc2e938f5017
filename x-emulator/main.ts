import { join } from 'node:path';
import { runMain } from '../common/process.js';
import { loadConfig } from './config.js';
import { certFileName, startXEmulator } from './server.js';

/** Composition root: x-emulator as a process of its own, run the way every service runs. */
runMain({
  name: 'x-emulator',
  loadConfig: () => loadConfig(),
  shutdownMessage: 'shutting down',
  start: async (config, logger, scope) => {
    const emulator = await startXEmulator({
      port: config.port,
      host: config.host,
      logger,
      certDir: config.certDir,
      certHosts: config.certHosts,
      credentials: config.credentials,
    });
    scope.defer(() => emulator.close());
    logger.info(
      { url: emulator.url, page: `${emulator.url}/`, certPath: join(config.certDir, certFileName), user: emulator.credentials.username },
      'x-emulator ready: trust the certificate at certPath (e.g. NODE_EXTRA_CA_CERTS) and open the page to hand-post',
    );
  },
});
