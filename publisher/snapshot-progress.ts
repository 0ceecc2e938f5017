import { rowsPerSecond, type SnapshotProgress, type SnapshotResult } from './capture/snapshot.js';

/** `[############------------------]  40%  4,000 / 10,000 rows  items -> orders`: one line, for a terminal. */
export function progressBar(progress: SnapshotProgress, width = 30): string {
  // Rows inserted while the snapshot runs can take it past the count it started from.
  const share = progress.total === 0 ? 1 : Math.min(1, progress.enqueued / progress.total);
  const filled = Math.round(share * width);
  const percent = `${String(Math.floor(share * 100))}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}  ${progress.enqueued.toLocaleString('en-US')} / ${progress.total.toLocaleString('en-US')} rows  ${progress.table} -> ${progress.collection}`;
}

/** The closing line: rows, time and rate. */
export function snapshotSummary(result: SnapshotResult): string {
  const seconds = result.ms / 1000;
  const rate = rowsPerSecond(result);
  return (
    `snapshot of ${result.table} into collection ${result.collection}${result.resumed ? ' (resumed after its last chunk)' : ''}: ` +
    `${result.enqueued.toLocaleString('en-US')} rows enqueued in ${seconds.toFixed(1)} s, ${rate.toLocaleString('en-US')} rows/s`
  );
}

/**
 * Shows progress on `stream`: redrawn in place on a terminal, otherwise a line at every tenth, so a
 * log file is not flooded.
 */
export function progressReporter(stream: NodeJS.WriteStream): { update: (progress: SnapshotProgress) => void; done: () => void } {
  let lastTenth = -1;
  let drawn = false;
  return {
    update(progress) {
      if (stream.isTTY) {
        stream.write(`\r${progressBar(progress)}`);
        drawn = true;
        return;
      }
      const tenth = progress.total === 0 ? 10 : Math.floor((10 * Math.min(progress.enqueued, progress.total)) / progress.total);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`${progressBar(progress)}\n`);
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
      lastTenth = -1;
    },
  };
}
