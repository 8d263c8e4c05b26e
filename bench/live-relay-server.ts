/**
 * The live baseline: a raw `ws` relay with no store. Each frame a client of
 * `/pub` sends goes, as is, to every client of `/sub`.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { command, report, run } from './lib/ipc.js';

run(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const subscribers = new Set<WebSocket>();
  wss.on('connection', (ws, request) => {
    if (request.url === '/sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else {
      ws.on('message', (data, isBinary) => {
        for (const subscriber of subscribers) subscriber.send(data, { binary: isBinary });
      });
    }
  });
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await report({ type: 'listening', url: `ws://127.0.0.1:${port}` });
  await command('close');
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});
