/**
 * Sends a logger's events from memory: at most `maxBuffered` events not yet
 * acknowledged, those in flight included; past it the oldest not yet sent is
 * dropped and counted. Events are handed to the producer only while the
 * connection is open, so that during an outage the events that wait (and
 * may be dropped) are the logger's; the producer holds those already sent
 * across a reconnect and resends them with their batch keys, so the server
 * stores them once.
 */
import { Fifo } from '../fifo.js';
import type { Channel } from '../connection.js';
import { asJournalError, classify, FlushWaiters, retryDelay, watchConnection, type Sender, type SenderContext } from './sender.js';

interface Entry {
  readonly serial: number;
  readonly event: string;
  attempts: number;
}

/** Events handed to the producer and not yet acknowledged, at most: a few coalesced frames in flight. */
const WINDOW = 4000;

export class MemorySender implements Sender {
  readonly #context: SenderContext;
  readonly #window: number;
  readonly #queue = new Fifo<Entry>();
  /** Events that failed for a while (the store was unavailable), sent again first. */
  #retry: Entry[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = 0;
  #serial = 0;
  #dropped = 0;
  /** Drops not yet told to the journal by a warning event. */
  #unreported = 0;
  #scheduled = false;
  /** The connection is closed for good: nothing more can be sent. */
  #final = false;
  readonly #waiters = new FlushWaiters();
  readonly #channel: Channel;

  constructor(context: SenderContext) {
    this.#context = context;
    this.#window = Math.min(WINDOW, context.maxBuffered);
    context.connection.on('close', this.#onClose);
    if (context.connection.isClosed) this.#final = true;
    this.#channel = watchConnection(
      context.connection,
      () => this.#schedule(),
      (error) => {
        if (this.#final) return;
        context.report(error);
        this.#giveUp();
      },
    );
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Events not yet settled: queued, waiting to be resent, or in flight. */
  get #outstanding(): number {
    return this.#queue.length + this.#retry.length + this.#inFlight;
  }

  push(event: string): void {
    const serial = ++this.#serial;
    if (this.#final) {
      this.#drop(serial);
      return;
    }
    if (this.#outstanding >= this.#context.maxBuffered) {
      const oldest = this.#queue.shift();
      if (oldest === undefined) {
        // Every event kept is with the producer already: the new one is the one that goes.
        this.#drop(serial);
        return;
      }
      this.#drop(oldest.serial);
    }
    this.#queue.push({ serial, event, attempts: 0 });
    this.#schedule();
  }

  flush(): Promise<void> {
    return this.#waiters.wait(this.#serial, this.#outstanding);
  }

  async close(timeout: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.flush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout * 1000)))]);
    clearTimeout(timer);
    this.#giveUp();
    this.#context.connection.off('close', this.#onClose);
    this.#context.connection.leave(this.#channel);
  }

  /** Counts every event not yet acknowledged as dropped and stops sending. */
  #giveUp(): void {
    this.#final = true;
    this.#clearRetryTimer();
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) this.#drop(entry.serial);
    for (const entry of this.#retry) this.#drop(entry.serial);
    this.#retry = [];
    // Appends in flight settle on their own as the producer closes.
  }

  readonly #onClose = (): void => {
    if (this.#final) return;
    this.#giveUp();
  };

  #drop(serial: number): void {
    this.#dropped++;
    this.#unreported++;
    this.#waiters.settled(serial);
  }

  #schedule(): void {
    if (this.#scheduled || this.#final) return;
    this.#scheduled = true;
    // After the current turn, so that the turn's events reach the producer together.
    queueMicrotask(this.#pump);
  }

  readonly #pump = (): void => {
    this.#scheduled = false;
    if (this.#final || !this.#context.connection.isOpen) return;
    while (this.#inFlight < this.#window) {
      let entry: Entry | undefined;
      if (this.#retry.length > 0) {
        // Nothing newer goes before the events waiting to be resent.
        if (this.#retryTimer !== undefined) break;
        entry = this.#retry.shift();
      } else entry = this.#queue.shift();
      if (entry === undefined) break;
      this.#send(entry);
    }
  };

  #send(entry: Entry): void {
    this.#inFlight++;
    this.#context.producer.appendEncoded([entry.event]).then(
      () => {
        this.#inFlight--;
        this.#waiters.settled(entry.serial);
        if (this.#unreported > 0 && !this.#final) {
          // The server is back: one event says how many were lost meanwhile.
          const count = this.#unreported;
          this.#unreported = 0;
          this.push(this.#context.droppedWarning(count));
        }
        this.#schedule();
      },
      (error: unknown) => {
        this.#inFlight--;
        const verdict = classify(error, this.#context.connection);
        if (verdict === 'retry' && !this.#final) {
          entry.attempts++;
          this.#retry.push(entry);
          this.#retry.sort((a, b) => a.serial - b.serial);
          this.#retryLater(entry.attempts);
          return;
        }
        this.#drop(entry.serial);
        if (verdict === 'refused') this.#context.report(asJournalError(error, 'the server refused a log event'));
        else if (!this.#final) {
          this.#context.report(asJournalError(error, 'the connection closed'));
          this.#giveUp();
        }
        this.#schedule();
      },
    );
  }

  #retryLater(attempt: number): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#schedule();
    }, retryDelay(attempt) * 1000);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }
}
