/**
 * Forwards a journal to a webhook: a Forwarder POSTs each event as JSON to a
 * small HTTP receiver started here (on a free port), in order, with an
 * `Idempotency-Key: journal:seq` header, and keeps its position in a
 * checkpoint file, so that a second run goes on where the first stopped. The
 * receiver stores each key once and answers 503 to every 4th request, to show
 * the forwarder retrying.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/webhook-forward.js [JOURNAL] [--no-follow] [--checkpoint FILE]
 *
 * JOURNAL defaults to "jobs"; --checkpoint defaults to ./state/forward-JOURNAL.checkpoint.json
 * (the directory is made if need be, and .gitignore covers it).
 * Follows live events until Ctrl-C, or with --no-follow stops once the history is
 * forwarded. Run it twice: the second run starts after the last event the first forwarded.
 */
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
// In your own project: import { Forwarder, WebhookHandler } from 'wsjournal';
import { Forwarder, WebhookHandler } from '../src/index.js';

const { values, positionals } = parseArgs({ options: { 'no-follow': { type: 'boolean' }, checkpoint: { type: 'string' } }, allowPositionals: true });
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'jobs';
const checkpoint = values.checkpoint ?? `./state/forward-${journal}.checkpoint.json`;
await mkdir(dirname(checkpoint), { recursive: true });

// The receiver: what a service at the other end of a webhook would do with the key.
const seen = new Set<string>();
let requests = 0;
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    if (++requests % 4 === 0) {
      res.writeHead(503).end();
      return;
    }
    const key = String(req.headers['idempotency-key']);
    if (!seen.has(key)) {
      seen.add(key);
      const event = JSON.parse(body) as { name: string; seq: number; context: object };
      console.log(`received ${key} ${event.name} ${JSON.stringify(event.context)}`);
    }
    res.writeHead(200).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const { port } = receiver.address() as { port: number };

const forwarder = new Forwarder(url, journal, {
  handlers: [new WebhookHandler(`http://127.0.0.1:${port}/events`)],
  checkpoint,
  retryDelay: 0.05,
});
// A failed POST is retried with backoff, never skipped; each failure is reported here.
forwarder.on('error', (error) => console.error(`webhook-forward: ${error.message}`));
// 'caughtUp': every handler has the history (the events stored when the forwarder started).
if (values['no-follow']) forwarder.once('caughtUp', () => forwarder.stop());
// stop() writes the checkpoint, then 'end' follows.
process.once('SIGINT', () => forwarder.stop());
const ended = new Promise<void>((resolve) => forwarder.once('end', () => resolve()));
forwarder.start();
console.log(`webhook-forward: ${journal} → http://127.0.0.1:${port}/events, from ${forwarder.position === undefined ? 'the start' : `after seq ${forwarder.position.seq}`}`);
await ended;
await forwarder.close();
receiver.closeAllConnections();
receiver.close();
console.log(`webhook-forward: stopped after ${journal}:${forwarder.position?.seq ?? 0}, checkpoint in ${checkpoint}`);
