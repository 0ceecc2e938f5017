import type { BenchStore, BenchTransport, BenchWriteDb } from './config.js';
import type { ServiceMemory, ServicesAlone } from './services.js';

/** One line of `bench/results.md`: the median run of one `npm run bench`. */
export interface ResultRow {
  /** ISO date and time (UTC, minutes). */
  readonly date: string;
  readonly machine: string;
  /** The transport's kind; `kafka (mock)` for librdkafka's mock cluster, never passed off as Kafka. */
  readonly transport: BenchTransport['kind'] | 'kafka (mock)';
  readonly store: BenchStore['kind'];
  readonly events: number;
  /** Changes a second the writers kept to (`--pace`); `undefined` when they wrote as fast as they could. */
  readonly pace?: number | undefined;
  readonly runs: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly peakRssMiB: number;
  /** Posts made in the median run; `undefined` (shown as `-`) when the transport is not X. */
  readonly posts: number | undefined;
}

/** One line of the relay section of `bench/results.md`: the median run of one batch size. */
export interface RelayResultRow {
  /** ISO date and time (UTC, minutes). */
  readonly date: string;
  readonly machine: string;
  /** The PostgreSQL server's version, e.g. `15.20`. */
  readonly postgres: string;
  /** Outbox rows in the backlog. */
  readonly rows: number;
  /** `500` for a fixed batch, `20-1000` for one that grows under the backlog. */
  readonly batchSize: string;
  readonly runs: number;
  readonly eventsPerSecond: number;
  /** Events per second of the slowest and the fastest run. */
  readonly slowestEventsPerSecond: number;
  readonly fastestEventsPerSecond: number;
  /** Mean time per batch in the median run, for each of the relay's three steps. */
  readonly readMsPerBatch: number;
  readonly publishMsPerBatch: number;
  readonly markMsPerBatch: number;
}

/** One line of the consumer section: the median run (by ratio) of one `npm run bench:consumer`. */
export interface ConsumerResultRow {
  readonly date: string;
  readonly machine: string;
  readonly store: BenchStore['kind'];
  /** Events in the backlog. */
  readonly events: number;
  readonly runs: number;
  /** The store's own bulk upsert, 1,000 events a call. */
  readonly ceilingPerSecond: number;
  readonly consumerPerSecond: number;
}

/** One line of the ceilings section: what each part did alone beside the pipeline, medians of one `npm run bench`. */
export interface CeilingsResultRow {
  readonly date: string;
  readonly machine: string;
  readonly transport: ResultRow['transport'];
  readonly store: BenchStore['kind'];
  readonly writeDb: BenchWriteDb;
  readonly events: number;
  readonly pace?: number | undefined;
  readonly runs: number;
  /** The pipeline's events/s in the same runs. */
  readonly pipelinePerSecond: number;
  /** The writers' commits/s during the pipeline runs: overall, first tenth, last tenth. */
  readonly writersInRun: { readonly perSecond: number; readonly first: number; readonly last: number };
  readonly writersAlonePerSecond: number;
  readonly publishPerSecond: number;
  readonly readPerSecond: number;
  readonly relayPerSecond: number;
  readonly upsertPerSecond: number;
  /** The publisher and the consumer each alone in a process, embedded stores, over Redis: MiB resident when ready, and at peak. */
  readonly services: ServicesAlone | undefined;
}

/** One line of the snapshot section: the median run of one `npm run bench:snapshot`. */
export interface SnapshotResultRow {
  readonly date: string;
  readonly machine: string;
  readonly writeDb: BenchWriteDb;
  readonly rows: number;
  readonly runs: number;
  readonly chunkSize: number;
  readonly rowsPerSecond: number;
  readonly slowestRowsPerSecond: number;
  readonly fastestRowsPerSecond: number;
}

/** One verify of the snapshotted table against its read model, with `drift` keys made to differ. */
export interface VerifyTiming {
  readonly drift: number;
  readonly ms: number;
  readonly keysListed: number;
  readonly differingBuckets: number;
}

/** One line of the verify section: the median of each drift's timings over the runs of one `npm run bench:snapshot`. */
export interface VerifyResultRow {
  readonly date: string;
  readonly machine: string;
  readonly writeDb: BenchWriteDb;
  readonly rows: number;
  readonly runs: number;
  readonly buckets: number;
  readonly timings: readonly VerifyTiming[];
}

/** The file keeps this many result rows per section, newest first. */
export const maxResultRows = 20;

export const resultsHeader = `# Pipeline benchmark

\`npm run bench\` pushes N row changes through the whole pipeline, in one process, exactly as
\`npm start\` wires it: the write database (PGlite) with the capture trigger on \`dvx_orders\`, the
publisher's relay reading the outbox and sending the events over the transport, and the consumer reading
them into the read model.

- **transport** \`x\` (default): the X emulator over HTTPS, \`createXPublisher\` posting and \`createXSource\`
  reading the filtered stream. \`redis-streams\`: a Redis the user runs (\`REDIS_URL\`, default the local
  one), a stream of its own per run, deleted afterwards. \`kafka\`: the cluster \`KAFKA_BROKERS\` names,
  or else librdkafka's mock cluster started through \`kcat\` (three brokers in one process on loopback),
  a topic of its own per run. A mock row is labelled \`kafka (mock)\`: it measures the adapter and the
  protocol on loopback, not Apache Kafka.
- **store** \`embedded\` (default): the embedded (PGlite) read model. \`postgres\`: the PostgreSQL read
  model on a real server (\`BENCH_DATABASE_URL\`, default the local \`test\` database), in a schema of its
  own per run, dropped afterwards.

Each run starts from empty databases in a temporary directory. Concurrent writers (4 unless
\`BENCH_WRITERS\` says otherwise) commit N changes as fast as they can, each one upsert statement in a
transaction of its own (one round trip, since 2026-12-07; a BEGIN, the upsert, a read of the captured
row and a COMMIT before): inserts and updates over about N/5 keys. The run then waits until the read
model holds the final version of every key.

- **events/s**: N / (last apply - first commit).
- **p50 / p99**: commit-to-applied latency per event: from the moment the writer's statement returned
  (committed) to the moment the read model's \`applyBatch\` holding that event resolved (it is durable
  then). Events are matched by event id: each statement returns its transaction's id, and the outbox
  rows of those transactions are read once the writers are done.
- **peak RSS**: the highest resident set size of the process (everything above, with its embedded
  PostgreSQL instances; not the Redis or PostgreSQL servers) sampled every 50 ms over all runs.
- **posts**: posts made in the median run (X only; \`-\` otherwise); N / posts is how many events one post
  carries. A \`dvx_orders\` row image needs about 250 of a post's 280 weighted characters, so each post
  carries one.

Over X the writers commit their burst much faster than the relay posts (one HTTPS request per post, one
post after the other), so most of an event's latency is time spent waiting in the outbox: p50 and p99
grow with N. Setup (the emulator and the fresh databases, several seconds) is not measured.

The emulator's post quota is raised for the bench. Real X allows 100 posts per 15 minutes per user, so
there the relay would spend almost all its time waiting out the quota (the events wait safely in the
outbox). This measures the software, not X's quota.

With \`--pace P\` (\`BENCH_PACE\`) the writers keep to P changes a second instead: change i starts no
earlier than i / P seconds after the first, and N shows as \`1000 at 50/s\`. That measures latency at
a steady load, where the unpaced run measures it under a burst.

Run it: \`npm run bench\` (N = 500, 3 runs, median reported), or \`npm run bench -- 200 --runs 5\`, or
\`BENCH_EVENTS=2000 BENCH_RUNS=1 npm run bench\`, or \`npm run bench -- --transport redis-streams --store postgres\`
(\`BENCH_TRANSPORT\`, \`BENCH_STORE\`). \`--dry-run\` prints without touching this file. The newest result is
first; the file keeps ${maxResultRows}.
`;

export const relayResultsHeader = `# Relay benchmark

\`npm run bench:relay\` measures the publisher's relay alone: how fast \`createOutboxRelay\` drains a backlog of N
rows (100,000 unless \`BENCH_RELAY_ROWS\` says otherwise) from the outbox of a real PostgreSQL server
(\`createPostgresOutbox\` over a \`pg\` pool, \`BENCH_DATABASE_URL\`, default the local \`test\` database) into the
in-memory transport (\`createInMemoryBus\`), which acknowledges as soon as it has appended an event.

Each run creates its own schema, applies \`sql/postgres/\` (outbox and \`dvx_orders\` with the capture
trigger), and inserts N \`dvx_orders\` rows in ten \`INSERT … SELECT … FROM generate_series\` statements, so
the trigger writes the backlog exactly as it writes any change. The clock starts when the relay starts
and stops when \`markPublished\` has resolved for the last row; the run then checks that no row is left
unpublished and that the bus holds exactly the outbox's event ids. The schema is dropped after each run.
Filling is not measured. Nothing vacuums or analyzes the outbox between filling and draining, beyond what
the server itself does.

- **events/s**: N / (last mark - relay start), for the median run; slowest and fastest runs beside it.
- **read / publish / mark ms/batch**: the mean time of the relay's three steps per batch in the median
  run: \`readBatch\` (the ordered SELECT below the snapshot's xmin), \`publish\` (JSON encoding into the
  in-memory log), \`markPublished\` (one UPDATE and commit per batch).

Each batch setting (\`BENCH_RELAY_BATCH_SIZES\`, default \`default,20,500\`) gets its own row. \`default\` is
the publisher's own: 20 rows a pass while the outbox is nearly empty, doubling after each full pass up to
1000 (\`RELAY_BATCH_SIZE\`, \`RELAY_MAX_BATCH_SIZE\`), shown as \`20-1000\`; a number is a fixed batch, and
\`50-400\` a growing one. The relay is the only client of the outbox, but the server is shared with
whatever else runs on the machine.

Run it: \`npm run bench:relay\` (N = 100,000, 3 runs per batch size, median reported), or
\`npm run bench:relay -- 20000 --runs 3 --batch-sizes default,100,1000\`. \`--dry-run\` prints without touching this
file. The newest result is first; the section keeps ${maxResultRows} rows.
`;

export const consumerResultsHeader = `# Consumer benchmark

\`npm run bench:consumer\` measures the consumer alone against the ceiling of its store. A backlog of N
events (50,000 unless \`BENCH_CONSUMER_EVENTS\` says otherwise; N/5 keys, each key's versions in order) is
published to a Redis stream of its own, then drained by the consumer as the services wire it (the Redis
Streams source, the pipeline, the store) into a fresh read model. Beside it, the same events are upserted
into another fresh store of the same kind directly, 1,000 a call: the store's own bulk upsert, which no
consumer can beat. An untimed round of both (up to 10,000 events) runs first, so neither is measured cold.

- **bulk upsert events/s**: N / the time of the direct upserts.
- **consumer events/s**: N / (last apply - consumer start).
- **consumer / ceiling**: the ratio, for the median run by ratio.

Run it: \`npm run bench:consumer\` (N = 50,000, 3 runs, the embedded store), or
\`npm run bench:consumer -- 20000 --runs 5 --store postgres\` (\`BENCH_STORE\`, \`BENCH_DATABASE_URL\`).
\`--dry-run\` prints without touching this file. The newest result is first; the section keeps ${maxResultRows} rows.
`;

export const ceilingsResultsHeader = `# Ceilings beside the pipeline

Each \`npm run bench\` run also measures what each part of the pipeline does alone, on the same machine,
right after the pipeline, with the same N: the pipeline can go no faster than its slowest part. Each cell
gives the part's rate and, in brackets, the pipeline's events/s as a share of it.

- **writers in the run**: the writers' commits/s while the pipeline ran, overall, then over the first and
  the last tenth of the commits (the write side's cost stays flat when the two are close).
- **writers alone**: the same changes, by the same number of writers, into a fresh write database of the
  same kind with nothing reading it.
- **publish / read**: the transport alone, without databases. The events (the size of a \`dvx_orders\` row
  image) are published 1,000 a call by the publisher the services wire, then read by their source into a
  handler that does nothing. Redis and Kafka drain the published backlog (timed from the first batch read
  to the last); X's filtered stream only carries posts made while it is connected, so there the source
  reads while the posts are made, on an emulator of its own (timed from the first post to the last read).
- **relay**: the relay with its defaults, draining a backlog of N outbox rows written through the capture
  trigger into a fresh write database of the same kind, into an in-memory bus.
- **bulk upsert**: the store's own \`applyBatch\`, 1,000 events a call, into a fresh store of the same kind.
- **publisher / consumer alone, MiB**: each service in a process of its own, as its container runs it
  (\`dist/publisher/main.js\`, \`dist/consumer/main.js\`, configured by environment alone, with the
  images' \`MALLOC_MMAP_THRESHOLD_\`), with its embedded store, over a Redis stream of their own: the resident set once ready and idle, then its peak
  after N events went in through the publisher's \`POST /events\` and reached the consumer's read model.
  Measured once per bench, over Redis Streams only (\`-\` for the other transports).

Every figure is the median over the runs. The newest result is first; the section keeps ${maxResultRows} rows.
`;

export const snapshotResultsHeader = `# Snapshot benchmark

\`npm run bench:snapshot\` measures a snapshot (\`npm run snapshot\`): a table of N rows (100,000 unless
\`BENCH_SNAPSHOT_ROWS\` says otherwise) is filled before its capture trigger is attached, then
\`snapshotTable\` enqueues every row into the outbox, 1,000 rows a chunk, each chunk one transaction that
reads its rows \`FOR SHARE\` and records its progress. The run checks that the outbox then holds exactly
one upsert per row. \`--write-db postgres\` (the default) works in a schema of its own of
\`BENCH_DATABASE_URL\`; \`embedded\` in a fresh embedded database.

- **rows/s**: N / the snapshot's time, for the median run; slowest and fastest beside it.

Run it: \`npm run bench:snapshot\`, or \`npm run bench:snapshot -- 20000 --runs 5 --write-db embedded\`.
\`--dry-run\` prints without touching this file. The newest result is first; the section keeps ${maxResultRows} rows.
`;

export const verifyResultsHeader = `# Verify benchmark

\`npm run bench:snapshot\` goes on with the snapshotted table: it relays the outbox into a read model of
the same kind (a schema of its own of \`BENCH_DATABASE_URL\`, or a second embedded database), then times
\`npm run verify\`'s comparison (\`findDrift\`, no settling) with 0, 10 and 1,000 keys made to drift: their
documents deleted through the store. Each run checks that verify found exactly those keys.

- **buckets**: the hash buckets both sides digested (about 16 keys each).
- **N drifting: ms (keys listed)**: the median time of the comparison, and how many keys beyond the
  digests it read, both sides together.

The newest result is first; the section keeps ${maxResultRows} rows.
`;

const verifyTableHead = [
  '| date (UTC) | machine | databases | N | runs | buckets | 0 drifting: ms (keys listed) | 10 drifting | 1,000 drifting |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
];

const snapshotTableHead = [
  '| date (UTC) | machine | write db | N | chunk | runs | rows/s (median run) | rows/s slowest / fastest |',
  '|---|---|---|---:|---:|---:|---:|---:|',
];

const ceilingsTableHead = [
  '| date (UTC) | machine | transport | store | write db | N | runs | pipeline events/s | writers in the run commits/s (first / last tenth) | writers alone | publish | read | relay | bulk upsert | publisher alone MiB (peak) | consumer alone MiB (peak) |',
  '|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];

const consumerTableHead = [
  '| date (UTC) | machine | store | N | runs | bulk upsert events/s | consumer events/s | consumer / ceiling |',
  '|---|---|---|---:|---:|---:|---:|---:|',
];

const tableHead = [
  '| date (UTC) | machine | transport | store | N | runs | events/s (median run) | p50 ms | p99 ms | peak RSS MiB | posts |',
  '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
];

/** Rows written before the transport and store columns have this many cells; they all ran X into the embedded store. */
const cellsBeforeTransport = 9;

const relayTableHead = [
  '| date (UTC) | machine | PostgreSQL | N | batch | runs | events/s (median run) | events/s slowest / fastest | read ms/batch | publish ms/batch | mark ms/batch |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
];

const rowPattern = /^\| \d{4}-\d{2}-\d{2}/;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** N, and the writers' pace when they kept to one: `1000 at 50/s`. */
function eventsCell(row: { readonly events: number; readonly pace?: number | undefined }): string {
  return row.pace === undefined ? String(row.events) : `${String(row.events)} at ${String(row.pace)}/s`;
}

export function formatRow(row: ResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    row.transport,
    row.store,
    eventsCell(row),
    String(row.runs),
    row.eventsPerSecond.toFixed(1),
    row.p50Ms.toFixed(1),
    row.p99Ms.toFixed(1),
    row.peakRssMiB.toFixed(0),
    row.posts === undefined ? '-' : String(row.posts),
  ].join(' | ')} |`;
}

/** An older pipeline row gets `x | embedded` after its machine cell; any other row is returned as it is. */
export function withTransportColumns(line: string): string {
  // The cells between the outer pipes; a pipe inside a cell is escaped.
  const cells = line.split(/(?<!\\)\|/).slice(1, -1);
  if (cells.length !== cellsBeforeTransport) return line;
  return `|${[...cells.slice(0, 2), ' x ', ' embedded ', ...cells.slice(2)].join('|')}|`;
}

export function formatRelayRow(row: RelayResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    cell(row.postgres),
    String(row.rows),
    row.batchSize,
    String(row.runs),
    row.eventsPerSecond.toFixed(0),
    `${row.slowestEventsPerSecond.toFixed(0)} / ${row.fastestEventsPerSecond.toFixed(0)}`,
    row.readMsPerBatch.toFixed(2),
    row.publishMsPerBatch.toFixed(2),
    row.markMsPerBatch.toFixed(2),
  ].join(' | ')} |`;
}

/** The sections after the pipeline's, in file order, each with its header and table head. */
const laterSections = {
  relay: { header: relayResultsHeader, head: relayTableHead },
  consumer: { header: consumerResultsHeader, head: consumerTableHead },
  ceilings: { header: ceilingsResultsHeader, head: ceilingsTableHead },
  snapshot: { header: snapshotResultsHeader, head: snapshotTableHead },
  verify: { header: verifyResultsHeader, head: verifyTableHead },
} as const;

export type LaterSection = keyof typeof laterSections;
type Sections = Readonly<Record<'pipeline' | LaterSection, readonly string[]>>;

const laterNames: readonly LaterSection[] = ['relay', 'consumer', 'ceilings', 'snapshot', 'verify'];
const headingOf = (name: LaterSection): string => laterSections[name].header.split('\n', 1)[0] ?? '';

/** `f` of each later section: the one place that names them all. */
function perSection<T>(f: (name: LaterSection) => T): Record<LaterSection, T> {
  return { relay: f('relay'), consumer: f('consumer'), ceilings: f('ceilings'), snapshot: f('snapshot'), verify: f('verify') };
}

/** Splits results.md at the section headings, wherever each is: the pipeline's lines come before the first. */
function sections(existing: string): Sections {
  const lines = existing.split('\n');
  const starts = perSection((name) => lines.indexOf(headingOf(name)));
  const end = (from: number): number => Object.values(starts).filter((at) => at > from).reduce((a, b) => Math.min(a, b), lines.length);
  return {
    pipeline: lines.slice(0, end(-1)),
    ...perSection((name) => (starts[name] === -1 ? [] : lines.slice(starts[name], end(starts[name])))),
  };
}

const rowsIn = (lines: readonly string[]): string[] => lines.filter((line) => rowPattern.test(line));

/** The pipeline result rows already in `existing` (the text of results.md), in file order, older ones with the transport and store columns added. */
export function existingRows(existing: string): string[] {
  return rowsIn(sections(existing).pipeline).map(withTransportColumns);
}

/** The result rows of a later section already in `existing` (the text of results.md), in file order. */
export function existingSectionRows(existing: string, section: LaterSection): string[] {
  return rowsIn(sections(existing)[section]);
}

export function formatConsumerRow(row: ConsumerResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    row.store,
    String(row.events),
    String(row.runs),
    row.ceilingPerSecond.toFixed(0),
    row.consumerPerSecond.toFixed(0),
    `${((100 * row.consumerPerSecond) / row.ceilingPerSecond).toFixed(0)}%`,
  ].join(' | ')} |`;
}

/** `12345 (8%)`: a ceiling, and the pipeline's rate as a share of it. */
function againstCeiling(pipeline: number, ceiling: number): string {
  return `${ceiling.toFixed(0)} (${((100 * pipeline) / ceiling).toFixed(0)}%)`;
}

function memory(service: ServiceMemory | undefined): string {
  return service === undefined ? '-' : `${service.readyMiB.toFixed(0)} (${service.peakMiB.toFixed(0)})`;
}

export function formatCeilingsRow(row: CeilingsResultRow): string {
  const { writersInRun: w } = row;
  return `| ${[
    cell(row.date),
    cell(row.machine),
    row.transport,
    row.store,
    row.writeDb,
    eventsCell(row),
    String(row.runs),
    row.pipelinePerSecond.toFixed(0),
    `${w.perSecond.toFixed(0)} (${w.first.toFixed(0)} / ${w.last.toFixed(0)})`,
    againstCeiling(row.pipelinePerSecond, row.writersAlonePerSecond),
    againstCeiling(row.pipelinePerSecond, row.publishPerSecond),
    againstCeiling(row.pipelinePerSecond, row.readPerSecond),
    againstCeiling(row.pipelinePerSecond, row.relayPerSecond),
    againstCeiling(row.pipelinePerSecond, row.upsertPerSecond),
    memory(row.services?.publisher),
    memory(row.services?.consumer),
  ].join(' | ')} |`;
}

/** Every section, headers rewritten; the later sections only once they have a row. */
function render(rows: Sections): string {
  const section = (header: string, head: readonly string[], lines: readonly string[]) => `${header}\n${[...head, ...lines.slice(0, maxResultRows)].join('\n')}\n`;
  return [
    section(resultsHeader, tableHead, rows.pipeline),
    ...laterNames.filter((name) => rows[name].length > 0).map((name) => section(laterSections[name].header, laterSections[name].head, rows[name])),
  ].join('\n');
}

/** Every section's rows as they are in `existing`. */
function existingSections(existing: string): Sections {
  const found = sections(existing);
  return { pipeline: existingRows(existing), ...perSection((name) => rowsIn(found[name])) };
}

/** The new text of results.md with `lines` first in `section`, before its older rows; the other sections' rows are kept. */
function prepend(existing: string, section: LaterSection, lines: readonly string[]): string {
  const kept = existingSections(existing);
  return render({ ...kept, [section]: [...lines, ...kept[section]] });
}

/**
 * The new text of results.md: `row` first in the pipeline section, followed by the older rows, at
 * most `maxResultRows` in all, and `ceilings`, measured beside it, first in the ceilings section. The headers are rewritten each time; the rows, and the other sections'
 * rows, are kept as they were (rows from before the transport and store columns gain them).
 */
export function renderResults(existing: string, row: ResultRow, ceilings?: CeilingsResultRow): string {
  const rows = existingSections(existing);
  return render({
    ...rows,
    pipeline: [formatRow(row), ...rows.pipeline],
    ceilings: ceilings === undefined ? rows.ceilings : [formatCeilingsRow(ceilings), ...rows.ceilings],
  });
}

/**
 * The new text of results.md with `rows` (one run of the relay bench, in the order given) first in
 * the relay section, followed by its older rows, at most `maxResultRows` in all. The other sections'
 * rows are kept as they were.
 */
export function renderRelayResults(existing: string, rows: readonly RelayResultRow[]): string {
  return prepend(existing, 'relay', rows.map(formatRelayRow));
}

/** The new text of results.md with `row` first in the consumer section; the other sections' rows are kept. */
export function renderConsumerResults(existing: string, row: ConsumerResultRow): string {
  return prepend(existing, 'consumer', [formatConsumerRow(row)]);
}

export function formatSnapshotRow(row: SnapshotResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    row.writeDb,
    String(row.rows),
    String(row.chunkSize),
    String(row.runs),
    row.rowsPerSecond.toFixed(0),
    `${row.slowestRowsPerSecond.toFixed(0)} / ${row.fastestRowsPerSecond.toFixed(0)}`,
  ].join(' | ')} |`;
}

export function formatVerifyRow(row: VerifyResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    row.writeDb,
    String(row.rows),
    String(row.runs),
    String(row.buckets),
    ...row.timings.map((t) => `${t.ms.toFixed(0)} (${String(t.keysListed)})`),
  ].join(' | ')} |`;
}

/** The new text of results.md with `row` first in the snapshot section and `verify` first in the verify section; the other sections' rows are kept. */
export function renderSnapshotResults(existing: string, row: SnapshotResultRow, verify?: VerifyResultRow): string {
  const withSnapshot = prepend(existing, 'snapshot', [formatSnapshotRow(row)]);
  return verify === undefined ? withSnapshot : prepend(withSnapshot, 'verify', [formatVerifyRow(verify)]);
}
