/**
 * A daily utilization report of a laboratory journal, written to CSV: how long each
 * instrument was in session per day, from the `session_start` and `session_end` events its
 * control software appends (`context.instrument` says which instrument). The server pairs
 * the events and measures the sessions (`GET …/spans`); this program asks for the CSV with
 * `JournalClient.spans()`, writes it to a file, and prints a summary.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/utilization-report.js [JOURNAL] [--seed] [--tz ZONE] [--out FILE]
 *
 * JOURNAL defaults to "lab". `--seed` first appends a few short sessions on three
 * instruments (the last one left running), so that there is something to report. `--tz`
 * (default UTC) is the IANA zone whose days the report counts; `--out` defaults to
 * `utilization-JOURNAL.csv`.
 */
// In your own project: import { JournalClient, JournalError } from 'wsjournal';
import { writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { JournalClient, JournalError } from '../src/index.js';

const { values, positionals } = parseArgs({
  options: { seed: { type: 'boolean' }, tz: { type: 'string' }, out: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'lab';
const tz = values.tz ?? 'UTC';
const out = values.out ?? `utilization-${journal}.csv`;

// JournalClient speaks the server's HTTP API; a ws:// URL names the same server.
const client = new JournalClient(url);

/** Runs one session on `instrument`: start, `samples` samples a few ms apart, and (unless `leaveOpen`) the end. */
async function session(instrument: string, samples: number, leaveOpen = false): Promise<void> {
  await client.append(journal, { name: 'session_start', context: { instrument, operator: 'ada' } });
  for (let n = 0; n < samples; n++) {
    await delay(20);
    await client.append(journal, { name: 'sample', context: { instrument, sample: `s${n}` } });
  }
  if (!leaveOpen) await client.append(journal, { name: 'session_end', context: { instrument } });
}

try {
  if (values.seed === true) {
    await session('hplc-1', 3);
    await session('ms-1', 5);
    await session('hplc-1', 2);
    await session('nmr-1', 1, true); // still running when the report is made
    console.log('seeded 4 sessions on 3 instruments');
  }

  // The CSV comes from the server: header start,end,key,spans,busySeconds,utilization.
  const options = { start: 'session_start', stop: 'session_end', key: 'context.instrument', period: 'day', tz } as const;
  const csv = await client.spans(journal, { ...options, format: 'csv' });
  await writeFile(out, csv);

  // The same report as rows, for a summary on the terminal.
  const rows = await client.spans(journal, options);
  for (const row of rows) {
    const day = row.start.slice(0, 10);
    console.log(`${day} ${String(row.key)}: ${row.spans} session(s), busy ${row.busySeconds} s (${(row.utilization * 100).toFixed(4)}% of the day)`);
  }
  console.log(`wrote ${rows.length} rows to ${out}`);
} catch (error) {
  // A bad --tz is refused by the server with INVALID_TIME_ZONE; an unreachable server is CONNECTION_CLOSED.
  if (error instanceof JournalError) console.error(`utilization-report: ${error.code}: ${error.message}`);
  else console.error(`utilization-report: ${(error as Error).message}`);
  process.exitCode = 1;
}
