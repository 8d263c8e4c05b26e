/**
 * The raw `ws` relay of the live baselines: each frame a client of `/pub`
 * sends goes, as is, to every client of `/sub`. Reports `listening` with its
 * URL, runs until the orchestrator's `close`, then drops every client.
 */
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { command, report } from './ipc.js';

/** A client of `/pub` and its TCP socket. */
export interface Publisher {
  ws: WebSocket;
  socket: Socket;
}

/** Runs the relay; `onFrame`, if given, sees each published frame before it is forwarded. */
export async function relay(onFrame?: (data: Buffer, publisher: Publisher) => void): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const subscribers = new Set<WebSocket>();
  wss.on('connection', (ws, request) => {
    if (request.url === '/sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
      return;
    }
    const publisher: Publisher = { ws, socket: request.socket as Socket };
    ws.on('message', (data: Buffer, isBinary) => {
      onFrame?.(data, publisher);
      for (const subscriber of subscribers) subscriber.send(data, { binary: isBinary });
    });
  });
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await report({ type: 'listening', url: `ws://127.0.0.1:${port}` });
  await command('close');
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
}
