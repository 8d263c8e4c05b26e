/**
 * The body of a registered schema, for an event that names one: asked of the
 * server over the WebSocket with the client library (`listSchemas`, which
 * pages through the registry in `$id`, then `version`, order), and kept for
 * the tab (the 50 last asked for; a registered schema never changes).
 */
import { JournalProducer } from '../src/journal-producer.js';
import type { SchemaRef } from '../src/protocol.js';

/** Schemas kept. */
const CACHE_SIZE = 50;
/** Pages of the registry read to find a first version, at most. */
const MAX_PAGES = 20;
const PAGE = 100;
/** How long a lookup may take, ms: a server that cannot be reached fails it rather than leave it pending. */
const TIMEOUT_MS = 10_000;

export class SchemaLookup {
  readonly #url: string;
  readonly #token: () => string | undefined;
  #producer: JournalProducer | undefined;
  #producerToken: string | undefined;
  readonly #cache = new Map<string, Promise<Record<string, unknown> | undefined>>();

  constructor(wsUrl: string, token: () => string | undefined) {
    this.#url = wsUrl;
    this.#token = token;
  }

  /** The schema `ref` names, or undefined when the server has none such. */
  get(ref: SchemaRef): Promise<Record<string, unknown> | undefined> {
    const key = `${ref.version} ${ref.id}`;
    let found = this.#cache.get(key);
    if (found === undefined) {
      found = withTimeout(this.#find(ref), TIMEOUT_MS);
      this.#cache.set(key, found);
      // A failure is not kept: the next look asks again.
      found.catch(() => this.#cache.delete(key));
      if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    }
    return found;
  }

  /** Closes the connection, if one was opened. Idempotent. */
  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.close();
  }

  async #find(ref: SchemaRef): Promise<Record<string, unknown> | undefined> {
    const producer = this.#connect();
    const matches = (schema: Record<string, unknown>) => schema['$id'] === ref.id && schema['version'] === ref.version;
    if (ref.version > 1) {
      // The registry's order puts it right after the version before it.
      const { schemas } = await producer.listSchemas({ after: { id: ref.id, version: ref.version - 1 }, limit: 1 });
      return schemas.find(matches);
    }
    let after: SchemaRef | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const list = await producer.listSchemas(after === undefined ? { limit: PAGE } : { after, limit: PAGE });
      const found = list.schemas.find(matches);
      if (found !== undefined) return found;
      const passed = list.schemas.some((schema) => typeof schema['$id'] === 'string' && schema['$id'] > ref.id);
      if (passed || list.next === undefined) return undefined;
      after = list.next;
    }
    return undefined;
  }

  /** One producer for the lookups (it never appends), made again when the tab's token changed. */
  #connect(): JournalProducer {
    const token = this.#token();
    if (this.#producer === undefined || token !== this.#producerToken) {
      void this.#producer?.close();
      // A producer needs a journal name; lookups do not use it.
      this.#producer = new JournalProducer(this.#url, 'viewer', token === undefined ? {} : { token });
      this.#producerToken = token;
    }
    return this.#producer;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the server within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
