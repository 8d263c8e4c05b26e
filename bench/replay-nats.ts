/** A NATS JetStream ordered consumer replaying `count` events, parsing each message's JSON. */
import { config, report, run } from './lib/ipc.js';
import { natsConnect, type NatsStream } from './lib/nats.js';
import { RssSampler } from './lib/rss.js';

run(async () => {
  const { stream, count } = config<{ stream: NatsStream; count: number }>();
  const rss = new RssSampler();
  let received = 0;
  const started = performance.now();
  const nc = await natsConnect();
  const consumer = await nc.jetstream().consumers.get(stream.name);
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const message of messages) {
    message.json<{ seq: number }>();
    if (++received >= count) break;
  }
  const ms = performance.now() - started;
  await nc.close();
  await report({ type: 'result', events: received, ms, rssMaxMB: rss.maxMB });
});
