/** The messages between the validator pool (validator-pool.ts) and its worker threads (validation-worker.ts). */

/** One schema a request needs: its key (`$id` and version) and its canonical JSON. */
export type SchemaSource = readonly [key: string, json: string];

/** Compiles a schema, to tell whether the validator accepts it. */
export interface CompileRequest {
  readonly op: 'compile';
  readonly seq: number;
  readonly schema: SchemaSource;
}

/**
 * Validates contexts. `contexts` is one JSON array of the events' contexts (one string to copy
 * and one `JSON.parse`, where an array of strings would be copied string by string); `events`
 * holds two numbers per context: the index of its schema in `schemas`, and the event's index in
 * its append. At most `maxDetails` details come back.
 */
export interface ValidateRequest {
  readonly op: 'validate';
  readonly seq: number;
  readonly schemas: readonly SchemaSource[];
  readonly contexts: string;
  readonly events: readonly number[];
  readonly maxDetails: number;
}

export type WorkerRequest = CompileRequest | ValidateRequest;

/** One reason an event fails its schema. */
export interface WorkerDetail {
  readonly index: number;
  readonly path: string;
  readonly message: string;
}

/**
 * The answer to request `seq`: `error` when its schema could not be compiled, else `details`
 * (empty when every event passed). `compiled` and `evicted` say how the worker's cache of
 * compiled validators changed, so that the pool knows which requests may need a compile.
 */
export interface WorkerReply {
  readonly seq: number;
  readonly error?: string;
  readonly details?: readonly WorkerDetail[];
  readonly compiled: readonly string[];
  readonly evicted: readonly string[];
}

/** The worker's first message, once its validators can be built. */
export interface WorkerReady {
  readonly ready: true;
}
