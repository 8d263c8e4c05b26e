/**
 * A raw `ws` client of the journal server that subscribes to a journal's history and parses
 * nothing: it counts the events of each page by their `"seq":` members (the bench's contexts
 * have none) in the frame's bytes, and stops at the sentinel. What it measures is the server's
 * replay and the socket, without a consumer's `JSON.parse`.
 */
import { WebSocket } from 'ws';
import { JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';

const SEQ = Buffer.from('"seq":');
const RESPONSE = Buffer.from('{"type":"response",');
const SENTINEL = Buffer.from('"events":[]}');

run(async () => {
  const { url, count } = config<{ url: string; count: number }>();
  let received = 0;
  let bytes = 0;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      bytes += data.length;
      // The hello and subscribed frames are not pages (subscribed has a "seq" of its own).
      if (!data.subarray(0, RESPONSE.length).equals(RESPONSE)) return;
      if (data.subarray(-SENTINEL.length).equals(SENTINEL)) {
        resolve();
        return;
      }
      for (let at = data.indexOf(SEQ); at >= 0; at = data.indexOf(SEQ, at + SEQ.length)) received++;
    });
    ws.send(JSON.stringify({ type: 'subscribe', id: 1, journal: JOURNAL, full: true, since: 0 }));
  });
  const ms = performance.now() - started;
  ws.terminate();
  if (received !== count) throw new Error(`replayed ${received} events of ${count}`);
  await report({ type: 'result', events: received, bytes, ms });
});
