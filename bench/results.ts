/** One line of `bench/results.md`: the median run of one `npm run bench`. */
export interface ResultRow {
  /** ISO date and time (UTC, minutes). */
  readonly date: string;
  readonly machine: string;
  readonly events: number;
  readonly runs: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly peakRssMiB: number;
  readonly posts: number;
}

/** The file keeps this many result rows, newest first. */
export const maxResultRows = 20;

export const resultsHeader = `# Pipeline benchmark

\`npm run bench\` pushes N row changes through the whole offline pipeline, in one process, exactly as
\`npm start\` wires it: the X emulator over HTTPS, the write database (PGlite) with the capture trigger on
\`dvx_orders\`, the publisher's relay reading the outbox and posting with \`createXPublisher\`, and the
consumer reading the filtered stream with \`createXSource\` into the embedded (PGlite) read model.

Each run starts from empty databases in a temporary directory. Concurrent writers (4 unless
\`BENCH_WRITERS\` says otherwise) commit N changes as fast as they can, each in its own transaction:
inserts and updates over about N/5 keys. The run then waits until the read model holds the final version
of every key.

- **events/s**: N / (last apply - first commit).
- **p50 / p99**: commit-to-applied latency per event: from the moment the writer's COMMIT returned to
  the moment the read model's \`applyBatch\` holding that event resolved (it is durable then). Events are
  matched by event id, read back from the outbox inside the writing transaction.
- **peak RSS**: the highest resident set size of the process (everything above, plus two embedded
  PostgreSQL instances) sampled every 50 ms over all runs.
- **posts**: posts made in the median run; N / posts is how many events one post carries. A
  \`dvx_orders\` row image needs about 250 of a post's 280 weighted characters, so each post carries one.

The writers commit their burst much faster than the relay posts (one HTTPS request per post, one post
after the other), so most of an event's latency is time spent waiting in the outbox: p50 and p99 grow
with N. Setup (the emulator and two fresh embedded databases, several seconds) is not measured.

The emulator's post quota is raised for the bench. Real X allows 100 posts per 15 minutes per user, so
there the relay would spend almost all its time waiting out the quota (the events wait safely in the
outbox). This measures the software, not X's quota.

Run it: \`npm run bench\` (N = 500, 3 runs, median reported), or \`npm run bench -- 200 --runs 5\`, or
\`BENCH_EVENTS=2000 BENCH_RUNS=1 npm run bench\`. \`--dry-run\` prints without touching this file. The
newest result is first; the file keeps ${maxResultRows}.
`;

const tableHead = [
  '| date (UTC) | machine | N | runs | events/s (median run) | p50 ms | p99 ms | peak RSS MiB | posts |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
];

const rowPattern = /^\| \d{4}-\d{2}-\d{2}/;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function formatRow(row: ResultRow): string {
  return `| ${[
    cell(row.date),
    cell(row.machine),
    String(row.events),
    String(row.runs),
    row.eventsPerSecond.toFixed(1),
    row.p50Ms.toFixed(1),
    row.p99Ms.toFixed(1),
    row.peakRssMiB.toFixed(0),
    String(row.posts),
  ].join(' | ')} |`;
}

/** The result rows already in `existing` (the text of results.md), in file order. */
export function existingRows(existing: string): string[] {
  return existing.split('\n').filter((line) => rowPattern.test(line));
}

/**
 * The new text of results.md: the header, then `row` followed by the older rows, at most
 * `maxResultRows` in all. The header is rewritten each time; the rows are kept as they were.
 */
export function renderResults(existing: string, row: ResultRow): string {
  const rows = [formatRow(row), ...existingRows(existing)].slice(0, maxResultRows);
  return `${resultsHeader}\n${[...tableHead, ...rows].join('\n')}\n`;
}
