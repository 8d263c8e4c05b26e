/** The NATS JetStream streams the bench creates, one per scenario and run, deleted after it. */
import { connect, StorageType, type NatsConnection } from 'nats';
import { NATS_URL } from './services.js';

export interface NatsStream {
  name: string;
  subject: string;
}

/** A stream name and subject unique to this run and `purpose`. */
export function natsStream(purpose: string): NatsStream {
  const tag = `${purpose}_${process.pid}_${Date.now().toString(36)}`;
  return { name: `WSJBENCH_${tag}`.toUpperCase(), subject: `wsjbench.${tag}` };
}

export function natsConnect(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL });
}

/** Creates the stream on file storage (JetStream's durable mode, like the embedded store). */
export async function createStream(stream: NatsStream): Promise<void> {
  const nc = await natsConnect();
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream.name, subjects: [stream.subject], storage: StorageType.File });
  } finally {
    await nc.close();
  }
}

export async function deleteStream(stream: NatsStream): Promise<void> {
  const nc = await natsConnect();
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream.name).catch(() => false);
  } finally {
    await nc.close();
  }
}
