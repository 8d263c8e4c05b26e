/**
 * The schema registry's requests on a connection (`register`, `schemas`), for
 * `JournalProducer#registerSchema` and `#listSchemas`. Both are idempotent, so a request
 * not answered when the socket drops is sent again once it is back; one not answered within
 * the producer's `appendTimeout` rejects with `TIMEOUT`.
 */
import type { Channel, JournalConnection } from './connection.js';
import { ConnectionError, ErrorCode, JournalError } from './errors.js';
import type { SchemaRef, RequestFrame } from './protocol.js';
import { isPlainObject } from './validate.js';

/** What registering a schema did: its `$id` and `version`, and whether it was new (`created`). */
export interface SchemaRegistration {
  id: string;
  version: number;
  created: boolean;
}

/** A page of registered schemas; `next` is where the following page starts, `undefined` after the last. */
export interface SchemaList {
  schemas: Record<string, unknown>[];
  next: SchemaRef | undefined;
}

interface Request {
  /** The frame after its id: `,"type":…}`. */
  readonly body: string;
  readonly resolve: (frame: RequestFrame) => void;
  readonly reject: (error: Error) => void;
  id: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class SchemaRequests implements Channel {
  readonly #connection: JournalConnection;
  readonly #pending = new Set<Request>();
  readonly #byId = new Map<number, Request>();
  #joined = false;
  #closed = false;

  readonly #timeoutMs: number;

  /** `timeout`: seconds a request waits for its answer, across reconnects. */
  constructor(connection: JournalConnection, timeout: number) {
    this.#connection = connection;
    this.#timeoutMs = timeout * 1000;
  }

  async register(schema: object): Promise<SchemaRegistration> {
    if (!isPlainObject(schema)) throw new TypeError('schema must be a plain object (a JSON Schema)');
    let body: string;
    try {
      body = `,"type":"register","schema":${JSON.stringify(schema)}}`;
    } catch (cause) {
      throw new JournalError(ErrorCode.INVALID_SCHEMA, 'the schema cannot be encoded as JSON', { cause });
    }
    const frame = await this.#request(body);
    if (frame.type !== 'registered') throw unexpected(frame);
    return { id: frame.schema.id, version: frame.schema.version, created: frame.created };
  }

  async list(after: SchemaRef | undefined, limit: number | undefined): Promise<SchemaList> {
    const body = `,"type":"schemas"${after === undefined ? '' : `,"after":${JSON.stringify({ id: after.id, version: after.version })}`}${
      limit === undefined ? '' : `,"limit":${limit}`
    }}`;
    const frame = await this.#request(body);
    if (frame.type !== 'schemas') throw unexpected(frame);
    return { schemas: frame.schemas, next: frame.next };
  }

  /** Rejects what is unanswered with `error`, and leaves the connection. Idempotent. */
  close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectAll(error);
    if (this.#joined) this.#connection.leave(this);
  }

  /** @internal */
  onOpen(): void {
    for (const request of this.#pending) this.#send(request);
  }

  /** @internal */
  onDisconnect(error: ConnectionError, final: boolean): void {
    for (const request of this.#pending) request.id = undefined;
    this.#byId.clear();
    if (final) this.#rejectAll(error);
  }

  /** @internal */
  onFrame(frame: RequestFrame): void {
    const request = this.#byId.get(frame.id!);
    if (request === undefined) return;
    this.#byId.delete(frame.id!);
    this.#connection.release(frame.id!);
    this.#pending.delete(request);
    clearTimeout(request.timer);
    if (frame.type === 'error') request.reject(new JournalError(frame.code, frame.message, { details: frame.details }));
    else request.resolve(frame);
  }

  #request(body: string): Promise<RequestFrame> {
    if (this.#closed) return Promise.reject(new JournalError(ErrorCode.CLOSED, 'the producer is closed'));
    if (this.#connection.isClosed) return Promise.reject(new ConnectionError('the connection is closed', { code: ErrorCode.CLOSED }));
    return new Promise((resolve, reject) => {
      const request: Request = { body, resolve, reject, id: undefined, timer: undefined };
      request.timer = setTimeout(() => this.#expire(request), this.#timeoutMs);
      // A request in flight keeps the process alive through its socket, not through this timer.
      (request.timer as { unref?: () => void }).unref?.();
      this.#pending.add(request);
      if (!this.#joined) {
        this.#joined = true;
        // Joining calls onOpen at once when the socket is open, else once it opens.
        this.#connection.join(this);
      } else {
        this.#send(request);
      }
    });
  }

  #send(request: Request): void {
    if (!this.#connection.isOpen) return;
    if (request.id !== undefined) {
      this.#byId.delete(request.id);
      this.#connection.release(request.id);
    }
    request.id = this.#connection.allocate(this);
    this.#byId.set(request.id, request);
    this.#connection.sendText(`{"id":${request.id}${request.body}`);
  }

  /** The request's time is up: it is forgotten (an answer that comes later is dropped) and rejected. */
  #expire(request: Request): void {
    if (!this.#pending.delete(request)) return;
    if (request.id !== undefined) {
      this.#byId.delete(request.id);
      this.#connection.release(request.id);
    }
    request.reject(new JournalError(ErrorCode.TIMEOUT, `the server did not answer the schema request within ${this.#timeoutMs / 1000} s`));
  }

  #rejectAll(error: Error): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const request of pending) {
      clearTimeout(request.timer);
      if (request.id !== undefined) this.#connection.release(request.id);
      request.reject(error);
    }
    this.#byId.clear();
  }
}

function unexpected(frame: RequestFrame): JournalError {
  return new JournalError(ErrorCode.BAD_FRAME, `unexpected ${frame.type} frame for a schema request`);
}
