import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites share one PostgreSQL and one Redis; files run in parallel but each uses its own schema or key prefix.
    pool: 'forks',
    // Most suites wait on sockets, databases and timers more than they compute: two forks on these
    // 2-core machines keep npm test well under five minutes (vitest's default leaves one core idle).
    maxWorkers: 2,
    reporters: ['default'],
    // Starts kcat's mock Kafka cluster for the Kafka suites when KAFKA_BROKERS is not set.
    globalSetup: ['test/kafka.global-setup.ts'],
  },
});
