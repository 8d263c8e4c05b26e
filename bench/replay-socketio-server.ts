/**
 * Socket.IO on the replay: the server emits `count` events as arrays of 100
 * event objects (parsed once from the same wire JSON, so Socket.IO does its
 * own encoding), pausing while the engine's write buffer is backed up.
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { wireBatches } from './lib/events.js';
import { command, config, report, run } from './lib/ipc.js';

/** Packets queued in the engine before the server waits for it to drain. */
const MAX_QUEUED = 16;

async function stream(socket: Socket, batches: readonly unknown[]): Promise<void> {
  // The engine's queue of packets not yet handed to the socket (private in its types).
  const engine = socket.conn as unknown as { writeBuffer: unknown[]; once(event: 'drain', listener: () => void): void };
  for (const batch of batches) {
    if (socket.disconnected) return;
    socket.emit('events', batch);
    if (engine.writeBuffer.length > MAX_QUEUED) await new Promise<void>((resolve) => engine.once('drain', resolve));
  }
}

run(async () => {
  const { count } = config<{ count: number }>();
  const batches = wireBatches(count, 100).map((json) => JSON.parse(json) as unknown);
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, maxHttpBufferSize: 1e8 });
  io.on('connection', (socket) => void stream(socket, batches));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await report({ type: 'listening', url: `http://127.0.0.1:${port}` });
  await command('close');
  io.disconnectSockets(true);
  await new Promise((resolve) => io.close(resolve));
});
