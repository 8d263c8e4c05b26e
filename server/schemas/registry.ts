/**
 * The schema registry: registers schemas in the store (checked by the metaschema, compiled by
 * the validator pool), and keeps the recently used ones' bodies in memory for validation.
 * Schemas never change once registered, so a body cached here is never stale, and a server
 * learns what another server on the same store registered when an event first names it.
 */
import { ErrorCode, JournalError } from '../../src/errors.js';
import type { SchemaRef } from '../../src/protocol.js';
import { schemaKey } from '../schema-key.js';
import type { JournalStore } from '../store.js';
import { checkSchema } from './metaschema.js';
import type { ValidatorPool } from './validator-pool.js';
import type { SchemaSource } from './worker-protocol.js';

/** Bodies kept in memory at most, by count and by UTF-16 units; the least recently used go first. */
const CACHE_COUNT = 1000;
const CACHE_UNITS = 16 * 1024 * 1024;
/** A page of `list()` stops once its bodies pass this many UTF-16 units (it holds one at least). */
const PAGE_UNITS = 512 * 1024;
/** Schemas per store read while listing. */
const READ_SCHEMAS = 32;

/** What registering a schema did. */
export interface Registration {
  readonly id: string;
  readonly version: number;
  /** False when the same `$id`, `version` and body were registered already: nothing changed. */
  readonly created: boolean;
}

/** A page of registered schemas; `next` says where the following page starts, if there is one. */
export interface SchemaPage {
  readonly schemas: Record<string, unknown>[];
  readonly next: SchemaRef | undefined;
}

export class SchemaRegistry {
  readonly #store: JournalStore;
  readonly #pool: ValidatorPool;
  readonly #maxSchemaSize: number;
  /** Canonical bodies by schema key, in use order (a Map iterates in insertion order). */
  readonly #bodies = new Map<string, string>();
  #units = 0;

  constructor(store: JournalStore, pool: ValidatorPool, maxSchemaSize: number) {
    this.#store = store;
    this.#pool = pool;
    this.#maxSchemaSize = maxSchemaSize;
  }

  /**
   * Registers `schema`, durably, for every server on the store. The same `$id`, `version` and
   * body again is a no-op (`created: false`); another body under them rejects with
   * `SCHEMA_CONFLICT`; a schema the metaschema or the validator refuses, with `INVALID_SCHEMA`.
   */
  async register(schema: unknown): Promise<Registration> {
    const { id, version, json } = checkSchema(schema, this.#maxSchemaSize);
    const key = schemaKey(id, version);
    const known = this.#bodies.get(key) ?? (await this.#store.getSchema(id, version))?.json;
    if (known !== undefined) {
      this.#remember(key, known);
      if (known !== json) throw conflict(id, version);
      return { id, version, created: false };
    }
    await this.#pool.compile([key, json]);
    const { schema: stored, created } = await this.#store.putSchema({ id, version, json });
    this.#remember(key, stored.json);
    if (stored.json !== json) throw conflict(id, version);
    return { id, version, created };
  }

  /** The schema's key and body if it is in memory; else `undefined`, and `load()` asks the store. */
  cached(ref: SchemaRef): SchemaSource | undefined {
    const key = schemaKey(ref.id, ref.version);
    const json = this.#bodies.get(key);
    if (json === undefined) return undefined;
    this.#remember(key, json);
    return [key, json];
  }

  /** The schema's key and body, from memory or the store; `undefined` when it is not registered. */
  async load(ref: SchemaRef): Promise<SchemaSource | undefined> {
    const cached = this.cached(ref);
    if (cached !== undefined) return cached;
    const stored = await this.#store.getSchema(ref.id, ref.version);
    if (stored === undefined) return undefined;
    const key = schemaKey(ref.id, ref.version);
    this.#remember(key, stored.json);
    return [key, stored.json];
  }

  /**
   * Registered schemas in `$id`, then `version`, order, after `after`: at most `limit`, fewer
   * when their bodies are large. The store is read READ_SCHEMAS at a time, so that a page of
   * large bodies reads about PAGE_UNITS of them, not `limit`.
   */
  async list(after: SchemaRef | undefined, limit: number): Promise<SchemaPage> {
    const schemas: Record<string, unknown>[] = [];
    let units = 0;
    let from = after;
    for (;;) {
      const want = Math.min(limit - schemas.length, READ_SCHEMAS);
      // One more than wanted: whether another read is needed.
      const stored = await this.#store.listSchemas(from, want + 1);
      for (let index = 0; index < stored.length; index++) {
        const schema = stored[index]!;
        if (schemas.length === limit || (schemas.length > 0 && units + schema.json.length > PAGE_UNITS)) {
          const last = index === 0 ? from! : stored[index - 1]!;
          return { schemas, next: { id: last.id, version: last.version } };
        }
        if (index === want) break;
        units += schema.json.length;
        schemas.push(JSON.parse(schema.json) as Record<string, unknown>);
      }
      if (stored.length <= want) return { schemas, next: undefined };
      from = stored[want - 1]!;
    }
  }

  #remember(key: string, json: string): void {
    const known = this.#bodies.get(key);
    if (known !== undefined) {
      this.#bodies.delete(key);
      this.#units -= known.length;
    }
    this.#bodies.set(key, json);
    this.#units += json.length;
    while (this.#bodies.size > CACHE_COUNT || (this.#units > CACHE_UNITS && this.#bodies.size > 1)) {
      const [oldest, body] = this.#bodies.entries().next().value!;
      this.#bodies.delete(oldest);
      this.#units -= body.length;
    }
  }
}

function conflict(id: string, version: number): JournalError {
  return new JournalError(
    ErrorCode.SCHEMA_CONFLICT,
    `schema ${id} version ${version} is registered already with another body; register the new body as a new version`,
  );
}
