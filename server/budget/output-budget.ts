/**
 * One connection's output budget: every frame the server sends a connection (history pages,
 * live batches, acks, errors, ends, replies) goes through {@link OutputBudget.send}, which
 * keeps what the connection has queued and not yet written within three marks:
 *
 * - past `sendHighWaterMark` the connection is *over its high-water mark*: its session stops
 *   reading its input (so a client cannot make the server produce replies it does not read),
 *   and history reads wait ({@link OutputBudget.ready}) until the output drains below it;
 * - past `maxSendBuffer` live subscriptions end with `SLOW_CONSUMER` (server/subscription.ts);
 * - past the hard limit, twice `maxSendBuffer`, a connection that was over its mark when the
 *   frame was queued is closed with 1008 `SLOW_CONSUMER: …`: nothing a connection is sent can
 *   take it further than that and one frame.
 *
 * What it holds is charged to the server-wide {@link ServerBudget}, which may shed it (1013).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ErrorCode } from '../../src/errors.js';
import { TurnCork } from '../turn-cork.js';
import type { Charged, ServerBudget } from './server-budget.js';

export interface OutputLimits {
  /** Past this many bytes queued, input is paused and history reads wait. */
  readonly sendHighWaterMark: number;
  /** Past this many bytes queued, live subscriptions end (SLOW_CONSUMER); past twice it, the connection closes 1008. */
  readonly maxSendBuffer: number;
}

/** ws options for a fragment that does not end its message, and for one that does (a text message: its first fragment is a string). */
const MORE = { fin: false } as const;
const LAST = { fin: true } as const;

/** How long a connection closed for its output gets to finish the closing handshake before it is cut off, ms. */
const CLOSE_GRACE_MS = 500;

export class OutputBudget implements Charged {
  readonly #ws: WebSocket;
  /** The TCP socket under `#ws`, corked while a turn's frames are queued. */
  readonly #socket: Socket | undefined;
  readonly #cork = new TurnCork();
  readonly #limits: OutputLimits;
  readonly #hardLimit: number;
  readonly #server: ServerBudget;
  /** Called when the output drains to the high-water mark or below, after being over it. */
  readonly #onDrained: () => void;
  /** Called when the connection is closed 1008 for its unread output. */
  readonly #onSlow: (() => void) | undefined;
  #drainWaiters: (() => void)[] = [];
  #closed = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set each time queued output was written out: the peer reads. Cleared by the heartbeat. */
  progressed = false;
  charge = 0;

  constructor(ws: WebSocket, socket: Socket | undefined, limits: OutputLimits, server: ServerBudget, onDrained: () => void, onSlow?: () => void) {
    this.#ws = ws;
    this.#socket = socket;
    this.#limits = limits;
    this.#hardLimit = 2 * limits.maxSendBuffer;
    this.#server = server;
    this.#onDrained = onDrained;
    this.#onSlow = onSlow;
    server.add(this);
  }

  /** Bytes queued on the connection and not yet written. */
  get buffered(): number {
    return this.#ws.bufferedAmount;
  }

  /** True while more than `sendHighWaterMark` bytes are queued: input stays paused. */
  get overHighWater(): boolean {
    return this.#ws.bufferedAmount > this.#limits.sendHighWaterMark;
  }

  /** True when a history page may be read now: this connection under its mark, and the server under its budget. */
  hasRoom(): boolean {
    return this.#ws.bufferedAmount <= this.#limits.sendHighWaterMark && this.#server.hasRoom();
  }

  /** Resolves once {@link hasRoom} is true, or the connection is gone. */
  async ready(): Promise<void> {
    while (!this.#closed && !this.hasRoom()) {
      if (this.#ws.bufferedAmount > this.#limits.sendHighWaterMark) {
        await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
      } else {
        await this.#server.whenRoom();
      }
    }
  }

  /**
   * Queues a text frame. Frames of one turn of the event loop leave in one write (the socket
   * is corked until the turn's ticks run). Past the hard limit the connection is closed 1008.
   */
  send(frame: string): void {
    if (this.#closed) return;
    if (this.#socket !== undefined) this.#cork.hold(this.#socket);
    // A frame that may take the buffer over the mark carries the callback that reports the
    // drain (3 bytes per UTF-16 unit bounds its UTF-8 size).
    const before = this.#ws.bufferedAmount;
    if (before + 3 * frame.length > this.#limits.sendHighWaterMark) this.#ws.send(frame, this.#onFlushed);
    else this.#ws.send(frame);
    this.#queued(before);
  }

  /**
   * Queues one text frame in fragments, as {@link send} queues a frame: the first fragment
   * opens the message, the last one ends it. Buffers are written as they are, never copied, so
   * a Buffer may be shared by the frames of many connections (server/live-frame.ts).
   */
  sendFragments(fragments: readonly (string | Buffer)[]): void {
    if (this.#closed) return;
    if (this.#socket !== undefined) this.#cork.hold(this.#socket);
    const before = this.#ws.bufferedAmount;
    const last = fragments.length - 1;
    let size = 0;
    for (let i = 0; i < last; i++) {
      const fragment = fragments[i]!;
      size += typeof fragment === 'string' ? 3 * fragment.length : fragment.length;
      this.#ws.send(fragment, MORE);
    }
    const end = fragments[last]!;
    size += typeof end === 'string' ? 3 * end.length : end.length;
    if (before + size > this.#limits.sendHighWaterMark) this.#ws.send(end, LAST, this.#onFlushed);
    else this.#ws.send(end, LAST);
    this.#queued(before);
  }

  /** After a frame was queued on output of `before` bytes: closes the connection past the hard limit, else charges the server. */
  #queued(before: number): void {
    const after = this.#ws.bufferedAmount;
    // A connection under its mark may take any one frame; one past it (its input paused) that is
    // still sent frames, answers to what it sent before, is closed once they pass the hard limit.
    if (after > this.#hardLimit && before > this.#limits.sendHighWaterMark) {
      this.#closeFor(1008, `${ErrorCode.SLOW_CONSUMER}: more than ${this.#hardLimit} bytes unread`);
      this.#onSlow?.();
      return;
    }
    if (after !== this.charge) this.#server.charge(this, after);
  }

  /** Closes the connection 1013: the server's memory budget is spent and this connection holds the most. */
  shed(): void {
    this.#closeFor(1013, `${ErrorCode.OVERLOADED}: the server is out of memory for output; retry later`);
  }

  /** The connection closed: release the charge, wake waiters. */
  closed(): void {
    this.#closed = true;
    clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#server.remove(this);
    this.#wake();
  }

  /** Closes with `code`, then cuts the connection off if the closing handshake does not finish soon. */
  #closeFor(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    this.#ws.close(code, reason);
    // A peer that does not read never sees the close frame: its queued output is freed by cutting it off.
    this.#killTimer = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
    this.#killTimer.unref();
  }

  readonly #onFlushed = (): void => {
    this.progressed = true;
    const buffered = this.#ws.bufferedAmount;
    if (buffered !== this.charge) this.#server.charge(this, buffered);
    if (!this.#closed && buffered > this.#limits.sendHighWaterMark) return;
    this.#wake();
    if (!this.#closed) this.#onDrained();
  };

  #wake(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
