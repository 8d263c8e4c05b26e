/**
 * What an append must pass before anything of it is stored: its journal's policy, then each
 * event's schema, which must be registered and match its context. Every check covers the
 * whole batch, and a batch with one bad event is refused whole.
 *
 * Batches whose events name no schema, in journals without a policy, cost one Map lookup and
 * answer at once; the rest answer with a promise, since schemas may have to come from the
 * store and contexts are validated in worker threads (validator-pool.ts).
 */
import { ErrorCode, JournalError, type ErrorDetail } from '../../src/errors.js';
import type { SchemaRef } from '../../src/protocol.js';
import type { JournalPolicies } from '../journal-policies.js';
import type { SchemaRegistry } from './registry.js';
import { MAX_DETAILS, type ValidatorPool } from './validator-pool.js';
import type { SchemaSource } from './worker-protocol.js';

/** What the checks read of an event. */
export interface CheckedEvent {
  readonly schema?: SchemaRef | undefined;
  /** The context as JSON text: what the validator parses. */
  readonly contextJson: string;
}

/** `undefined` when the batch may be stored; otherwise the error that refuses it, with details. */
export type Verdict = JournalError | undefined;

export class AppendCheck {
  readonly #registry: SchemaRegistry;
  readonly #pool: ValidatorPool;
  readonly #policies: JournalPolicies;

  constructor(registry: SchemaRegistry, pool: ValidatorPool, policies: JournalPolicies) {
    this.#registry = registry;
    this.#pool = pool;
    this.#policies = policies;
  }

  /** Checks a batch: a verdict now when no event names a schema, else a promise of one. Never throws or rejects. */
  check(journal: string, events: readonly CheckedEvent[]): Verdict | Promise<Verdict> {
    const policy = this.#policies.empty ? undefined : this.#policies.for(journal);
    let named = false;
    let required: ErrorDetail[] | undefined;
    let disallowed: ErrorDetail[] | undefined;
    for (let index = 0; index < events.length; index++) {
      const { schema } = events[index]!;
      if (schema !== undefined) {
        named = true;
        if (policy?.allowedSchemas !== undefined && !policy.allowedSchemas.has(schema.id)) {
          (disallowed ??= []).push({ index, path: '', message: `schema ${schema.id} is not allowed in this journal` });
        }
      } else if (policy?.requireSchema) {
        (required ??= []).push({ index, path: '', message: 'names no schema' });
      }
    }
    if (required !== undefined) {
      return refusal(ErrorCode.SCHEMA_REQUIRED, `journal ${journal} requires every event to name a schema (policy ${JSON.stringify(policy!.key)})`, required);
    }
    if (disallowed !== undefined) {
      return refusal(ErrorCode.SCHEMA_NOT_ALLOWED, `journal ${journal} allows only the schemas its policy (${JSON.stringify(policy!.key)}) lists`, disallowed);
    }
    return named ? this.#validate(events) : undefined;
  }

  async #validate(events: readonly CheckedEvent[]): Promise<Verdict> {
    try {
      // One entry per distinct schema; each event points at its schema's index. The events of a
      // batch mostly name one schema: the previous event's is tried before the map.
      const indexOf = new Map<string, number>();
      const refs: SchemaRef[] = [];
      /** Two numbers per named event: its schema's index in refs, its index in the batch. */
      const work: number[] = [];
      const contexts: string[] = [];
      let previous: SchemaRef | undefined;
      let at = -1;
      for (let index = 0; index < events.length; index++) {
        const { schema, contextJson } = events[index]!;
        if (schema === undefined) continue;
        if (previous === undefined || schema.id !== previous.id || schema.version !== previous.version) {
          const name = `${schema.version} ${schema.id}`;
          const known = indexOf.get(name);
          if (known === undefined) {
            at = refs.length;
            indexOf.set(name, at);
            refs.push(schema);
          } else {
            at = known;
          }
          previous = schema;
        }
        work.push(at, index);
        contexts.push(contextJson);
      }
      const sources = await Promise.all(refs.map((ref) => this.#registry.cached(ref) ?? this.#registry.load(ref)));
      const unknown = refs.filter((_, at) => sources[at] === undefined);
      if (unknown.length > 0) {
        const details: ErrorDetail[] = [];
        for (let i = 0; i < work.length; i += 2) {
          const schema = work[i]!;
          if (sources[schema] !== undefined) continue;
          const { id, version } = refs[schema]!;
          details.push({ index: work[i + 1]!, path: '', message: `schema ${id} version ${version} is not registered` });
        }
        const [first] = unknown;
        return refusal(ErrorCode.UNKNOWN_SCHEMA, `schema ${first!.id} version ${first!.version} is not registered`, details);
      }
      // Each context is the JSON text of an object: joined with commas in brackets, they are one JSON array.
      const details = await this.#pool.validate(sources as SchemaSource[], `[${contexts.join(',')}]`, work);
      if (details.length === 0) return undefined;
      const [first] = details;
      const where = first!.path === '' ? 'the context' : first!.path;
      return refusal(ErrorCode.SCHEMA_VIOLATION, `event ${first!.index}: ${where} ${first!.message}`, details);
    } catch (error) {
      if (!(error instanceof JournalError)) {
        return new JournalError(ErrorCode.STORE_UNAVAILABLE, `the schemas could not be read: ${(error as Error).message}`, { cause: error });
      }
      // The store failing, or the server closing, says nothing about the events.
      if (error.code === ErrorCode.STORE_UNAVAILABLE || error.code === ErrorCode.SHUTTING_DOWN) return error;
      // A validation past its deadline or heap, or a schema the validator cannot compile.
      return refusal(error.code, error.message, [{ path: '', message: error.message }]);
    }
  }
}

/** A refusal with at most MAX_DETAILS details. */
function refusal(code: string, message: string, details: readonly ErrorDetail[]): JournalError {
  const extra = details.length > 1 ? ` (${details.length > MAX_DETAILS ? `${MAX_DETAILS}+` : details.length} problems)` : '';
  return new JournalError(code, `${message}${extra}`, { details: details.slice(0, MAX_DETAILS) });
}
