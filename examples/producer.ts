/**
 * A producer of sample job events, so the other examples have something to
 * show: jobs are submitted in batches, then each one starts and finishes.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/producer.js [JOURNAL] [--jobs N] [--rate R] [--batch B]
 *
 * JOURNAL defaults to "jobs". --jobs N jobs in all, 3 events each (default
 * 10; 0 runs until Ctrl-C); --rate R events per second (default 5; 0 as
 * fast as possible); --batch B jobs submitted together (default 5).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
// In your own project: import { JournalProducer, JournalError } from 'wsjournal';
import { JournalError, JournalProducer, type AppendResult } from '../src/index.js';

const { values, positionals } = parseArgs({
  options: { jobs: { type: 'string' }, rate: { type: 'string' }, batch: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'jobs';
const jobs = Number(values.jobs ?? 10);
const rate = Number(values.rate ?? 5);
const batch = Number(values.batch ?? 5);
if (!Number.isInteger(jobs) || jobs < 0) throw new RangeError(`--jobs must be an integer >= 0, got ${values.jobs}`);
if (!(rate >= 0)) throw new RangeError(`--rate must be a number >= 0, got ${values.rate}`);
if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`--batch must be an integer >= 1, got ${values.batch}`);

// Job ids unique to this run, so that several runs can share a journal.
const runTag = Date.now().toString(36).slice(-5);

// Ctrl-C: finish the jobs already submitted, so every submit in the journal
// has its start and finish, then close.
let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});

// The producer opens its connection on the first append. An append resolves
// once the event is durable in the server's store, with the `seq` and the
// `timestamp` the server gave it. Refused appends reject with a JournalError
// whose `code` says why (see ErrorCode); while the server is unreachable,
// appends wait and are sent once the connection is back.
const producer = new JournalProducer(url, journal);

try {
  for (let first = 1; !stopping && (jobs === 0 || first <= jobs); first += batch) {
    const count = jobs === 0 ? batch : Math.min(batch, jobs - first + 1);
    const ids = Array.from({ length: count }, (_, i) => `${runTag}.${first + i}`);

    // appendMany sends a batch in one round trip and stores it atomically:
    // every event, with consecutive seqs, or none of them.
    const submits = ids.map((jobid, i) => ({ name: 'submit', context: { jobid, userid: 1000 + ((first + i) % 3), ntasks: 1 + i } }));
    const acks = await producer.appendMany(submits);
    acks.forEach((ack, i) => report(ack, 'submit', ids[i]!));
    await pace(count);

    for (const jobid of ids) {
      // bind() makes a producer on the same connection whose events all
      // carry `{ jobid }` in their context, merged with the context given
      // to append. A bound producer must be closed too: the connection
      // closes when the last producer sharing it does.
      const job = producer.bind({ jobid });
      try {
        report(await job.append('start', { nodes: 1 }), 'start', jobid);
        await pace(1);
        report(await job.append('finish', { status: 0 }), 'finish', jobid);
        await pace(1);
      } finally {
        await job.close();
      }
    }
  }
} catch (error) {
  if (!(error instanceof JournalError)) throw error;
  console.error(`producer: append refused (${error.code}): ${error.message}`);
  process.exitCode = 1;
} finally {
  // Waits for appends still in flight, then closes the connection.
  await producer.close();
}

function report(ack: AppendResult, name: string, jobid: string): void {
  console.log(`appended ${ack.seq} ${ack.timestamp.toFixed(6)} ${name} jobid=${jobid}`);
}

/** Waits as long as `events` events take at --rate. */
async function pace(events: number): Promise<void> {
  if (rate > 0) await sleep((1000 * events) / rate);
}
