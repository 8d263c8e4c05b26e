/** What the two ways of sending a logger's events (memory, spool) share. */
import type { Channel, JournalConnection } from '../connection.js';
import { backoffDelay } from '../backoff.js';
import { ErrorCode, JournalError } from '../errors.js';
import type { JournalProducer } from '../journal-producer.js';

/** Takes a logger's encoded events and sends them to the journal. Never throws. */
export interface Sender {
  /** Takes one event, `{"name":"log","context":{…}}` as JSON text. */
  push(event: string): void;
  /** Resolves once every event pushed before is settled (see JournalLogger.flush). */
  flush(): Promise<void>;
  /** Waits for the events still unsent, at most `timeout` seconds, then stops. */
  close(timeout: number): Promise<void>;
  /** Events dropped so far: past the bounds, refused by the server, or never sent. */
  readonly dropped: number;
}

/** What a sender needs from its logger. */
export interface SenderContext {
  readonly producer: JournalProducer;
  readonly connection: JournalConnection;
  /** The most events (memory) kept unacknowledged. */
  readonly maxBuffered: number;
  /** The warning event saying `count` events were dropped. */
  readonly droppedWarning: (count: number) => string;
  /** Reports a failure the application may want to hear of (the logger's 'error' event). */
  readonly report: (error: JournalError) => void;
}

/**
 * Codes of a refusal that a later resend may not meet: the store or the server was unavailable
 * for a while, or did not answer within the producer's `appendTimeout`.
 */
const TRANSIENT = new Set<string>([
  ErrorCode.STORE_UNAVAILABLE,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.TIMEOUT,
  ErrorCode.OVERLOADED,
  ErrorCode.APPEND_TIMEOUT,
]);

/** What to do with an append that failed: send it again later, give up on everything (the connection is closed for good), or drop it. */
export function classify(error: unknown, connection: JournalConnection): 'retry' | 'final' | 'refused' {
  if (connection.isClosed) return 'final';
  const code = error instanceof JournalError ? error.code : undefined;
  if (code !== undefined && TRANSIENT.has(code)) return 'retry';
  if (code === ErrorCode.CLOSED || code === ErrorCode.UNAUTHORIZED || code === ErrorCode.FORBIDDEN) return 'final';
  return 'refused';
}

/** `error` as a JournalError for the logger's 'error' event. */
export function asJournalError(error: unknown, what: string): JournalError {
  if (error instanceof JournalError) return error;
  return new JournalError(ErrorCode.CONNECTION_CLOSED, `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** Seconds before the `attempt`-th resend after a transient refusal: 0.25 doubling to 5, with jitter. */
export function retryDelay(attempt: number): number {
  return backoffDelay(attempt, 0.25, 5);
}

/** Resolves flush() callers once the events pushed before them are settled. */
export class FlushWaiters {
  #waiters: { target: number; remaining: number; resolve: () => void }[] = [];

  /** A promise for the `outstanding` events with serials up to `target`. */
  wait(target: number, outstanding: number): Promise<void> {
    if (outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ target, remaining: outstanding, resolve }));
  }

  /** The event `serial` settled (stored, dropped or refused). */
  settled(serial: number, count = 1): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (serial > waiter.target) return true;
      waiter.remaining -= count;
      if (waiter.remaining > 0) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves every waiter now. */
  releaseAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }
}

/**
 * Joins `connection` (opening it now, not at the first event) with a channel that owns no
 * request: it only hears when the socket opens, so that a sender hands events over only
 * while the server is there, and when it closes for good.
 */
export function watchConnection(connection: JournalConnection, onOpen: () => void, onFinal: (error: JournalError) => void): Channel {
  const channel: Channel = {
    onFrame: () => {},
    onOpen,
    onDisconnect: (error, final) => {
      if (final) onFinal(error);
    },
  };
  connection.join(channel);
  return channel;
}
