/** The `journal` handler: each event appended to a journal on another wsjournal server. */
import { ErrorCode, JournalError } from '../errors.js';
import type { JournalEvent } from '../journal-event.js';
import { JournalProducer } from '../journal-producer.js';
import { checkJournalName, checkOptions, checkOptionalString, checkPositive, checkUrl } from '../validate.js';
import { eventKey, failed, refused, type Delivery, type EventHandler } from './handler.js';

export interface JournalHandlerOptions {
  /** Bearer token for the other server. */
  token?: string;
  /**
   * Seconds to wait for the other server to acknowledge an append (while it is away, the
   * append waits for the reconnect); past it the send fails, and the forwarder's retry
   * sends it again with the same key. @default 30
   */
  timeout?: number;
}

/** Refusals that sending again cannot change: the event itself, or what the server allows. */
const FOR_GOOD: ReadonlySet<string> = new Set([
  ErrorCode.INVALID_EVENT,
  ErrorCode.INVALID_JOURNAL,
  ErrorCode.EVENT_TOO_LARGE,
  ErrorCode.TOO_MANY_EVENTS,
  ErrorCode.BAD_FRAME,
  'UNKNOWN_SCHEMA',
  'SCHEMA_VIOLATION',
  'SCHEMA_REQUIRED',
  'SCHEMA_NOT_ALLOWED',
  'FORBIDDEN',
]);

/**
 * Appends each event (its name, context, and schema if it names one, which the other server
 * must know) to a journal on another server, each in a batch
 * of its own keyed `journal:seq` (the source journal and the event's seq), so that an event
 * sent again after a forwarder's restart is stored once (the server remembers a journal's
 * last 10,000 batch keys). Events of a batch are sent together and stored in order.
 *
 * Configured as `journal=JOURNAL@URL`, e.g. `journal=copy@ws://10.0.0.2:7707` (no token;
 * construct it with `{ token }` for a server that asks for one).
 */
export class JournalHandler implements EventHandler {
  readonly name = 'journal';
  readonly url: string;
  readonly journal: string;
  readonly #producer: JournalProducer;
  readonly #timeoutMs: number;

  constructor(url: string, journal: string, options: JournalHandlerOptions = {}) {
    checkOptions(options, ['token', 'timeout']);
    this.#timeoutMs = checkPositive(options.timeout ?? 30, 'options.timeout') * 1000;
    this.url = checkUrl(url);
    this.journal = checkJournalName(journal);
    const token = checkOptionalString(options.token, 'options.token');
    this.#producer = new JournalProducer(url, journal, token === undefined ? {} : { token });
  }

  /** `JOURNAL@URL` as the `journal` handler's configuration. */
  static fromConfig(config: string): JournalHandler {
    const at = config.indexOf('@');
    if (at <= 0) throw new TypeError(`the journal handler's configuration is JOURNAL@URL, got ${JSON.stringify(config)}`);
    return new JournalHandler(config.slice(at + 1), config.slice(0, at));
  }

  send(event: JournalEvent, delivery?: Delivery): Promise<void> {
    return this.#append(event, delivery);
  }

  async sendBatch(events: readonly JournalEvent[], delivery?: Delivery): Promise<void> {
    // All in flight at once: the connection sends them in order and the server stores them so.
    await Promise.all(events.map((event) => this.#append(event, delivery)));
  }

  encodeConfig(): string {
    return `${this.journal}@${this.url}`;
  }

  close(): Promise<void> {
    return this.#producer.close();
  }

  async #append(event: JournalEvent, delivery: Delivery | undefined): Promise<void> {
    if (event.name === undefined) return;
    const options = delivery !== undefined && event.seq !== undefined ? { key: eventKey(delivery.journal, event.seq) } : {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const appended = this.#producer.appendMany([{ name: event.name, context: event.context, ...(event.schema === undefined ? {} : { schema: event.schema }) }], options);
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new JournalError(ErrorCode.TIMEOUT, `no acknowledgement within ${this.#timeoutMs / 1000} s`)), this.#timeoutMs);
      });
      // The append left behind is not lost: if it lands, the resend with its key is acknowledged without a second copy.
      appended.catch(() => {});
      await Promise.race([appended, late]);
    } catch (error) {
      const what = `appending ${delivery === undefined ? event.name : eventKey(delivery.journal, event.seq ?? 0)} to ${this.journal} at ${this.url}`;
      const code = error instanceof JournalError ? error.code : undefined;
      if (code !== undefined && FOR_GOOD.has(code)) throw refused(`${what}: ${code}: ${(error as Error).message}`, error);
      throw failed(`${what}: ${(error as Error).message}`, error);
    } finally {
      clearTimeout(timer);
    }
  }
}
