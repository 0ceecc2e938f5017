import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeEventToJson, type ChangeEvent } from '../events/envelope.js';
import { deleteStreams } from '../transports/redis-streams/redis-client.js';
import { untilHealthy } from './report.js';
import { freePort } from '../common/free-port.js';
import { pgliteTier } from '../common/pglite.js';

/**
 * The publisher and the consumer each alone, as their containers run them: `dist/publisher/main.js`
 * and `dist/consumer/main.js` in processes of their own, configured by environment alone, each with
 * its embedded store (the outbox and the read model in PGlite), over a Redis stream of their own.
 * `events` go in through the publisher's `POST /events`, 500 a request, and the run waits until the
 * consumer holds the last key's last version. Memory is read from `/proc/<pid>/status`: the resident
 * set once both are ready and idle, and its peak by the end.
 */

export interface ServiceMemory {
  /** Resident MiB once ready, before any event. */
  readonly readyMiB: number;
  /** The highest resident MiB the kernel saw, by the time the events had reached the read model. */
  readonly peakMiB: number;
}

export interface ServicesAlone {
  readonly publisher: ServiceMemory;
  readonly consumer: ServiceMemory;
}

const mib = 1024 * 1024;

/**
 * What the images set for every service besides its configuration (docker/Dockerfile, the `runtime`
 * stage): a fixed glibc mmap threshold, so that blocks of 128 KiB or more go back to the system when
 * freed. The services run here as their containers run them, so with it too.
 */
export const imageProcessEnvironment = { MALLOC_MMAP_THRESHOLD_: '131072' } as const;

const entryRoot = join(import.meta.dirname, '..');

/** VmRSS and VmHWM of `pid`, in MiB (Linux). */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: (kib('VmRSS') * 1024) / mib, peak: (kib('VmHWM') * 1024) / mib };
}

export async function measureServicesAlone(redisUrl: string, events: readonly ChangeEvent[], timeoutMs: number): Promise<ServicesAlone> {
  const dir = await mkdtemp(join(tmpdir(), 'tweetbus-bench-services-'));
  const stream = `tweetbus:bench:${String(process.pid)}:services`;
  const children: ChildProcess[] = [];
  const output: string[] = [];
  /** Polls `check` until it resolves; a failure carries what the services wrote last. */
  const until = async (what: string, check: () => Promise<void>): Promise<void> => {
    try {
      await untilHealthy(check, timeoutMs, what);
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.join('').slice(-3000)}`, { cause: err });
    }
  };
  const start = async (entry: string, portVariable: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string; pid: number }> => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(entryRoot, entry)], {
      cwd: dir,
      env: { ...imageProcessEnvironment, LOG_LEVEL: 'warn', PGLITE_OPTIMIZE: String(pgliteTier() === 'optimizing'), TRANSPORT: 'redis-streams', REDIS_URL: redisUrl, REDIS_STREAM: stream, DATA_DIR: join(dir, entry.split('/')[0] ?? 'data'), ...env, [portVariable]: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const url = `http://127.0.0.1:${String(port)}`;
    await until(`${entry} to be ready`, async () => {
      if ((await fetch(`${url}/readyz`)).status !== 200) throw new Error('not ready');
    });
    if (child.pid === undefined) throw new Error(`${entry} has no pid`);
    return { child, url, pid: child.pid };
  };
  try {
    await deleteStreams(redisUrl, [stream, `${stream}:dead`]);
    const publisher = await start('publisher/main.js', 'PUBLISHER_PORT', {});
    const consumer = await start('consumer/main.js', 'CONSUMER_PORT', { STORE: 'embedded' });
    // Settled and idle: what a service holds before its first event.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const ready = { publisher: await memoryOf(publisher.pid), consumer: await memoryOf(consumer.pid) };

    for (let i = 0; i < events.length; i += 500) {
      const body = JSON.stringify(events.slice(i, i + 500).map((e) => changeEventToJson(e)));
      const response = await fetch(`${publisher.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (response.status !== 202) throw new Error(`the publisher answered ${String(response.status)}: ${await response.text()}`);
    }
    const last = events.at(-1);
    if (last !== undefined) {
      await until('the consumer to hold the last event', async () => {
        const response = await fetch(`${consumer.url}/api/${last.collection}/${encodeURIComponent(last.key)}`);
        const doc: unknown = response.status === 200 ? await response.json() : undefined;
        const version = typeof doc === 'object' && doc !== null && 'version' in doc ? String(doc.version) : undefined;
        if (version !== last.version.toString()) throw new Error(`version ${version ?? 'none'} of ${last.key}`);
      });
    }
    const after = { publisher: await memoryOf(publisher.pid), consumer: await memoryOf(consumer.pid) };
    return {
      publisher: { readyMiB: ready.publisher.rss, peakMiB: after.publisher.peak },
      consumer: { readyMiB: ready.consumer.rss, peakMiB: after.consumer.peak },
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)))));
    await deleteStreams(redisUrl, [stream, `${stream}:dead`]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
