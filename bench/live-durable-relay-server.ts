/**
 * The live scenario's durability floor: the raw `ws` relay plus the least a
 * server must do to acknowledge appends durably, with no store, journal or
 * protocol of ours. Each frame a client of `/pub` sends is parsed (a server
 * must look at what it stores), forwarded as is to every client of `/sub`,
 * and written to a log file: the frames of one turn in one `write(2)`, then
 * one `fdatasync` for every frame written while none ran (group commit, on
 * libuv's threadpool), then one ack frame per frame, a round's acks in one
 * socket write. The log is zero-filled up front, as wsjournal's segments are,
 * so an fdatasync flushes data only.
 *
 * What wsjournal adds over this (validation, sequence numbers and times, its
 * frames, LMDB, the client libraries) is the part of its latency that is its
 * own; the rest is what durable acknowledgements cost on the machine.
 */
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { config, run } from './lib/ipc.js';
import { relay, type Publisher } from './lib/relay.js';

export interface DurableRelayConfig {
  /** A directory for the log file. */
  path: string;
}

/** Bytes zero-filled up front: more than a round writes. */
const LOG_BYTES = 64 * 1024 * 1024;

const NEWLINE = Buffer.from('\n');

run(async () => {
  const { path } = config<DurableRelayConfig>();
  const fd = openSync(join(path, 'log'), 'w');
  const zeros = Buffer.alloc(LOG_BYTES);
  writeSync(fd, zeros, 0, zeros.length, 0);
  await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));

  let position = 0;
  /** Frames received this turn, written together once the turn's messages are handled. */
  let staged: Buffer[] = [];
  /** The publisher of each frame written and not yet fdatasync'd, in order. */
  let unsynced: Publisher[] = [];
  let syncing = false;
  let failed: Error | undefined;

  const sync = (): void => {
    if (syncing || unsynced.length === 0 || failed) return;
    syncing = true;
    const round = unsynced;
    unsynced = [];
    fdatasync(fd, (error) => {
      syncing = false;
      if (error) {
        failed = error;
        return;
      }
      // A round's acks to one publisher leave in one socket write.
      const publishers = new Set(round);
      for (const { socket } of publishers) socket.cork();
      for (const { ws } of round) ws.send('{"type":"ack"}');
      for (const { socket } of publishers) socket.uncork();
      sync();
    });
  };
  const write = (): void => {
    const buffer = Buffer.concat(staged);
    staged = [];
    position += writeSync(fd, buffer, 0, buffer.length, position);
    sync();
  };

  await relay((data, publisher) => {
    JSON.parse(data.toString());
    if (staged.push(data, NEWLINE) === 2) queueMicrotask(write);
    unsynced.push(publisher);
  });
  closeSync(fd);
  if (failed) throw failed;
});
