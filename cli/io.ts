/**
 * What the client subcommands share: a connection that fails fast when the
 * server cannot be reached at all, line output that respects backpressure and
 * a closed pipe, and shutdown on SIGINT/SIGTERM.
 */
import { JournalConnection } from '../src/connection.js';
import { ConnectionError, ErrorCode, JournalError } from '../src/errors.js';
import { checkArgument, UsageError } from './args.js';
import { oneLine } from './one-line.js';

/** Where the client commands connect unless told otherwise: `serve`'s default address. */
export const DEFAULT_URL = 'ws://127.0.0.1:7707';

export interface CliConnectionOptions {
  token?: string | undefined;
  /** Reconnect with backoff after the first connection drops; never when the first attempt fails. */
  reconnect: boolean;
  /** Give up after this many failed reconnect attempts in a row. @default Infinity */
  maxReconnectAttempts?: number;
}

/**
 * A {@link JournalConnection} for a command: if the very first attempt to
 * connect fails (with several URLs: the first attempt at each), it is closed
 * at once (no retry), and {@link describe} says
 * the server could not be reached. Once it has been open, it reconnects as
 * told.
 */
export class CliConnection {
  /** The address (or addresses, comma-separated) as the messages name it. */
  readonly url: string;
  readonly connection: JournalConnection;
  #opened = false;
  /** Why the first attempt failed, if it did: the error its members saw is the later CLOSED. */
  #firstFailure: ConnectionError | undefined;

  constructor(url: string | string[], options: CliConnectionOptions) {
    this.url = Array.isArray(url) ? url.join(', ') : url;
    this.connection = checkArgument(
      () =>
        new JournalConnection(url, {
          reconnect: options.reconnect,
          ...(options.token === undefined ? {} : { token: options.token }),
          ...(options.maxReconnectAttempts === undefined ? {} : { maxReconnectAttempts: options.maxReconnectAttempts }),
        }),
      '--url',
    );
    this.connection.on('open', () => {
      this.#opened = true;
    });
    // With several URLs the connection tries the next on each failure: give up once each has failed once.
    const attempts = Array.isArray(url) ? url.length : 1;
    let failures = 0;
    this.connection.on('disconnect', (error) => {
      if (this.#opened || this.#firstFailure !== undefined) return;
      if (++failures < attempts) return;
      this.#firstFailure = error;
      // Not from inside the connection's own 'disconnect' dispatch, which schedules the retry after it.
      setImmediate(() => void this.connection.close());
    });
  }

  /** True once the socket has been open at least once. */
  get opened(): boolean {
    return this.#opened;
  }

  /** One line saying why a request failed, for stderr. */
  describe(error: unknown): string {
    return oneLine(this.#describe(error));
  }

  #describe(error: unknown): string {
    const cause = this.#firstFailure ?? error;
    if (cause instanceof JournalError && cause.code === ErrorCode.UNAUTHORIZED) {
      return `unauthorized: ${this.url} refused the connection (${cause.message}); check --token`;
    }
    if (cause instanceof JournalError && cause.code === ErrorCode.FORBIDDEN && !this.#opened) {
      return `forbidden: ${this.url} refused the connection (${cause.message}); the server's --origin list does not allow this client`;
    }
    if (cause instanceof ConnectionError && !this.#opened) {
      return `cannot connect to ${this.url} (${cause.message}); is a wsjournal server running there?`;
    }
    if (cause instanceof JournalError) return `${cause.code}: ${cause.message}`;
    return cause instanceof Error ? cause.message : String(cause);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** The --token value, else $WSJOURNAL_TOKEN (which keeps the token out of `ps`), else none. */
export function tokenOption(value: string | undefined): string | undefined {
  if (value !== undefined) {
    if (value === '') throw new UsageError('--token must not be empty');
    return value;
  }
  const fromEnv = process.env['WSJOURNAL_TOKEN'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/**
 * Writes lines to a stream, one `await` per line: when the stream's buffer is
 * full, the promise waits for 'drain'. A closed pipe (EPIPE, as when piped
 * into `head`) or any other write error marks the writer broken, calls
 * `onBroken` once, and later writes are dropped.
 */
export class LineWriter {
  readonly #stream: NodeJS.WritableStream;
  readonly #onBroken: (error: Error) => void;
  #broken = false;
  #wake: (() => void) | undefined;

  constructor(stream: NodeJS.WritableStream, onBroken: (error: Error) => void) {
    this.#stream = stream;
    this.#onBroken = onBroken;
    stream.on('error', this.#onError);
    stream.on('drain', this.#onDrain);
  }

  get broken(): boolean {
    return this.#broken;
  }

  async write(line: string): Promise<void> {
    if (this.#broken) return;
    if (this.#stream.write(`${line}\n`)) return;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Detaches from the stream. */
  dispose(): void {
    this.#stream.off('drain', this.#onDrain);
    // The error listener stays: a late EPIPE must not become an uncaught exception.
  }

  readonly #onDrain = (): void => {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  };

  readonly #onError = (error: Error): void => {
    const first = !this.#broken;
    this.#broken = true;
    this.#onDrain();
    if (first) this.#onBroken(error);
  };
}

/**
 * Calls `onFirst` on the first SIGINT or SIGTERM; a second signal exits at
 * once with 128 + the signal number. Returns a function that removes the
 * handlers.
 */
export function onShutdownSignal(onFirst: (signal: NodeJS.Signals) => void): () => void {
  let received = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (received) process.exit(signal === 'SIGINT' ? 130 : 143);
    received = true;
    onFirst(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
