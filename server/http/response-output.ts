/**
 * An HTTP answer as the server's output budget sees it: what its socket holds unwritten, from
 * the moment the answer is sent until the client has read it (or is gone), is charged to the
 * server-wide {@link ServerBudget} like a WebSocket connection's output, and a client that
 * does not read is cut off first when the budget is spent.
 */
import type { ServerResponse } from 'node:http';
import type { Charged, ServerBudget } from '../budget/server-budget.js';

export class ResponseOutput implements Charged {
  readonly #response: ServerResponse;
  readonly #budget: ServerBudget;
  charge = 0;
  /** Bytes of the answer being built (a query's page as it fills), not handed to the socket yet. */
  #building = 0;
  /** Set once the budget cut this answer off. */
  #cut = false;

  constructor(response: ServerResponse, budget: ServerBudget) {
    this.#response = response;
    this.#budget = budget;
    budget.add(this);
  }

  /** Bytes the answer holds: what is being built, and what its socket holds unwritten. */
  get buffered(): number {
    return this.#building + (this.#response.socket?.writableLength ?? 0);
  }

  /**
   * Charges `bytes` of the answer being built, as it grows. Past the server's budget the largest
   * holders are cut off ({@link shed}), maybe this one: false once it is, and the page should end.
   */
  readonly building = (bytes: number): boolean => {
    this.#building = bytes;
    this.#budget.charge(this, this.buffered);
    return !this.#cut;
  };

  /** Charges what the socket holds now: called once the answer has been handed to it. */
  readonly update = (): void => {
    this.#building = 0;
    this.#budget.charge(this, this.buffered);
  };

  /** The budget is spent and this answer holds the most: the connection is cut off. */
  shed(): void {
    this.#cut = true;
    this.#response.socket?.destroy();
  }

  /** The answer is done or its connection gone: its charge is released. */
  closed(): void {
    this.#budget.remove(this);
  }
}
