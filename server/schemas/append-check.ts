/**
 * What an append must pass before anything of it is stored: its journal's policy, then each
 * event's schema, which must be registered and match its context. Every check covers the
 * whole batch, and a batch with one bad event is refused whole.
 *
 * Batches whose events name no schema, in journals without a policy, cost one Map lookup and
 * answer at once. So do batches whose contexts the append decoder checked as it read them
 * (`contextCheck`), and batches whose schemas are in memory when a flat schema's check of each
 * context's text passes it (text-check.ts: no JSON.parse), or when their schemas are proved
 * cheap (inline-schema.ts): those are validated on the event loop, with the same validator the
 * workers run. The rest answer with a promise: their schemas may have to come from the store,
 * and their contexts are validated in worker threads (validator-pool.ts).
 */
import { ErrorCode, JournalError, type ErrorDetail } from '../../src/errors.js';
import type { SchemaRef } from '../../src/protocol.js';
import type { JournalPolicies } from '../journal-policies.js';
import type { SchemaRegistry } from './registry.js';
import type { ValidatorPool } from './validator-pool.js';
import { MAX_ERROR_DETAILS } from '../error-bounds.js';
import { runsInline } from './inline-schema.js';
import { textCheckOf, type TextCheck } from './text-check.js';
import type { SchemaSource, WorkerDetail, WorkerReply, WorkerRequest } from './worker-protocol.js';

/** What the checks read of an event. */
export interface CheckedEvent {
  readonly schema?: SchemaRef | undefined;
  /** The context as JSON text: what the validator parses. */
  readonly contextJson: string;
  /** Where `contextJson` starts in the `source` text given to `check`, when it is a slice of it (else absent or -1). */
  readonly contextStart?: number;
  /** True when the context passed its schema's text check already (the append decoder ran it: {@link AppendCheck.contextCheck}). */
  readonly checked?: boolean;
}

/** `undefined` when the batch may be stored; otherwise the error that refuses it, with details. */
export type Verdict = JournalError | undefined;

export class AppendCheck {
  readonly #registry: SchemaRegistry;
  readonly #pool: ValidatorPool;
  readonly #policies: JournalPolicies;
  /** How each schema seen is validated, by key. */
  readonly #decisions = new Map<string, Decision>();
  /** The inline validator, once loaded. */
  #core: ((request: WorkerRequest) => WorkerReply) | undefined;
  #coreLoading: Promise<void> | undefined;
  /** Set if the inline validator could not be loaded: every schema goes to the pool. */
  #noInline = false;

  constructor(registry: SchemaRegistry, pool: ValidatorPool, policies: JournalPolicies) {
    this.#registry = registry;
    this.#pool = pool;
    this.#policies = policies;
  }

  /**
   * The text check of a schema's contexts, when the schema is in memory and has one: what the
   * append decoder runs on each context as it reads it (append-decoder.ts, ContextCheckOf). An
   * event it passes is marked `checked`, and `check` does not look at its context again.
   */
  readonly contextCheck = (schema: SchemaRef): TextCheck | undefined => {
    const source = this.#registry.cached(schema);
    return source === undefined ? undefined : this.#decision(source).textCheck;
  };

  /**
   * Checks a batch: a verdict now when no event names a schema, or when every schema named is
   * in memory and its text check passes each context or it runs inline (inline-schema.ts); else
   * a promise of one. `source`: the text the events' contexts were sliced from (an append
   * frame's), which the text checks read in place. Never throws or rejects.
   */
  check(journal: string, events: readonly CheckedEvent[], source?: string): Verdict | Promise<Verdict> {
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
    return named ? this.#validate(events, source) : undefined;
  }

  /**
   * The batch's validation: each context first against its schema's text check
   * (text-check.ts), which passes most valid contexts without parsing them; those it cannot
   * pass go to Ajv, inline when their schemas allow it, in the worker pool otherwise.
   */
  #validate(events: readonly CheckedEvent[], source: string | undefined): Verdict | Promise<Verdict> {
    let work = workOf(events);
    // Every context named a schema whose check passed it as it was decoded.
    if (work.pairs.length === 0) return undefined;
    const sources = new Array<SchemaSource | undefined>(work.refs.length);
    const decisions = new Array<Decision>(work.refs.length);
    let inline = true;
    for (let at = 0; at < work.refs.length; at++) {
      const source = this.#registry.cached(work.refs[at]!);
      if (source === undefined) return this.#validateLater(work);
      sources[at] = source;
      decisions[at] = this.#decision(source);
      inline &&= !this.#noInline && decisions[at]!.inline;
    }
    const uncertain = uncertainOf(work, decisions, events, source);
    if (uncertain === undefined) return undefined;
    work = uncertain;
    if (!inline) return this.#validateLater(work, sources as SchemaSource[]);
    // Ajv is loaded on the event loop with the first context a text check cannot pass: a server whose events name no schema never loads it.
    const handle = this.#core;
    if (handle === undefined) return this.#loadCore().then(() => this.#validate(events, source));
    try {
      const reply = handle({ op: 'validate', seq: 0, schemas: sources as SchemaSource[], contexts: `[${work.contexts.join(',')}]`, events: work.pairs, maxDetails: MAX_ERROR_DETAILS + 1 });
      if (reply.error !== undefined) return refusal(ErrorCode.INVALID_SCHEMA, `a schema cannot be compiled: ${reply.error}`, [{ path: '', message: reply.error }]);
      return violation(reply.details ?? []);
    } catch (error) {
      return refusal(ErrorCode.SCHEMA_VIOLATION, `the batch cannot be validated: ${(error as Error).message}`, [{ path: '', message: (error as Error).message }]);
    }
  }

  /** Loads validator-core.ts for inline validation, once; a failure sends every batch to the pool. */
  #loadCore(): Promise<void> {
    this.#coreLoading ??= import('./validator-core.js').then(
      (core) => {
        this.#core = core.handle;
      },
      () => {
        this.#noInline = true;
      },
    );
    return this.#coreLoading;
  }

  /** How a schema is validated, decided once per schema. */
  #decision([key, json]: SchemaSource): Decision {
    let decided = this.#decisions.get(key);
    if (decided === undefined) {
      if (this.#decisions.size >= MAX_DECISIONS) this.#decisions.clear();
      decided = { inline: runsInline(json), textCheck: textCheckOf(json) };
      this.#decisions.set(key, decided);
    }
    return decided;
  }

  async #validateLater(work: Work, known?: readonly SchemaSource[]): Promise<Verdict> {
    try {
      const { refs, pairs, contexts } = work;
      const sources = known ?? (await Promise.all(refs.map((ref) => this.#registry.cached(ref) ?? this.#registry.load(ref))));
      const unknown = refs.filter((_, at) => sources[at] === undefined);
      if (unknown.length > 0) {
        const details: ErrorDetail[] = [];
        for (let i = 0; i < pairs.length; i += 2) {
          const schema = pairs[i]!;
          if (sources[schema] !== undefined) continue;
          const { id, version } = refs[schema]!;
          details.push({ index: pairs[i + 1]!, path: '', message: `schema ${id} version ${version} is not registered` });
        }
        const [first] = unknown;
        return refusal(ErrorCode.UNKNOWN_SCHEMA, `schema ${first!.id} version ${first!.version} is not registered`, details);
      }
      // Each context is the JSON text of an object: joined with commas in brackets, they are one JSON array.
      return violation(await this.#pool.validate(sources as SchemaSource[], `[${contexts.join(',')}]`, pairs));
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

/** How a schema's contexts are validated. */
interface Decision {
  /** By Ajv on the event loop (inline-schema.ts), not in the worker pool. */
  readonly inline: boolean;
  /** The accept-only check of a context's text (text-check.ts), tried before Ajv. */
  readonly textCheck: TextCheck | undefined;
}

/** A batch's named events that no text check passed yet, ready for a validator. */
interface Work {
  /** The distinct schemas named. */
  readonly refs: readonly SchemaRef[];
  /** Two numbers per named event: its schema's index in refs, its index in the batch. */
  readonly pairs: readonly number[];
  /** The named events' contexts, as JSON. */
  readonly contexts: readonly string[];
}

function workOf(events: readonly CheckedEvent[]): Work {
  // One entry per distinct schema; each event points at its schema's index. The events of a
  // batch mostly name one schema: the previous event's is tried before the map.
  const indexOf = new Map<string, number>();
  const refs: SchemaRef[] = [];
  const pairs: number[] = [];
  const contexts: string[] = [];
  let previous: SchemaRef | undefined;
  let at = -1;
  for (let index = 0; index < events.length; index++) {
    const { schema, contextJson, checked } = events[index]!;
    if (schema === undefined || checked === true) continue;
    if (previous === undefined || (schema !== previous && (schema.id !== previous.id || schema.version !== previous.version))) {
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
    pairs.push(at, index);
    contexts.push(contextJson);
  }
  return { refs, pairs, contexts };
}

/** The events of `work` that their schemas' text checks do not pass, or undefined when they pass every one. */
function uncertainOf(work: Work, decisions: readonly Decision[], events: readonly CheckedEvent[], source: string | undefined): Work | undefined {
  const { pairs, contexts } = work;
  let left: { pairs: number[]; contexts: string[] } | undefined;
  for (let n = 0; n < contexts.length; n++) {
    const check = decisions[pairs[2 * n]!]!.textCheck;
    if (check !== undefined) {
      const context = contexts[n]!;
      const start = source === undefined ? -1 : (events[pairs[2 * n + 1]!]!.contextStart ?? -1);
      if (start >= 0 ? check(source!, start) === start + context.length : check(context, 0) === context.length) continue;
    }
    left ??= { pairs: [], contexts: [] };
    left.pairs.push(pairs[2 * n]!, pairs[2 * n + 1]!);
    left.contexts.push(contexts[n]!);
  }
  return left === undefined ? undefined : { refs: work.refs, ...left };
}

/** The verdict of a validation's details: none pass, else SCHEMA_VIOLATION naming the first. */
function violation(details: readonly WorkerDetail[]): Verdict {
  if (details.length === 0) return undefined;
  const [first] = details;
  const where = first!.path === '' ? 'the context' : first!.path;
  return refusal(ErrorCode.SCHEMA_VIOLATION, `event ${first!.index}: ${where} ${first!.message}`, details);
}

/** Decisions kept at most; past it they are made again. */
const MAX_DECISIONS = 1024;

/** A refusal with at most MAX_ERROR_DETAILS details. */
function refusal(code: string, message: string, details: readonly ErrorDetail[]): JournalError {
  const extra = details.length > 1 ? ` (${details.length > MAX_ERROR_DETAILS ? `${MAX_ERROR_DETAILS}+` : details.length} problems)` : '';
  return new JournalError(code, `${message}${extra}`, { details: details.slice(0, MAX_ERROR_DETAILS) });
}
