/**
 * Event handlers (after e3's `EventHandler`): where a {@link Forwarder} sends a journal's
 * events. A handler takes each event, in order, and says by its promise whether it has it
 * (resolved), failed for now (rejected: the forwarder retries), or refuses it for good
 * (rejected with code `EVENT_REFUSED`: the forwarder's refusal policy applies).
 */
import { ErrorCode, JournalError } from '../errors.js';
import type { JournalEvent } from '../journal-event.js';

/** What a forwarder tells a handler along with each event. */
export interface Delivery {
  /** The journal the event comes from: with the event's `seq`, its identity (`journal:seq`). */
  readonly journal: string;
  /** Aborted when the forwarder stops: a send still in progress may give up. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A destination for events. `send` resolves once the handler has the event; rejecting
 * with a {@link JournalError} of code `EVENT_REFUSED` says that retrying cannot help, any
 * other rejection that it may.
 */
export interface EventHandler {
  /** The name the handler is registered under (`file`, `webhook`, …). */
  readonly name: string;
  /** Takes one event. */
  send(event: JournalEvent, delivery?: Delivery): Promise<void>;
  /**
   * Takes several events in order, at once (optional; the forwarder uses it when there). On a
   * failure the forwarder sends the same events again, so a handler may get some twice.
   */
  sendBatch?(events: readonly JournalEvent[], delivery?: Delivery): Promise<void>;
  /** Makes every event taken so far durable (optional); the forwarder calls it before it writes its checkpoint. */
  flush?(): Promise<void>;
  /** The configuration string that `createHandler(name, config)` makes this handler again from. */
  encodeConfig(): string;
  /** Releases what the handler holds (files, connections). */
  close?(): Promise<void>;
}

/** A handler's rejection that says the event is refused for good. */
export function refused(message: string, cause?: unknown): JournalError {
  return new JournalError(ErrorCode.EVENT_REFUSED, message, cause === undefined ? undefined : { cause });
}

/** A handler's rejection that says it failed for now and a retry may succeed. */
export function failed(message: string, cause?: unknown): JournalError {
  return new JournalError(ErrorCode.HANDLER_FAILED, message, cause === undefined ? undefined : { cause });
}

/** True when `error` says the event is refused for good. */
export function isRefusal(error: unknown): boolean {
  return error instanceof JournalError && error.code === ErrorCode.EVENT_REFUSED;
}

/**
 * A batch key or idempotency key for an event of `journal`: `journal:seq`, or, for a journal
 * name too long for the 128 characters a key may hold, a hash of the name and the seq.
 */
export function eventKey(journal: string, seq: number, suffix = ''): string {
  const key = `${journal}:${seq}${suffix}`;
  return key.length <= 128 ? key : `#${fnv1a(journal)}:${seq}${suffix}`.slice(0, 128);
}

/** 64-bit FNV-1a of `text`, in hex: a stable short name for a long one (not a security hash). */
function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}
