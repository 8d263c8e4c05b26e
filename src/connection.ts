/**
 * One WebSocket shared by many consumers and producers. Frames are routed to
 * their owner by request id (Flux's matchtag). When the socket drops, the
 * connection reconnects with capped, jittered exponential backoff (src/backoff.ts;
 * reset only once a socket has stayed open `healthyAfter` seconds) and tells every
 * owner, which resubscribes or resends. The server's `hello` tells its limits.
 */
import { EventEmitter } from 'eventemitter3';
import { Backoff, type BackoffPolicy } from './backoff.js';
import { ChurnMap } from './churn-map.js';
import { ConnectionError, ErrorCode, JournalError } from './errors.js';
import { decodeServerFrame, type ClientFrameInput, type RequestFrame, type ServerFrame, type ServerLimits } from './protocol.js';
import { checkBoolean, checkOptions, checkOptionalString, checkPositive, checkUrls } from './validate.js';

/** A WebSocket constructor: `ws` in Node, the global one in browsers. */
export type WebSocketLike = {
  new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }): WebSocketInstance;
};

/** The part of the WebSocket API the connection uses; `pause`/`resume`/`on` are used where present (ws). */
export interface WebSocketInstance {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
  pause?: () => void;
  resume?: () => void;
  ping?: () => void;
  terminate?: () => void;
  on?: (event: string, listener: (...args: any[]) => void) => unknown;
}

export interface JournalConnectionOptions {
  /** Bearer token, sent as `Authorization: Bearer …` (Node) or `?token=` (browsers). */
  token?: string;
  /** WebSocket constructor. @default the `ws` package in Node, `globalThis.WebSocket` elsewhere */
  WebSocket?: WebSocketLike;
  /** Reconnect when the socket drops. @default true */
  reconnect?: boolean;
  /**
   * First reconnect delay, seconds; doubles each failure in a row, with jitter. Consumers
   * on the connection wait the same way before resubscribing after the server ended their
   * subscription. @default 0.1
   */
  reconnectDelay?: number;
  /** Longest reconnect (and resubscribe) delay, seconds. @default 5 */
  maxReconnectDelay?: number;
  /**
   * Seconds a socket must stay open (a subscription stay accepted) before the backoff's count
   * of failures is reset: a server that accepts and at once closes meets longer and longer
   * delays, up to `maxReconnectDelay`. @default 5
   */
  healthyAfter?: number;
  /**
   * Give up after this many failed attempts in a row (the connection then closes with an
   * error); a socket that opened and dropped within `healthyAfter` counts as failed. @default Infinity
   */
  maxReconnectAttempts?: number;
  /**
   * Seconds without any frame or ping from the server after which the socket
   * is considered dead and dropped. Set it above the server's heartbeat
   * interval. Only where the WebSocket exposes pings (ws). While the socket
   * is paused (a consumer's `maxQueued`), the timer is off and the client
   * pings the server every `idleTimeout / 5` seconds instead, so neither side
   * takes a busy reader for a dead one. @default 75
   */
  idleTimeout?: number;
}

/** An owner of request ids on a connection: a consumer's subscription or a producer. */
export interface Channel {
  /** A frame for one of this channel's ids. */
  onFrame(frame: ServerFrame): void;
  /** The socket is open (first time or again): send or resend requests now. */
  onOpen(reconnected: boolean): void;
  /** The socket dropped. `final` when no reconnect will follow. */
  onDisconnect(error: ConnectionError, final: boolean): void;
  /**
   * The server closed the socket with 1009 (frame too large), and this channel's request `id`
   * sent the largest frame on it: refuse that request (it must not be resent). Called before
   * `onDisconnect`.
   */
  onFrameRefused?(id: number, error: JournalError): void;
}

interface ConnectionEvents {
  open: [];
  /** The server's `hello`: its limits, which appends are checked against before they are sent. */
  hello: [limits: ServerLimits];
  reconnect: [attempt: number];
  /** The socket dropped, or an attempt to open it failed; a reconnect follows. */
  disconnect: [error: ConnectionError];
  /**
   * An attempt to connect reached no server before any socket ever opened (`ECONNREFUSED`,
   * no route, a name that does not resolve, a handshake refused with 429/503: a reconnect
   * follows), reconnecting was given up (the connection is closed), or the server sent a
   * frame that is not valid.
   */
  error: [error: Error];
  close: [];
}

const OPEN = 1;
const KNOWN_OPTIONS = [
  'token',
  'WebSocket',
  'reconnect',
  'reconnectDelay',
  'maxReconnectDelay',
  'healthyAfter',
  'maxReconnectAttempts',
  'idleTimeout',
] as const;

type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/**
 * @example
 * const connection = new JournalConnection('ws://127.0.0.1:7707');
 * const consumer = new EventLogConsumer(connection, 'jobs').start();
 * const producer = new JournalProducer(connection, 'jobs');
 */
export class JournalConnection extends EventEmitter<ConnectionEvents> {
  /** Every server this connection may use, in the order it tries them. */
  readonly urls: readonly string[];
  #urlIndex = 0;
  readonly #options: Required<Omit<JournalConnectionOptions, 'token' | 'WebSocket'>> & {
    token: string | undefined;
    WebSocket: WebSocketLike | undefined;
  };
  readonly #channels = new ChurnMap<number, Channel>();
  readonly #members = new Set<Channel>();
  readonly #pausedBy = new Set<object>();
  #ws: WebSocketInstance | undefined;
  #state: State = 'idle';
  #nextId = 1;
  readonly #backoff: Backoff;
  #everOpened = false;
  /** True once the current socket opened: a drop before is a failed attempt to connect. */
  #socketOpened = false;
  #limits: ServerLimits | undefined;
  /** The longest frame sent on the current socket (UTF-16 units) and its request id: the one a 1009 close refused. */
  #largestLength = 0;
  #largestId: number | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** While paused: pings that tell the server's heartbeat this reader is alive. */
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param url The server, or several servers behind one journal store: on a
   * drop the connection moves on to the next one in turn.
   */
  constructor(url: string | readonly string[], options: JournalConnectionOptions = {}) {
    super();
    this.urls = checkUrls(url);
    checkOptions(options, KNOWN_OPTIONS);
    const merged = {
      reconnect: true,
      reconnectDelay: 0.1,
      maxReconnectDelay: 5,
      healthyAfter: 5,
      maxReconnectAttempts: Infinity,
      idleTimeout: 75,
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    } as Required<JournalConnectionOptions>;
    checkBoolean(merged.reconnect, 'options.reconnect');
    checkPositive(merged.reconnectDelay, 'options.reconnectDelay');
    checkPositive(merged.maxReconnectDelay, 'options.maxReconnectDelay');
    checkPositive(merged.healthyAfter, 'options.healthyAfter');
    if (merged.maxReconnectAttempts !== Infinity) {
      checkPositive(merged.maxReconnectAttempts, 'options.maxReconnectAttempts', { integer: true });
    }
    checkPositive(merged.idleTimeout, 'options.idleTimeout');
    if (merged.WebSocket !== undefined && typeof merged.WebSocket !== 'function') {
      throw new TypeError('options.WebSocket must be a WebSocket constructor');
    }
    this.#options = {
      ...merged,
      token: checkOptionalString(options.token, 'options.token'),
      WebSocket: merged.WebSocket,
    };
    this.#backoff = new Backoff({
      initialDelay: merged.reconnectDelay,
      maxDelay: Math.max(merged.reconnectDelay, merged.maxReconnectDelay),
      healthyAfter: merged.healthyAfter,
    });
  }

  /** The retry policy of this connection's reconnects, which its consumers' resubscriptions follow too. */
  get backoffPolicy(): BackoffPolicy {
    return this.#backoff.policy;
  }

  /** The limits the server told in its `hello` (the last one heard), or undefined when it sent none. */
  get limits(): ServerLimits | undefined {
    return this.#limits;
  }

  /** The server in use (or tried next). */
  get url(): string {
    return this.urls[this.#urlIndex]!;
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** True while the socket is down and a reconnect is scheduled. */
  get isReconnecting(): boolean {
    return this.#state === 'waiting';
  }

  /** True once `close()` was called or reconnecting gave up. */
  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Allocates a request id routed to `channel`. */
  allocate(channel: Channel): number {
    const id = this.#nextId++;
    this.#channels.set(id, channel);
    return id;
  }

  /** Frees a request id; later frames for it are dropped. */
  release(id: number): void {
    this.#channels.delete(id);
  }

  /**
   * Adds a channel to the connection and opens the socket if it is not open.
   * The channel's `onOpen` is called now if the socket is open, else once it opens.
   */
  join(channel: Channel): void {
    if (this.#state === 'closed') {
      channel.onDisconnect(new ConnectionError('the connection is closed', { code: ErrorCode.CLOSED }), true);
      return;
    }
    this.#members.add(channel);
    if (this.#state === 'open') channel.onOpen(false);
    else if (this.#state === 'idle') this.#connect();
  }

  /** Removes a channel; it hears nothing more. */
  leave(channel: Channel): void {
    this.#members.delete(channel);
    this.resume(channel);
  }

  /** Sends a frame if the socket is open; returns false (and sends nothing) otherwise. */
  send(frame: ClientFrameInput): boolean {
    return this.sendText(JSON.stringify(frame), frame.id);
  }

  /**
   * @internal Sends a frame already encoded as JSON text, for request `id`; false when the
   * socket is not open.
   */
  sendText(text: string, id?: number): boolean {
    if (this.#state !== 'open' || this.#ws === undefined) return false;
    if (text.length > this.#largestLength) {
      this.#largestLength = text.length;
      this.#largestId = id;
    }
    // Written at once, not corked for the rest of the turn: a frame that waits for the frames
    // sent after it arrives later (p99 at 10,000 appends/s: 2.0–2.6 ms against 2.7–3.3 ms
    // corked). While the socket is backed up, Node queues the frames and writes them together.
    this.#ws.send(text);
    return true;
  }

  /**
   * Stops reading from the socket while any holder has it paused, so the
   * server's send buffer fills and it applies backpressure. Only where the
   * WebSocket can pause (ws); elsewhere a no-op.
   */
  pause(holder: object): void {
    this.#pausedBy.add(holder);
    if (this.#pausedBy.size === 1 && this.#ws !== undefined && this.#state === 'open') this.#pauseSocket(this.#ws);
  }

  resume(holder: object): void {
    if (!this.#pausedBy.delete(holder) || this.#pausedBy.size > 0) return;
    this.#clearKeepalive();
    if (this.#ws === undefined) return;
    this.#ws.resume?.();
    if (this.#state === 'open') this.#touch();
  }

  /**
   * A paused socket reads nothing, pongs included: the idle timer stops (the server cannot
   * be heard) and the client pings instead, so the server's heartbeat sees it alive.
   */
  #pauseSocket(ws: WebSocketInstance): void {
    if (ws.pause === undefined) return;
    ws.pause();
    this.#clearIdleTimer();
    if (ws.ping === undefined || this.#keepalive !== undefined) return;
    this.#keepalive = setInterval(() => {
      if (this.#ws === ws && ws.readyState === OPEN) ws.ping!();
    }, (this.#options.idleTimeout * 1000) / 5);
  }

  /** Closes the socket for good; every channel is told. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const ws = this.#ws;
    this.#shutdown(new ConnectionError('the connection was closed', { code: ErrorCode.CLOSED }));
    if (ws && ws.readyState < 2) {
      await new Promise<void>((resolve) => {
        const cutoff = setTimeout(() => {
          ws.terminate?.();
          resolve();
        }, 1000);
        ws.addEventListener('close', () => {
          clearTimeout(cutoff);
          resolve();
        });
        ws.close(1000, 'client closing');
      });
    }
    this.emit('close');
  }

  #shutdown(error: ConnectionError): void {
    this.#state = 'closed';
    this.#clearReconnectTimer();
    this.#clearIdleTimer();
    this.#clearKeepalive();
    const members = [...this.#members];
    this.#members.clear();
    this.#channels.clear();
    for (const channel of members) channel.onDisconnect(error, true);
  }

  async #connect(): Promise<void> {
    this.#state = 'connecting';
    let ws: WebSocketInstance;
    try {
      const Ctor = this.#options.WebSocket ?? (await defaultWebSocket());
      if (this.#state !== 'connecting') return;
      const token = this.#options.token;
      if (token !== undefined && isNodeWs(Ctor)) {
        ws = new Ctor(this.url, undefined, { headers: { Authorization: `Bearer ${token}` } });
      } else if (token !== undefined) {
        const url = new URL(this.url);
        url.searchParams.set('token', token);
        ws = new Ctor(url.toString());
      } else {
        ws = new Ctor(this.url);
      }
    } catch (error) {
      this.#dropped(new ConnectionError(`cannot connect to ${this.url}: ${(error as Error).message}`, { cause: error }), undefined, true);
      return;
    }
    this.#ws = ws;
    // The idle timer also bounds the handshake: a server that never answers is dropped like a silent one.
    this.#touch();
    let refused: ConnectionError | undefined;
    ws.on?.('unexpected-response', (_req: unknown, res: { statusCode?: number; resume?: () => void }) => {
      const status = res.statusCode ?? 0;
      res.resume?.();
      const code =
        status === 401 ? ErrorCode.UNAUTHORIZED : status === 403 ? ErrorCode.FORBIDDEN : status === 429 || status === 503 ? ErrorCode.OVERLOADED : ErrorCode.CONNECTION_CLOSED;
      refused = new ConnectionError(`the server refused the connection with HTTP ${status}`, { code });
      ws.terminate?.();
    });
    ws.on?.('ping', () => this.#touch());
    ws.addEventListener('open', () => this.#onOpen(ws));
    // ws hands over the frame itself; the EventTarget form would wrap each in a MessageEvent first.
    if (ws.on) ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(isBinary ? data : data.toString()));
    else ws.addEventListener('message', (event: { data: unknown }) => this.#onMessage(event.data));
    let failure: unknown;
    ws.addEventListener('error', (event: { error?: unknown; message?: string }) => {
      failure = event.error ?? event.message;
    });
    ws.addEventListener('close', (event: { code: number; reason: string }) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#dropped(refused ?? closedError(this.url, event.code, event.reason, failure), event.code, refused !== undefined || notReached(failure));
    });
  }

  #onOpen(ws: WebSocketInstance): void {
    if (this.#ws !== ws || this.#state !== 'connecting') return;
    this.#state = 'open';
    this.#socketOpened = true;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    const attempt = this.#backoff.failures;
    this.#backoff.succeeded();
    if (this.#pausedBy.size > 0) this.#pauseSocket(ws);
    else this.#touch();
    this.emit('open');
    if (reconnected) this.emit('reconnect', attempt);
    for (const channel of [...this.#members]) channel.onOpen(reconnected);
  }

  #onMessage(data: unknown): void {
    if (this.#state === 'closed') return;
    this.#touch();
    if (typeof data !== 'string') {
      if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) data = new TextDecoder().decode(data as ArrayBuffer);
      else {
        this.emit('error', new ConnectionError('the server sent a frame that is not text', { code: ErrorCode.BAD_FRAME }));
        return;
      }
    }
    let frame: ServerFrame;
    try {
      frame = decodeServerFrame(data as string);
    } catch (error) {
      this.emit('error', new ConnectionError('the server sent an invalid frame', { code: ErrorCode.BAD_FRAME, cause: error }));
      return;
    }
    if (frame.type === 'hello') {
      this.#limits = frame.limits;
      this.emit('hello', frame.limits);
      return;
    }
    if (frame.type === 'error' && frame.id === undefined) {
      this.emit('error', new ConnectionError(`server error ${frame.code}: ${frame.message}`, { code: frame.code }));
      return;
    }
    this.#channels.get(frame.id!)?.onFrame(frame as RequestFrame);
  }

  /** `unreachable`: the attempt did not reach a server that would talk (refused, no route, HTTP refusal). */
  #dropped(error: ConnectionError, closeCode?: number, unreachable = false): void {
    if (this.#state === 'closed') return;
    this.#clearIdleTimer();
    this.#clearKeepalive();
    const opened = this.#socketOpened;
    this.#socketOpened = false;
    const largestId = this.#largestId;
    this.#largestLength = 0;
    this.#largestId = undefined;
    // The server read a frame larger than it takes: the largest sent is refused, never resent.
    if (closeCode === 1009 && largestId !== undefined) this.#refuseFrame(largestId, error);
    this.#channels.clear();
    const delay = this.#backoff.next();
    const give_up =
      !this.#options.reconnect || this.#backoff.failures > this.#options.maxReconnectAttempts || FINAL_REFUSALS.has(error.code);
    if (give_up) {
      this.#shutdown(error);
      this.emit('error', error);
      this.emit('close');
      return;
    }
    this.#state = 'waiting';
    this.#urlIndex = (this.#urlIndex + 1) % this.urls.length;
    this.emit('disconnect', error);
    // Not one socket ever opened and the server could not be reached: the address, the network
    // or the server is wrong, and the application hears why at each attempt. A socket cut during
    // its handshake, a drop, and the failed attempts after a connection was open are
    // 'disconnect's, and 'reconnect' says when it is back.
    if (unreachable && !opened && !this.#everOpened && this.#state === 'waiting') this.emit('error', error);
    for (const channel of [...this.#members]) channel.onDisconnect(error, false);
    // A listener may have closed the connection: then no reconnect follows.
    if (this.#state !== 'waiting') return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#connect();
    }, delay * 1000);
  }

  /** Tells the channel that sent request `id` that the server refused its frame as too large (1009). */
  #refuseFrame(id: number, closed: ConnectionError): void {
    const channel = this.#channels.get(id);
    if (channel?.onFrameRefused === undefined) return;
    const limit = this.#limits === undefined ? '' : ` (at most ${this.#limits.maxFrameSize} bytes)`;
    const error = new JournalError(
      ErrorCode.FRAME_TOO_LARGE,
      `the server closed the connection with 1009: the frame was larger than it takes${limit}; it was not stored and is not resent`,
      { cause: closed },
    );
    channel.onFrameRefused(id, error);
  }

  /** Any sign of life from the server restarts the idle timer (ws only: browsers hide pings). */
  #touch(): void {
    const ws = this.#ws;
    if (!ws?.on || this.#state === 'closed') return;
    // Paused and open, the keepalive pings stand in for the timer (frames read before the pause took hold land here).
    if (this.#state === 'open' && this.#pausedBy.size > 0 && ws.pause !== undefined) return;
    if (this.#idleTimer !== undefined) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#ws === ws) ws.terminate?.();
    }, this.#options.idleTimeout * 1000);
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #clearKeepalive(): void {
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** System error codes of an attempt that reached no server. */
const NOT_REACHED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

/**
 * True when a failed attempt reached no server: a system error saying so (Node), or no error
 * object at all (browsers tell nothing more of a WebSocket that never opened).
 */
function notReached(failure: unknown): boolean {
  if (!(failure instanceof Error)) return true;
  const code = (failure as { code?: unknown }).code;
  return typeof code === 'string' && NOT_REACHED.has(code);
}

/** The error for a closed socket; a close reason `CODE: message` with a known code gives the error that code. */
/** Refusals that another attempt would meet again: the connection gives up at once. */
const FINAL_REFUSALS: ReadonlySet<string> = new Set([ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN]);

function closedError(url: string, code: number, reason: string, failure: unknown): ConnectionError {
  const cause = failure instanceof Error ? failure.message : typeof failure === 'string' ? failure : undefined;
  const detail = cause ?? `${code}${reason ? ` ${reason}` : ''}`;
  const told = /^([A-Z][A-Z_]*):/.exec(reason)?.[1];
  const errorCode = told !== undefined && KNOWN_CODES.has(told) && told !== ErrorCode.UNAUTHORIZED ? told : ErrorCode.CONNECTION_CLOSED;
  return new ConnectionError(`the connection to ${url} closed (${detail})`, { cause: failure, code: errorCode });
}

let nodeWs: WebSocketLike | undefined;

async function defaultWebSocket(): Promise<WebSocketLike> {
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
  if (isNode) {
    nodeWs ??= (await import('ws')).WebSocket as unknown as WebSocketLike;
    return nodeWs;
  }
  const global = (globalThis as { WebSocket?: WebSocketLike }).WebSocket;
  if (!global) throw new ConnectionError('no WebSocket implementation: pass options.WebSocket');
  return global;
}

function isNodeWs(Ctor: WebSocketLike): boolean {
  return Ctor === nodeWs || typeof (Ctor.prototype as { pause?: unknown }).pause === 'function';
}
