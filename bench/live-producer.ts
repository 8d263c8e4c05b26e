/**
 * The live producer: appends `rate` events per second, one at a time, each
 * carrying its send time (`context.sentAt`, on the machine-wide monotonic
 * clock) and `context.warm` during the warm-up. Modes: `wsjournal` (a
 * JournalProducer; every append is awaited for its ack, concurrently), `ws`
 * (raw frames to the relay) and `nats` (JetStream publish, acks awaited
 * concurrently).
 */
import { connect as natsConnect, type PubAck } from 'nats';
import { WebSocket } from 'ws';
import { JournalProducer } from '../src/index.js';
import { monoMs } from './lib/clock.js';
import { benchContext, JOURNAL } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { command, config, report, run } from './lib/ipc.js';
import type { NatsStream } from './lib/nats.js';
import { pace } from './lib/pacer.js';
import { NATS_URL } from './lib/services.js';

export interface LiveProducerConfig {
  mode: 'wsjournal' | 'ws' | 'nats';
  url?: string;
  stream?: NatsStream;
  rate: number;
  warmupMs: number;
  durationMs: number;
}

/** Sends one event; resolves when it is acknowledged (at once where there are no acks). */
type Send = (name: string, context: Record<string, unknown>) => Promise<unknown>;

async function sender(options: LiveProducerConfig): Promise<{ send: Send; close: () => Promise<void> }> {
  if (options.mode === 'wsjournal') {
    const producer = new JournalProducer(options.url!, JOURNAL);
    await producer.append('warmup', { warm: 1 });
    return { send: (name, context) => producer.append(name, context), close: () => producer.close() };
  }
  if (options.mode === 'ws') {
    const ws = new WebSocket(`${options.url!}/pub`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return {
      send: (name, context) => {
        ws.send(JSON.stringify({ name, context }));
        return Promise.resolve();
      },
      close: async () => ws.close(),
    };
  }
  const nc = await natsConnect({ servers: NATS_URL });
  const js = nc.jetstream();
  const encoder = new TextEncoder();
  return {
    send: (name, context): Promise<PubAck> => js.publish(options.stream!.subject, encoder.encode(JSON.stringify({ name, context }))),
    close: () => nc.drain(),
  };
}

run(async () => {
  const options = config<LiveProducerConfig>();
  const { send, close } = await sender(options);
  await report({ type: 'ready' });
  await command('go');
  const warmup = Math.round((options.rate * options.warmupMs) / 1000);
  const measured = Math.round((options.rate * options.durationMs) / 1000);
  const acks = new Histogram();
  // A count, not a Set of promises: a Set added to and deleted from per append keeps acknowledged
  // appends alive through young-generation GCs (see src/churn-map.ts) and would slow the producer.
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  let maxInFlight = 0;
  let failures = 0;
  const paced = await pace(warmup + measured, options.rate, (i) => {
    const warm = i < warmup;
    const context: Record<string, unknown> = { ...benchContext(i), sentAt: monoMs() };
    if (warm) context['warm'] = 1;
    const sentAt = context['sentAt'] as number;
    const ack = send('submit', context).then(
      () => {
        if (!warm) acks.record(monoMs() - sentAt);
      },
      () => failures++,
    );
    inFlight++;
    void ack.then(() => {
      if (--inFlight === 0) onDrained?.();
    });
    if (inFlight > maxInFlight) maxInFlight = inFlight;
  });
  // A saturated server may take minutes to acknowledge the backlog: wait 10 s at most.
  const drained = inFlight === 0 ? Promise.resolve(true) : new Promise<boolean>((resolve) => (onDrained = () => resolve(true)));
  let timer: NodeJS.Timeout | undefined;
  const acked = await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, 10_000, false)))]);
  clearTimeout(timer);
  const unacked = inFlight;
  if (acked) await close();
  await report({
    type: 'done',
    measured,
    failures,
    unacked,
    achievedRate: Math.round(((warmup + measured) * 1000) / paced.ms),
    maxInFlight,
    ack: options.mode === 'ws' ? undefined : acks.toJSON(),
  });
});
