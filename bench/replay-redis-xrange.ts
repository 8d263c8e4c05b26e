/**
 * A raw Redis Streams reader on the RedisStore's own stream: XRANGE in pages
 * of 1,000 with ioredis, parsing each entry's event JSON.
 */
import { Redis } from 'ioredis';
import { config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';

const PAGE = 1000;

run(async () => {
  const { redisUrl, key, count } = config<{ redisUrl: string; key: string; count: number }>();
  const rss = new RssSampler();
  let received = 0;
  const started = performance.now();
  const redis = new Redis(redisUrl);
  let start = '-';
  while (received < count) {
    const page = await redis.xrange(key, start, '+', 'COUNT', PAGE);
    if (page.length === 0) break;
    for (const [, fields] of page) {
      // The entry is `<seq>:<batch end>:<name length>:<name><event JSON>`.
      const entry = fields[1]!;
      JSON.parse(entry.slice(entry.indexOf('{')));
      received++;
    }
    start = `(${page[page.length - 1]![0]}`;
  }
  const ms = performance.now() - started;
  redis.disconnect();
  await report({ type: 'result', events: received, ms, rssMaxMB: rss.maxMB });
});
