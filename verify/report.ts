import { driftCounts, driftKinds, type DriftReport } from './drift.js';
import type { HealOutcome } from './heal.js';

const number = new Intl.NumberFormat('en-US');
const shownKeys = 20;

/** What `npm run verify` prints for one table: one line when it agrees, the drift by kind and key otherwise. */
export function formatDriftReport(subject: { readonly collection: string; readonly table: string }, report: DriftReport): string {
  const head = `${subject.collection} (table ${subject.table}): ${number.format(report.tableRows)} rows, ${number.format(report.readModelRows)} documents; ${number.format(report.buckets)} buckets compared, ${number.format(report.differingBuckets)} differed, ${number.format(report.keysListed)} keys listed; ${String(Math.round(report.ms))} ms`;
  if (report.drift.length === 0) return `${head}\nno drift: the read model equals the table\n`;
  const counts = driftCounts(report.drift);
  const kinds = driftKinds.filter((kind) => counts[kind] > 0).map((kind) => `${kind} ${number.format(counts[kind])}`);
  const lines = report.drift.slice(0, shownKeys).map((d) => {
    const table = d.tableVersion === undefined ? 'no row' : d.tableVersion === null ? 'no version' : `v${d.tableVersion.toString()}`;
    const readModel = d.readModelVersion === undefined ? 'no document' : `v${d.readModelVersion.toString()}${d.readModelSource === undefined ? '' : ` from ${d.readModelSource}`}`;
    return `  ${d.kind.padEnd(11)} ${JSON.stringify(d.key)}  table ${table}, read model ${readModel}`;
  });
  if (report.drift.length > shownKeys) lines.push(`  … and ${number.format(report.drift.length - shownKeys)} more`);
  return `${head}\ndrift: ${number.format(report.drift.length)} keys (${kinds.join(', ')})\n${lines.join('\n')}\n`;
}

export function formatHealOutcome(outcome: HealOutcome): string {
  const refused = outcome.refused.length === 0 ? '' : `; ${number.format(outcome.refused.length)} refused: the read model holds them more than VERSION_MAX_AHEAD_MS in the future (${outcome.refused.slice(0, shownKeys).map((d) => JSON.stringify(d.key)).join(', ')})`;
  return `heal: ${number.format(outcome.upserts)} rows sent again as upserts, ${number.format(outcome.deletes)} as deletes${refused}\n`;
}
