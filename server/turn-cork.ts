/**
 * Corks a socket for the rest of the event loop's turn, so that the frames
 * sent meanwhile leave in one write: a session's acks of one fsync round, or
 * the frames one socket read's requests answer.
 */

/** The part of a `net.Socket` a TurnCork uses. */
export interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

export class TurnCork {
  #corked: CorkableSocket | undefined;

  /** Corks `socket` until this turn's ticks run; does nothing while a socket is corked already. */
  hold(socket: CorkableSocket): void {
    if (this.#corked !== undefined) return;
    this.#corked = socket;
    socket.cork();
    process.nextTick(this.#release);
  }

  readonly #release = (): void => {
    const socket = this.#corked;
    this.#corked = undefined;
    socket?.uncork();
  };
}
