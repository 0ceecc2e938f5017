import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * librdkafka's mock cluster, started through Debian's `kcat`: a Kafka-protocol peer of three brokers
 * on loopback, ready in a tenth of a second, gone with the process. It is what CI runs the Kafka
 * suites against (issue 23). Its limits (librdkafka 2.0.2): it reports controller id 0, which no
 * broker has, and has no CreateTopics; it creates a topic, with 4 partitions, when a metadata request
 * that allows it names one. `transports/kafka/kafka-mock.fixture.ts` works around both in tests.
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
  const child = spawn('kcat', ['-C', '-b', 'localhost:1', '-t', 'keepalive', '-X', `test.mock.num.brokers=${String(options.brokers ?? 3)}`, '-d', 'mock', '-q'], {
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
      const found = /bootstrap\.servers=([\d.:,]+)/.exec(line);
      if (found?.[1] === undefined) return;
      clearTimeout(timer);
      // Its debug log goes on for every request: read and drop it, so the pipe never fills.
      lines.removeAllListeners('line');
      lines.on('line', () => undefined);
      resolve({ brokers: found[1], pid: child.pid ?? 0, stop });
    });
  });
}
