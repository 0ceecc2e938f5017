import type { TestProject } from 'vitest/node';
import { loadTestConfig } from './config.js';
import { kcatAvailable, startKafkaMock } from '../bench/kafka-mock.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Where the Kafka suites run: KAFKA_BROKERS (a real cluster), or a mock cluster started here
     * when `kcat` is installed; otherwise why they are skipped.
     */
    kafka: { readonly brokers: string; readonly mock: boolean } | { readonly skipped: string };
  }
}

/**
 * Vitest's global setup: gives the Kafka suites a cluster. KAFKA_BROKERS wins; without it, `kcat`'s
 * mock cluster is started for the run and stopped after it; without `kcat`, the suites say they are
 * skipped and why.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const { kafkaBrokers } = loadTestConfig();
  if (kafkaBrokers !== undefined) {
    project.provide('kafka', { brokers: kafkaBrokers, mock: false });
    return undefined;
  }
  if (!kcatAvailable()) {
    const skipped = 'KAFKA_BROKERS is not set and kcat is not installed (apt-get install -y kcat starts a mock cluster)';
    process.stdout.write(`\nKafka suites skipped: ${skipped}\n`);
    project.provide('kafka', { skipped });
    return undefined;
  }
  const mock = await startKafkaMock();
  process.stdout.write(`\nKafka suites run against kcat's mock cluster (pid ${String(mock.pid)}) at ${mock.brokers}\n`);
  project.provide('kafka', { brokers: mock.brokers, mock: true });
  return () => mock.stop();
}
