/**
 * The server-wide memory budget for output: the bytes every connection has queued and not yet
 * written, together, are held under `maxServerBuffer`. Each connection's {@link OutputBudget}
 * charges what it holds here after each send; history reads wait while the total is near the
 * budget; and when the total reaches it, the connections holding the most are shed (closed
 * 1013 `OVERLOADED`), largest first, until it is under again. The rest are served as before.
 *
 * Charges are refreshed by each send and each flush callback, so a connection whose output
 * drained without either may be charged more than it holds: before shedding, the budget
 * recounts every connection exactly (at most once per {@link RECOUNT_MS}).
 */
import { getHeapStatistics } from 'node:v8';

/** A connection as the server budget sees it. */
export interface Charged {
  /** Bytes queued on the connection's socket now. */
  readonly buffered: number;
  /** What the budget last charged for it (maintained by the budget). */
  charge: number;
  /** Closes the connection with 1013 `OVERLOADED`, freeing what it holds. */
  shed(): void;
}

/** Fraction of the budget past which history reads wait for room. */
const READ_FRACTION = 0.75;
/** Least time between two exact recounts, ms. */
const RECOUNT_MS = 20;

/**
 * The default `maxServerBuffer`: 1/32 of V8's heap limit (128 MiB at a 4 GiB heap), at least
 * 16 MiB. Queued output lives beside the heap (Buffers), so this is a share of the process's
 * memory the operator already chose, small enough that a flood of readers that do not read
 * adds at most that much to the server.
 */
export function defaultServerBuffer(): number {
  return Math.max(16 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 32));
}

export class ServerBudget {
  readonly #limit: number;
  readonly #members = new Set<Charged>();
  #total = 0;
  #lastRecount = -Infinity;
  #waiters: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Connections shed and not yet gone: no longer charged, never shed twice. */
  readonly #shed = new WeakSet<Charged>();
  /** Called with each connection shed. */
  readonly #onShed: ((member: Charged) => void) | undefined;

  constructor(limit: number, onShed?: (member: Charged) => void) {
    this.#limit = limit;
    this.#onShed = onShed;
  }

  /** The budget, in bytes. */
  get limit(): number {
    return this.#limit;
  }

  /** Bytes charged to all connections together (an upper bound of what they hold). */
  get total(): number {
    return this.#total;
  }

  add(member: Charged): void {
    member.charge = 0;
    this.#members.add(member);
  }

  /** The connection is gone: its charge is released. */
  remove(member: Charged): void {
    if (!this.#members.delete(member)) return;
    this.#total -= member.charge;
    member.charge = 0;
  }

  /** Charges `member` for `buffered` bytes (what it holds now); sheds when the total reaches the budget. */
  charge(member: Charged, buffered: number): void {
    if (this.#shed.has(member) || !this.#members.has(member)) return;
    this.#total += buffered - member.charge;
    member.charge = buffered;
    if (this.#total >= this.#limit) this.#enforce();
  }

  /** True while history reads may go on: the total is below {@link READ_FRACTION} of the budget. */
  hasRoom(): boolean {
    if (this.#total < this.#limit * READ_FRACTION) return true;
    this.#recount(false);
    return this.#total < this.#limit * READ_FRACTION;
  }

  /** Resolves once {@link hasRoom} is true (checked every {@link RECOUNT_MS} while anyone waits). */
  whenRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#timer ??= setInterval(this.#poll, RECOUNT_MS);
    });
  }

  /** Wakes every waiter and stops the timer. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  readonly #poll = (): void => {
    if (this.#waiters.length > 0 && !this.hasRoom()) return;
    this.close();
  };

  #enforce(): void {
    if (!this.#recount(true) || this.#total < this.#limit) return;
    const largest = [...this.#members].sort((a, b) => b.charge - a.charge);
    for (const member of largest) {
      if (this.#total < this.#limit || member.charge === 0) break;
      this.#total -= member.charge;
      member.charge = 0;
      this.#shed.add(member);
      this.#members.delete(member);
      this.#onShed?.(member);
      member.shed();
    }
  }

  /** Charges every connection what it holds now; false when one was done too recently (unless `force`). */
  #recount(force: boolean): boolean {
    const now = performance.now();
    if (!force && now - this.#lastRecount < RECOUNT_MS) return false;
    this.#lastRecount = now;
    let total = 0;
    for (const member of this.#members) {
      member.charge = member.buffered;
      total += member.charge;
    }
    this.#total = total;
    return true;
  }
}
