/**
 * Holds `consumers` live consumers in one process, each on its own
 * connection, and records append→delivery latency (now − `context.sentAt`,
 * the machine-wide monotonic clock) of every non-warm-up event into one
 * histogram. Modes: `wsjournal` (EventLogConsumer, `full: false`), `ws` (raw
 * relay client), `nats` (JetStream ordered push consumer, new messages only).
 */
import { connect as natsConnect, consumerOpts, type NatsConnection } from 'nats';
import { WebSocket } from 'ws';
import { EventLogConsumer } from '../src/index.js';
import { monoMs } from './lib/clock.js';
import { JOURNAL } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { command, config, report, run } from './lib/ipc.js';
import type { NatsStream } from './lib/nats.js';
import { NATS_URL } from './lib/services.js';

interface LiveConsumersConfig {
  mode: 'wsjournal' | 'ws' | 'nats';
  url?: string;
  stream?: NatsStream;
  consumers: number;
}

interface Context {
  sentAt: number;
  warm?: number;
}

const latency = new Histogram();

/** Counts one consumer's measured events and records their latency. */
class Tally {
  count = 0;
  deliver(context: Context): void {
    const now = monoMs();
    if (context.warm === 1) return;
    latency.record(now - context.sentAt);
    this.count++;
  }
}

/** Opens one consumer; resolves once it is certain to see what is appended next. Returns its closer. */
async function openConsumer(options: LiveConsumersConfig, tally: Tally): Promise<() => Promise<void>> {
  if (options.mode === 'wsjournal') {
    const consumer = new EventLogConsumer(options.url!, JOURNAL, { full: false });
    consumer.setCallback((event) => {
      if (event !== null && event.name === 'submit') tally.deliver(event.context as unknown as Context);
    });
    await new Promise((resolve, reject) => consumer.once('subscribed', resolve).once('error', reject).start());
    return async () => consumer.stop();
  }
  if (options.mode === 'ws') {
    const ws = new WebSocket(`${options.url!}/sub`, { perMessageDeflate: false });
    ws.on('message', (data) => tally.deliver((JSON.parse(data.toString()) as { context: Context }).context));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return async () => ws.terminate();
  }
  const nc: NatsConnection = await natsConnect({ servers: NATS_URL });
  const opts = consumerOpts();
  opts.orderedConsumer();
  opts.deliverNew();
  opts.callback((error, message) => {
    if (error === null && message !== null) tally.deliver(message.json<{ context: Context }>().context);
  });
  await nc.jetstream().subscribe(options.stream!.subject, opts);
  return () => nc.close();
}

run(async () => {
  const options = config<LiveConsumersConfig>();
  const tallies = Array.from({ length: options.consumers }, () => new Tally());
  const closers = await Promise.all(tallies.map((tally) => openConsumer(options, tally)));
  await report({ type: 'ready' });
  const { expected, waitMs } = await command<{ type: 'finish'; expected: number; waitMs: number }>('finish');
  const deadline = performance.now() + waitMs;
  while (tallies.some((tally) => tally.count < expected) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(closers.map((close) => close()));
  const counts = tallies.map((tally) => tally.count);
  await report({
    type: 'result',
    histogram: latency.toJSON(),
    delivered: counts.reduce((sum, count) => sum + count, 0),
    minDelivered: Math.min(...counts),
  });
});
