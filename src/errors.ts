/**
 * Stable error codes. Every error wsjournal raises or sends carries one of
 * these in `code`; match on the code, never on the message.
 */
export const ErrorCode = {
  /** A frame that is not JSON, not text, or not a valid frame. */
  BAD_FRAME: 'BAD_FRAME',
  /** A frame whose `type` is not one the peer knows. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** A journal name that does not match `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`. */
  INVALID_JOURNAL: 'INVALID_JOURNAL',
  /** An event with an empty name, a context that is not a plain object, or that cannot be encoded. */
  INVALID_EVENT: 'INVALID_EVENT',
  /** A subscription payload the journal does not understand. */
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  /** A request id already in use on this connection. */
  DUPLICATE_ID: 'DUPLICATE_ID',
  /** More events in one append than the server allows. */
  TOO_MANY_EVENTS: 'TOO_MANY_EVENTS',
  /** One event larger than the server allows. */
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  /** More open subscriptions on one connection than the server allows. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /** The subscription fell too far behind the live stream; the client catches up from the store. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /**
   * The store failed or is unreachable. The batch was not stored, except on a
   * shared store whose connection broke during the call, where it may be
   * stored whole; the producer's resend with the same key settles which.
   */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** The server is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The connection to the server closed or could not be opened. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** The server refused the handshake: no token or a wrong one. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** `poll(timeout)` waited longer than `timeout`. */
  TIMEOUT: 'TIMEOUT',
  /** `poll()` called before `start()`. */
  NOT_STARTED: 'NOT_STARTED',
  /** The producer or connection was closed before the request completed. */
  CLOSED: 'CLOSED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The base of every error wsjournal raises. `code` is stable; see {@link ErrorCode}. */
export class JournalError extends Error {
  override name = 'JournalError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** `poll(timeout)` found no event within `timeout` seconds. */
export class TimeoutError extends JournalError {
  override name = 'TimeoutError';

  constructor(message = 'poll timed out', options?: { cause?: unknown }) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** `poll()` was called before `start()`. */
export class NotStartedError extends JournalError {
  override name = 'NotStartedError';

  constructor(message = 'the consumer has not been started', options?: { cause?: unknown }) {
    super(ErrorCode.NOT_STARTED, message, options);
  }
}

/** The connection to the server is closed, was refused, or could not be opened. */
export class ConnectionError extends JournalError {
  override name = 'ConnectionError';

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? ErrorCode.CONNECTION_CLOSED, message, options);
  }
}
