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
  /** A selector (`where`) that is not valid JSON, uses an operator outside the contract's, or is too large. */
  INVALID_SELECTOR: 'INVALID_SELECTOR',
  /** An HTTP query parameter that is unknown, malformed or out of range. */
  INVALID_QUERY: 'INVALID_QUERY',
  /** A report's `tz` that is not an IANA time zone the server knows. */
  INVALID_TIME_ZONE: 'INVALID_TIME_ZONE',
  /** A report's `period` other than `hour`, `day`, `week` or `month`. */
  INVALID_PERIOD: 'INVALID_PERIOD',
  /** A report's `from` or `to` that is neither seconds since the epoch nor an ISO 8601 date or time, or a `from` not before `to`. */
  INVALID_RANGE: 'INVALID_RANGE',
  /** A report with more rows or groups than the server answers in one request, or that took longer than its time budget. */
  REPORT_TOO_LARGE: 'REPORT_TOO_LARGE',
  /** An HTTP request that cannot be read: a body that is not JSON, a bad header. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No such HTTP route, or no event with that seq. */
  NOT_FOUND: 'NOT_FOUND',
  /** An HTTP request body larger than the server takes (`maxFrameSize`). */
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  /** An HTTP request body that is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /**
   * The request comes from an Origin the server does not allow, or asks for what the token's
   * scopes do not cover (reading, appending to or administering a journal); retrying cannot help.
   */
  FORBIDDEN: 'FORBIDDEN',
  /** The server is at a connection or request limit; retry later, with backoff. */
  OVERLOADED: 'OVERLOADED',
  /** This client address (or token) holds as many connections as the server allows one client (HTTP 429); close some, or retry later. */
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  /** The server failed to answer an HTTP request (a bug); its log says why. */
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  /** A request id already in use on this connection. */
  DUPLICATE_ID: 'DUPLICATE_ID',
  /** More events in one append than the server allows. */
  TOO_MANY_EVENTS: 'TOO_MANY_EVENTS',
  /** One event larger than the server allows (its `maxEventSize`, told in its `hello`). */
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  /**
   * An append whose frame is larger than the server takes (its `maxFrameSize`): refused by the
   * client before sending when the server's `hello` told the limit, else the server closed the
   * connection with 1009. Nothing of it was stored, and it is never resent.
   */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /**
   * A producer's append was not acknowledged within `appendTimeout` (the server was unreachable,
   * or did not answer); `cause` is the last connection error. It may or may not have been stored:
   * a resend with the same batch key is stored once.
   */
  APPEND_TIMEOUT: 'APPEND_TIMEOUT',
  /** The server answered with a frame that breaks the protocol (an ack whose `seqs` do not match the events sent). */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
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
  /** A schema with this `$id` and `version` is registered already, with another body. */
  SCHEMA_CONFLICT: 'SCHEMA_CONFLICT',
  /** A schema that breaks the metaschema, or that the validator refuses or cannot compile within its limits. */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** An event names a schema (`$id` and `version`) that is not registered. */
  UNKNOWN_SCHEMA: 'UNKNOWN_SCHEMA',
  /** An event's context does not match its schema; `details` says where and why. */
  SCHEMA_VIOLATION: 'SCHEMA_VIOLATION',
  /** The journal's policy requires every event to name a schema, and one did not. */
  SCHEMA_REQUIRED: 'SCHEMA_REQUIRED',
  /** The journal's policy allows only some schemas, and an event named another. */
  SCHEMA_NOT_ALLOWED: 'SCHEMA_NOT_ALLOWED',
  /**
   * An append with `preserve` (as `wsjournal import --preserve` sends) whose seqs or
   * timestamps do not continue the journal: each must be above the journal's head and
   * above the event before it. Nothing of the batch is stored.
   */
  OUT_OF_ORDER: 'OUT_OF_ORDER',
  /** `run.append()`, `run.attach()` after the run was stopped. */
  RUN_STOPPED: 'RUN_STOPPED',
  /** An unknown handler name, or a handler configuration the handler cannot use. */
  INVALID_HANDLER: 'INVALID_HANDLER',
  /** A handler failed to take an event for now (a network error, a timeout, HTTP 5xx, 408 or 429); the forwarder retries. */
  HANDLER_FAILED: 'HANDLER_FAILED',
  /** A handler refused an event for good (a webhook's HTTP 4xx other than 408 and 429); retrying cannot help. */
  EVENT_REFUSED: 'EVENT_REFUSED',
  /** A forwarder's checkpoint file that cannot be read, or that belongs to another journal. */
  INVALID_CHECKPOINT: 'INVALID_CHECKPOINT',
  /** A JournalLogger's spool directory is held by another logger (in this process or another). */
  SPOOL_LOCKED: 'SPOOL_LOCKED',
  /** A JournalLogger's spool directory cannot be opened, read or written. */
  SPOOL_ERROR: 'SPOOL_ERROR',
  /** The store cannot make a backup of itself (RedisStore, MemoryStore): use the store's own means (Redis's persistence and replicas). */
  BACKUP_UNSUPPORTED: 'BACKUP_UNSUPPORTED',
  /** A backup's target directory exists and is not empty, or a backup is running already. */
  BACKUP_REFUSED: 'BACKUP_REFUSED',
  /** Writing a backup failed (a full disk, a directory that cannot be created). */
  BACKUP_FAILED: 'BACKUP_FAILED',
  /** Writing an archive file failed (a full disk, a directory that cannot be created; the events stay in the store), or reading one did (a damaged file). */
  ARCHIVE_FAILED: 'ARCHIVE_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * One reason a request was refused: the event's position in its append (`index`) and a JSON
 * pointer into its context (`path`, `""` for the context itself), as `SCHEMA_VIOLATION` gives them.
 */
export interface ErrorDetail {
  readonly index?: number | undefined;
  readonly path: string;
  readonly message: string;
}

/** The base of every error wsjournal raises. `code` is stable; see {@link ErrorCode}. */
export class JournalError extends Error {
  override name = 'JournalError';
  readonly code: string;
  /** Where and why, for refusals that say so (`SCHEMA_VIOLATION`, `UNKNOWN_SCHEMA`, …); otherwise `undefined`. */
  readonly details: readonly ErrorDetail[] | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: readonly ErrorDetail[] | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
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
