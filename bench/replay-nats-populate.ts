/**
 * Puts `count` bench events, one message each, into a JetStream stream before
 * its replay is timed: plain publishes to the stream's subject, flushed every
 * 1,000, then it waits until the stream holds them all.
 */
import { benchContext } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { natsConnect, type NatsStream } from './lib/nats.js';

const FLUSH_EVERY = 1000;

run(async () => {
  const { stream, count } = config<{ stream: NatsStream; count: number }>();
  const nc = await natsConnect();
  const encoder = new TextEncoder();
  const started = performance.now();
  const start = Date.now() / 1000;
  for (let i = 0; i < count; i++) {
    const event = { name: 'submit', timestamp: start + i * 1e-6, context: benchContext(i), seq: i + 1 };
    nc.publish(stream.subject, encoder.encode(JSON.stringify(event)));
    if ((i + 1) % FLUSH_EVERY === 0) await nc.flush();
  }
  await nc.flush();
  const jsm = await nc.jetstreamManager();
  let stored = 0;
  for (let wait = 0; wait < 300; wait++) {
    stored = (await jsm.streams.info(stream.name)).state.messages;
    if (stored >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await nc.close();
  if (stored < count) throw new Error(`the stream holds ${stored} of ${count} events`);
  await report({ type: 'populated', ms: Math.round(performance.now() - started) });
});
