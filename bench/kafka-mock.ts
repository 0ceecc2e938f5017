import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Kafka } from 'kafkajs';
import Cluster, { type ClusterInternals } from 'kafkajs/src/cluster/index.js';

/**
 * librdkafka's mock cluster, started through Debian's `kcat`: a Kafka-protocol peer of three brokers
 * on loopback, ready in a tenth of a second, gone with the process. It is what CI runs the Kafka
 * suites against (issue 23). Its limits (librdkafka 2.0.2): it reports controller id 0, which no
 * broker has, and has no CreateTopics; it creates a topic, with 4 partitions, when a metadata request
 * that allows it names one. The functions below work around both.
 *
 * Development tooling, shared by the test suites (test/kafka.global-setup.ts) and the benchmark
 * (`npm run bench -- --transport kafka`); the services never load it.
 */
export interface KafkaMock {
  /** `bootstrap.servers`, comma-separated. */
  readonly brokers: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Whether `kcat` is installed. */
export function kcatAvailable(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Starts a mock cluster of `brokers` brokers; rejects if it has not named its servers within `timeoutMs`. */
export function startKafkaMock(options: { readonly brokers?: number; readonly timeoutMs?: number } = {}): Promise<KafkaMock> {
  const child = spawn('kcat', ['-C', '-b', 'localhost:1', '-t', 'keepalive', '-X', `test.mock.num.brokers=${String(options.brokers ?? 3)}`, '-q'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    const timer = setTimeout(() => {
      lines.close();
      void stop();
      reject(new Error(`the kcat mock cluster did not name its bootstrap.servers within ${String(options.timeoutMs ?? 10_000)} ms`));
    }, options.timeoutMs ?? 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    lines.on('line', (line) => {
      // librdkafka's notice: "Mock cluster enabled: original bootstrap.servers … replaced with <servers>".
      const found = /replaced with ([\d.:,]+)/.exec(line);
      if (found?.[1] === undefined) return;
      clearTimeout(timer);
      // Whatever else it logs is read and dropped, so the pipe never fills.
      lines.removeAllListeners('line');
      lines.on('line', () => undefined);
      resolve({ brokers: found[1], pid: child.pid ?? 0, stop });
    });
  });
}

/**
 * The way around the two limits of librdkafka's mock cluster (test/kafka-mock.ts), so
 * the Kafka suites run against it in CI. Neither does anything on a real cluster:
 * - The mock names controller 0, which no broker is, and KafkaJS asks the controller for the
 *   idempotent producer's id. When the controller is not among the brokers, any broker is asked (a
 *   non-transactional producer id may come from any broker, as KafkaJS's own comment there says).
 *   A cluster whose controller is a broker goes through KafkaJS untouched.
 * - The mock has no CreateTopics. On the mock only, a test's topics are made before the adapter
 *   looks for them, by a metadata request that allows auto-creation; the adapter then finds them. On a
 *   real cluster the adapter's own `ensureTopics` makes them, and that is what is tested there.
 */

let installed = false;

/** Installs the controller fallback once for the process. */
export function askAnyBrokerWhenNoBrokerIsTheController(): void {
  if (installed) return;
  installed = true;
  const original = Cluster.prototype.findControllerBroker;
  Cluster.prototype.findControllerBroker = async function (this: ClusterInternals) {
    const metadata = this.brokerPool.metadata;
    const brokers = metadata?.brokers ?? [];
    const [any] = brokers;
    if (any !== undefined && !brokers.some((b) => b.nodeId === metadata?.controllerId)) return this.findBroker({ nodeId: any.nodeId });
    return original.call(this);
  };
}

/** Makes `topics` on the mock with a metadata request that allows auto-creation (a subscribing consumer's). */
export async function createTopicsOnMock(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const consumer = kafka.consumer({ groupId: `topic-maker-${String(process.pid)}`, allowAutoTopicCreation: true });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics] });
  } finally {
    await consumer.disconnect();
  }
}
