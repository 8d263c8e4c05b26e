/** Socket.IO on the replay: a socket.io-client counting the events of each `events` array. */
import { io } from 'socket.io-client';
import { config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';

run(async () => {
  const { url, count } = config<{ url: string; count: number }>();
  const rss = new RssSampler();
  let received = 0;
  const started = performance.now();
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.on('connect_error', reject);
    socket.on('events', (events: unknown[]) => {
      received += events.length;
      if (received >= count) resolve();
    });
  });
  const ms = performance.now() - started;
  socket.disconnect();
  await report({ type: 'result', events: received, ms, rssMaxMB: rss.maxMB });
});
