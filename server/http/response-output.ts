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

  constructor(response: ServerResponse, budget: ServerBudget) {
    this.#response = response;
    this.#budget = budget;
    budget.add(this);
  }

  /** Bytes the answer's socket holds unwritten. */
  get buffered(): number {
    return this.#response.socket?.writableLength ?? 0;
  }

  /** Charges what the socket holds now: called once the answer has been handed to it. */
  readonly update = (): void => {
    this.#budget.charge(this, this.buffered);
  };

  /** The budget is spent and this answer holds the most: the connection is cut off. */
  shed(): void {
    this.#response.socket?.destroy();
  }

  /** The answer is done or its connection gone: its charge is released. */
  closed(): void {
    this.#budget.remove(this);
  }
}
