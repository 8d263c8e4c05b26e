/**
 * The replay baseline's server: a raw `ws` server that streams `count` events
 * as pre-built JSON arrays of 100 from memory to each client that connects,
 * pausing while more than 1 MB is unsent (the wsjournal server's default
 * high-water mark).
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { wireBatches } from './lib/events.js';
import { cpuMs } from './lib/cpu.js';
import { command, config, report, run } from './lib/ipc.js';

const HIGH_WATER_MARK = 1024 * 1024;

async function stream(ws: WebSocket, batches: readonly string[]): Promise<void> {
  for (const batch of batches) {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > HIGH_WATER_MARK) await new Promise<unknown>((resolve) => ws.send(batch, resolve));
    else ws.send(batch);
  }
}

run(async () => {
  const { count } = config<{ count: number }>();
  const batches = wireBatches(count, 100);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => void stream(ws, batches));
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await report({ type: 'listening', url: `ws://127.0.0.1:${port}` });
  const cpu = process.cpuUsage();
  await command('close');
  await report({ type: 'closed', cpuMs: cpuMs(cpu) });
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});
