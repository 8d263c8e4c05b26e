/** The `webhook` handler: each event as an HTTP POST of JSON, with Node's (or the browser's) `fetch`. */
import type { JournalEvent } from '../journal-event.js';
import { checkOptions, checkPositive } from '../validate.js';
import { eventKey, failed, refused, type Delivery, type EventHandler } from './handler.js';

export interface WebhookHandlerOptions {
  /** Seconds to wait for the answer; past it the send fails (and is retried). @default 10 */
  timeout?: number;
  /** Headers sent with every request (an `Authorization`, say), besides `Content-Type` and `Idempotency-Key`. */
  headers?: Record<string, string>;
}

const KNOWN_OPTIONS = ['timeout', 'headers'] as const;

/**
 * POSTs each event as JSON (`JSON.stringify(event)`, the `JournalEvent.toJSON()` shape) to
 * a URL, with `Idempotency-Key: journal:seq` when a forwarder sends it, so that a receiver
 * can store an event it is sent twice (at-least-once delivery) once.
 *
 * - 2xx: taken.
 * - 408, 429, 5xx, a network error, no answer within `timeout`: failed for now; the
 *   forwarder retries with capped backoff.
 * - Any other status (other 4xx, and 3xx: redirects are not followed): refused for good
 *   (`EVENT_REFUSED`); the forwarder's refusal policy applies.
 *
 * Configured as `webhook=URL`.
 */
export class WebhookHandler implements EventHandler {
  readonly name = 'webhook';
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;

  constructor(url: string, options: WebhookHandlerOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`the webhook handler needs an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`the webhook handler needs an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    checkOptions(options, KNOWN_OPTIONS);
    this.url = url;
    this.#timeoutMs = checkPositive(options.timeout ?? 10, 'options.timeout') * 1000;
    const headers = options.headers ?? {};
    if (typeof headers !== 'object' || headers === null || Object.values(headers).some((value) => typeof value !== 'string')) {
      throw new TypeError('options.headers must be an object of strings');
    }
    this.#headers = { ...headers };
  }

  async send(event: JournalEvent, delivery?: Delivery): Promise<void> {
    const headers: Record<string, string> = { ...this.#headers, 'content-type': 'application/json' };
    if (delivery !== undefined && event.seq !== undefined) headers['idempotency-key'] = eventKey(delivery.journal, event.seq);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = delivery?.signal === undefined ? timeout : anySignal(delivery.signal, timeout);
    const what = `POST ${this.url}${headers['idempotency-key'] === undefined ? '' : ` (${headers['idempotency-key']})`}`;
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(event), signal, redirect: 'manual' });
    } catch (error) {
      if (delivery?.signal?.aborted) throw delivery.signal.reason;
      const reason = timeout.aborted ? `no answer within ${this.#timeoutMs / 1000} s` : describe(error);
      throw failed(`${what}: ${reason}`, error);
    }
    // The answer's body is not needed: dropping it frees the connection for the next request.
    await response.body?.cancel().catch(() => {});
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const message = `${what}: HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
    if (status === 408 || status === 429 || status >= 500) throw failed(message);
    throw refused(message);
  }

  encodeConfig(): string {
    return this.url;
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const detail = cause?.code ?? cause?.message;
  const message = error instanceof Error ? error.message : String(error);
  return detail === undefined ? message : `${message} (${detail})`;
}

/** Aborted when either is (`AbortSignal.any`, where the runtime has it: Node.js 20.3 and later). */
function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const controller = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}
