/**
 * The external systems some baselines need: NATS with JetStream and Redis.
 * Each check says why a system is unusable, so its lines are skipped with a
 * printed reason instead of failing the run.
 */
import { connect as tcpConnect } from 'node:net';

export const NATS_URL = process.env['BENCH_NATS_URL'] ?? '127.0.0.1:4222';
export const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Resolves undefined when a TCP connection to host:port opens, else the reason it did not. */
export function tcpReason(host: string, port: number, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer from ${host}:${port} within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve(`${host}:${port} unreachable: ${error.message}`);
    });
  });
}

/** Why NATS JetStream cannot be used, or undefined if it can. */
export async function natsReason(): Promise<string | undefined> {
  const [host = '127.0.0.1', port = '4222'] = NATS_URL.split(':');
  const reason = await tcpReason(host, Number(port));
  if (reason !== undefined) return `NATS ${reason}`;
  try {
    const { connect } = await import('nats');
    const nc = await connect({ servers: NATS_URL, timeout: 2000 });
    try {
      const jsm = await nc.jetstreamManager({ timeout: 2000 });
      await jsm.getAccountInfo();
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (error) {
    return `NATS JetStream unavailable: ${(error as Error).message}`;
  }
}

/** Why Redis cannot be used, or undefined if it can. */
export async function redisReason(): Promise<string | undefined> {
  const url = new URL(REDIS_URL);
  const reason = await tcpReason(url.hostname, Number(url.port || 6379));
  return reason === undefined ? undefined : `Redis ${reason}`;
}
