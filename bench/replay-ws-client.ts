/** The replay baseline's client: a raw `ws` client that `JSON.parse`s each array and counts its events. */
import { WebSocket } from 'ws';
import { cpuMs } from './lib/cpu.js';
import { config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';

run(async () => {
  const { url, count } = config<{ url: string; count: number }>();
  const rss = new RssSampler();
  let received = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const events = JSON.parse(data.toString()) as { seq: number }[];
      received += events.length;
      if (received >= count) resolve();
    });
  });
  const ms = performance.now() - started;
  const clientCpuMs = cpuMs(cpu);
  ws.terminate();
  await report({ type: 'result', events: received, ms, cpuMs: clientCpuMs, rssMaxMB: rss.maxMB });
});
