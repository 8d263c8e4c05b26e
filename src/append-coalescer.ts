/**
 * Gathers the appends a producer is given in one turn of the event loop (or
 * within `linger` seconds) into one append frame: one batch, one key, one
 * store commit, one ack, which is split among them. A lone append leaves at
 * the end of the turn it was made in, so it waits for nothing.
 *
 * An `appendMany` batch is a member whole: a frame holds whole batches, so
 * each stays atomic. When the server refuses a frame of several members for
 * a reason that may belong to one of them (an invalid or too large event, a
 * schema violation, too many events), nothing of it was stored (a batch is
 * atomic): each member is sent again alone, with a key of its own, and gets
 * its own verdict. A refusal that belongs to the whole frame (the store is
 * unavailable, the connection closed, the outcome is unknown) goes to every
 * member as it is, and nothing is resent.
 */
import { ErrorCode, JournalError } from './errors.js';
import { utf8Length } from './utf8.js';

/** Where an append landed. */
interface Result {
  seq: number;
  timestamp: number;
}

/** Sends events (JSON texts joined by commas) as one batch; resolves with one result per event. */
export type SendBatch = (encoded: string, count: number) => Promise<Result[]>;

/** How large one frame may be: events, and UTF-8 bytes of encoded events. */
export interface CoalescerLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
}

interface Member {
  readonly encoded: string;
  readonly count: number;
  /** A single append (`addOne`): resolved with its result, not a list. */
  readonly one: boolean;
  readonly resolve: (results: any) => void;
  readonly reject: (error: unknown) => void;
}

/** Refusals of a whole frame: sending its members alone would meet the same, or could store one twice. */
const WHOLE_FRAME = new Set<string>([
  ErrorCode.STORE_UNAVAILABLE,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.INVALID_JOURNAL,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.CLOSED,
  ErrorCode.CONNECTION_CLOSED,
  ErrorCode.TIMEOUT,
  ErrorCode.FORBIDDEN,
  ErrorCode.OVERLOADED,
  ErrorCode.APPEND_TIMEOUT,
  ErrorCode.PROTOCOL_ERROR,
]);

/** True when a refusal of a coalesced frame may belong to one of its members, which are then resent alone. */
export function refusalOfAMember(error: unknown): boolean {
  return error instanceof JournalError && error.name === 'JournalError' && !WHOLE_FRAME.has(error.code);
}

const nextTurn: (callback: () => void) => void =
  typeof process !== 'undefined' && typeof process.nextTick === 'function' ? (callback) => process.nextTick(callback) : queueMicrotask;

export class AppendCoalescer {
  readonly #send: SendBatch;
  readonly #limits: () => CoalescerLimits;
  readonly #linger: number;
  #members: Member[] = [];
  #events = 0;
  #bytes = 0;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `linger`: seconds a frame waits for more appends; 0 sends it at the end of the turn. */
  constructor(send: SendBatch, limits: () => CoalescerLimits, linger: number) {
    this.#send = send;
    this.#limits = limits;
    this.#linger = linger;
  }

  /** Adds `count` encoded events, one atomic batch, to the frame being gathered. */
  add(encoded: string, count: number): Promise<Result[]> {
    return this.#add(encoded, count, false) as Promise<Result[]>;
  }

  /** Adds one encoded event; resolves with its result. */
  addOne(encoded: string): Promise<Result> {
    return this.#add(encoded, 1, true) as Promise<Result>;
  }

  #add(encoded: string, count: number, one: boolean): Promise<Result[] | Result> {
    const { maxEvents, maxBytes } = this.#limits();
    // With the comma that joins it to the others.
    const bytes = utf8Length(encoded) + 1;
    // The batch does not fit beside the gathered ones: they leave first, in order.
    if (this.#members.length > 0 && (this.#events + count > maxEvents || this.#bytes + bytes > maxBytes)) this.flush();
    const result = new Promise<Result[] | Result>((resolve, reject) => this.#members.push({ encoded, count, one, resolve, reject }));
    this.#events += count;
    this.#bytes += bytes;
    if (this.#events >= maxEvents || this.#bytes >= maxBytes) this.flush();
    else this.#schedule();
    return result;
  }

  /** Sends what was gathered now. */
  flush(): void {
    this.#clearTimer();
    const members = this.#members;
    if (members.length === 0) return;
    this.#members = [];
    this.#events = 0;
    this.#bytes = 0;
    if (members.length === 1) {
      this.#alone(members[0]!);
      return;
    }
    let total = 0;
    const encoded = new Array<string>(members.length);
    for (let i = 0; i < members.length; i++) {
      total += members[i]!.count;
      encoded[i] = members[i]!.encoded;
    }
    this.#send(encoded.join(','), total).then(
      (results) => {
        let offset = 0;
        for (const member of members) {
          member.resolve(member.one ? results[offset] : results.slice(offset, offset + member.count));
          offset += member.count;
        }
      },
      (error: unknown) => {
        if (!refusalOfAMember(error)) {
          for (const member of members) member.reject(error);
          return;
        }
        // Nothing of the frame was stored: each member alone, in order, for its own verdict.
        for (const member of members) this.#alone(member);
      },
    );
  }

  /** Sends `member` in a frame of its own. */
  #alone(member: Member): void {
    this.#send(member.encoded, member.count).then(
      member.one ? (results) => member.resolve(results[0]) : member.resolve,
      member.reject,
    );
  }

  /** Stops the linger timer; what was gathered is sent by `flush()`. */
  dispose(): void {
    this.flush();
  }

  #schedule(): void {
    if (this.#linger > 0) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#linger * 1000);
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    nextTurn(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
