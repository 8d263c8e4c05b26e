/**
 * Sends a logger's events through its spool: each event is written to the
 * spool when logged, and batches are read back from it in order and sent one
 * at a time (so that a batch the store could not take for a while is resent
 * before any later one, and the journal keeps the order of the spool). Each
 * batch's key is the spool's id and its first line's number, and the spool
 * records the batch before it is sent: a logger restarted after a crash
 * resends exactly that batch with the same key, and the server stores it once.
 */
import type { JournalError } from '../errors.js';
import type { Channel } from '../connection.js';
import { asJournalError, classify, retryDelay, watchConnection, type Sender, type SenderContext } from './sender.js';
import type { Spool, SpoolBatch } from './spool.js';

/** Events per batch at most (the server's default limit is 1000 an append). */
const BATCH_EVENTS = 1000;
/** Bytes of events per batch at most (the server's default frame limit is 1 MiB). */
const BATCH_BYTES = 512 * 1024;

export class SpoolSender implements Sender {
  readonly #context: SenderContext;
  readonly #spool: Spool;
  #inFlight: SpoolBatch | undefined;
  #dropped = 0;
  #unreported = 0;
  #final = false;
  #closed = false;
  #scheduled = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #waiters: { target: number; resolve: () => void }[] = [];
  /** Waiters released only by acks (or when nothing more can be sent), not by the server going away. */
  #ackWaiters: { target: number; resolve: () => void }[] = [];
  readonly #channel: Channel;

  constructor(context: SenderContext, spool: Spool) {
    this.#context = context;
    this.#spool = spool;
    context.connection.on('disconnect', this.#onAway);
    context.connection.on('close', this.#onClosed);
    if (context.connection.isClosed) this.#final = true;
    // Once open, what an earlier logger left in the spool goes first.
    this.#channel = watchConnection(
      context.connection,
      () => this.#schedule(),
      (error) => {
        if (!this.#final && !this.#closed) context.report(error);
        this.#onClosed();
      },
    );
  }

  get dropped(): number {
    return this.#dropped;
  }

  push(event: string): void {
    if (this.#closed) {
      this.#drop(1);
      return;
    }
    let dropped: number;
    try {
      dropped = this.#spool.append(event);
    } catch (error) {
      this.#drop(1);
      this.#context.report(asJournalError(error, 'the spool could not be written'));
      return;
    }
    if (dropped > 0) this.#drop(dropped);
    this.#schedule();
  }

  flush(): Promise<void> {
    const target = this.#spool.nextLine;
    if (this.#spool.acked >= target) return Promise.resolve();
    // While the server is away, a flush means: written to the spool, and synced.
    const connection = this.#context.connection;
    if (connection.isReconnecting || connection.isClosed || this.#final || this.#closed) return this.#spool.sync();
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  async close(timeout: number): Promise<void> {
    if (this.#closed) return;
    // Unlike flush(), close gives a server that is away `timeout` seconds to come back.
    if (!this.#final && this.#spool.acked < this.#spool.nextLine) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const target = this.#spool.nextLine;
      const acked = new Promise<void>((resolve) => this.#ackWaiters.push({ target, resolve }));
      await Promise.race([acked, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout * 1000)))]);
      clearTimeout(timer);
    }
    this.#closed = true;
    this.#clearRetryTimer();
    this.#context.connection.off('disconnect', this.#onAway);
    this.#context.connection.off('close', this.#onClosed);
    this.#context.connection.leave(this.#channel);
    this.#releaseWaiters();
    // What is left stays in the spool for the next logger on it.
    await this.#spool.close();
  }

  readonly #onAway = (): void => this.#releaseWaiters();

  readonly #onClosed = (): void => {
    this.#final = true;
    this.#releaseWaiters();
    const waiters = this.#ackWaiters;
    this.#ackWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  };

  /** Resolves every flush once the spool is synced: the server is away, and the spool holds the events. */
  #releaseWaiters(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    void this.#spool.sync().then(() => {
      for (const waiter of waiters) waiter.resolve();
    });
  }

  #drop(count: number): void {
    this.#dropped += count;
    this.#unreported += count;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined || this.#final || this.#closed) return;
    this.#scheduled = true;
    queueMicrotask(this.#pump);
  }

  readonly #pump = (): void => {
    this.#scheduled = false;
    if (this.#inFlight !== undefined || this.#final || this.#closed || this.#retryTimer !== undefined) return;
    if (!this.#context.connection.isOpen) return;
    let batch: SpoolBatch | undefined;
    try {
      batch = this.#spool.read(BATCH_EVENTS, BATCH_BYTES);
    } catch (error) {
      this.#context.report(asJournalError(error, 'the spool could not be read'));
      return;
    }
    if (batch === undefined) return;
    this.#inFlight = batch;
    this.#spool.markSent(batch.first, batch.lines.length);
    void this.#deliver(batch, 0);
  };

  /** Sends `batch` until it is stored or refused; a refused batch of several events is sent again one event at a time. */
  async #deliver(batch: SpoolBatch, attempt: number): Promise<void> {
    const key = `${this.#spool.id}:${batch.first}`;
    const outcome = await this.#send(batch.lines, key);
    if (this.#closed) return;
    if (outcome === 'retry') {
      this.#retryLater(() => void this.#deliver(batch, attempt + 1), attempt);
      return;
    }
    if (outcome === 'final') return;
    if (outcome !== 'stored') {
      if (batch.lines.length === 1) this.#refused(outcome);
      else if (!(await this.#deliverOneByOne(batch, key))) return;
    }
    this.#done(batch);
  }

  /**
   * After a refusal of the whole batch (nothing of it was stored): each event alone, with a key
   * of its own derived from the batch's, so that each gets its own verdict. False when stopped.
   */
  async #deliverOneByOne(batch: SpoolBatch, key: string): Promise<boolean> {
    for (let index = 0; index < batch.lines.length; index++) {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.#send([batch.lines[index]!], `${key}/${index}`);
        if (this.#closed || outcome === 'final') return false;
        if (outcome === 'stored') break;
        if (outcome !== 'retry') {
          this.#refused(outcome);
          break;
        }
        await new Promise<void>((resolve) => this.#retryLater(resolve, attempt));
        if (this.#closed) return false;
      }
    }
    return true;
  }

  async #send(lines: string[], key: string): Promise<'stored' | 'retry' | 'final' | JournalError> {
    try {
      await this.#context.producer.appendEncoded(lines, key);
    } catch (error) {
      if (this.#closed) return 'final';
      const verdict = classify(error, this.#context.connection);
      if (verdict === 'final') {
        if (!this.#final) this.#context.report(asJournalError(error, 'the connection closed'));
        this.#onClosed();
        return 'final';
      }
      if (verdict === 'retry') return 'retry';
      return asJournalError(error, 'the server refused log events');
    }
    return 'stored';
  }

  #refused(error: JournalError): void {
    this.#drop(1);
    this.#context.report(error);
  }

  #done(batch: SpoolBatch): void {
    this.#inFlight = undefined;
    const upTo = batch.first + batch.lines.length;
    try {
      this.#spool.ack(upTo);
    } catch (error) {
      this.#context.report(asJournalError(error, 'the spool could not be written'));
    }
    const acked = this.#spool.acked;
    const release = (waiter: { target: number; resolve: () => void }): boolean => {
      if (waiter.target > acked) return true;
      waiter.resolve();
      return false;
    };
    if (this.#waiters.length > 0) this.#waiters = this.#waiters.filter(release);
    if (this.#ackWaiters.length > 0) this.#ackWaiters = this.#ackWaiters.filter(release);
    if (this.#unreported > 0) {
      const count = this.#unreported;
      this.#unreported = 0;
      this.push(this.#context.droppedWarning(count));
    }
    this.#schedule();
  }

  #retryLater(then: () => void, attempt: number): void {
    this.#clearRetryTimer();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      then();
    }, retryDelay(attempt) * 1000);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }
}

