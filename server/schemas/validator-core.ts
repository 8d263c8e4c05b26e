/**
 * What a validator pool's worker (validation-worker.ts) does with a request: compiles registered
 * schemas with Ajv and checks contexts against them. Regular expressions (`pattern`,
 * `patternProperties`) run on re2js, a linear-time engine, so that no pattern can backtrack
 * catastrophically (patterns proved linear on JavaScript's own engine run there).
 */
import { Ajv, type Options, type ValidateFunction, type ErrorObject } from 'ajv';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { RE2JS } from 're2js';
import { linearNativePattern } from './linear-pattern.js';
import { boundedDetailText as cut } from '../error-bounds.js';
import { escapePointer } from './metaschema.js';
import type { SchemaSource, WorkerDetail, WorkerReply, WorkerRequest } from './worker-protocol.js';

// Both modules are CommonJS: their default export arrives as `default` or as the module itself.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: typeof Ajv }).default ?? Ajv2020Module) as unknown as typeof Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv, options: { mode: 'fast' }) => Ajv;

/** Compiled validators kept, least recently used dropped first. */
const MAX_COMPILED = 256;

/**
 * A pattern, in JavaScript's syntax, as a linear-time expression (Ajv's `code.regExp` engine):
 * JavaScript's own RegExp when the pattern is proved to run in linear time on it, re2js otherwise.
 */
function linearRegExp(pattern: string, _flags: string): { test(text: string): boolean } {
  const native = linearNativePattern(pattern);
  if (native !== undefined) return native;
  const compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  return { test: (text: string) => compiled.test(text), toString: () => pattern } as { test(text: string): boolean };
}
linearRegExp.code = 'linearRegExp';

const OPTIONS: Options = {
  // Unknown keywords (jupyter_events' `redactionPolicies`, `version`, a vendor's own) are
  // annotations, as JSON Schema says, not mistakes.
  strict: false,
  // The first failure of each event: costly schemas stop early, and `details` stays small.
  allErrors: false,
  // Compiled schemas are not added to the instance by their `$id`: versions of one id coexist.
  addUsedSchema: false,
  // No loadSchema: a reference that does not resolve inside the schema fails to compile; nothing is fetched.
  code: { regExp: linearRegExp },
  logger: false,
};
const draft07 = addFormats(new Ajv(OPTIONS), { mode: 'fast' });
const draft2020 = addFormats(new Ajv2020(OPTIONS), { mode: 'fast' });

/** Compiled validators by key, in use order (a Map iterates in insertion order: the first is the oldest). */
const compiled = new Map<string, { validate: ValidateFunction; ajv: Ajv; body: object }>();

function validatorOf([key, json]: SchemaSource, changes: { compiled: string[]; evicted: string[] }): ValidateFunction {
  const known = compiled.get(key);
  if (known) {
    compiled.delete(key);
    compiled.set(key, known);
    return known.validate;
  }
  const body = JSON.parse(json) as Record<string, unknown>;
  // Ajv would resolve `$id` as the base of every reference; references stay inside the schema.
  delete body['$id'];
  const ajv = body['$schema'] === undefined || String(body['$schema']).includes('draft-07') ? draft07 : draft2020;
  const validate = ajv.compile(body);
  compiled.set(key, { validate, ajv, body });
  changes.compiled.push(key);
  if (compiled.size > MAX_COMPILED) {
    const [oldest, entry] = compiled.entries().next().value!;
    compiled.delete(oldest);
    entry.ajv.removeSchema(entry.body);
    changes.evicted.push(oldest);
  }
  return validate;
}

function detailsOf(index: number, errors: readonly ErrorObject[] | null | undefined): WorkerDetail[] {
  if (!errors || errors.length === 0) return [{ index, path: '', message: 'does not match its schema' }];
  return errors.map((error) => {
    let path = error.instancePath;
    const params = error.params as { missingProperty?: string; additionalProperty?: string };
    if (error.keyword === 'required' && params.missingProperty !== undefined) path += `/${escapePointer(params.missingProperty)}`;
    if (error.keyword === 'additionalProperties' && params.additionalProperty !== undefined) path += `/${escapePointer(params.additionalProperty)}`;
    let message = error.message ?? `fails ${error.keyword}`;
    if (error.keyword === 'required') message = 'is required';
    if (error.keyword === 'additionalProperties') message = 'is not allowed';
    return { index, path: cut(path), message: cut(message) };
  });
}

/** Answers one request of the validator pool's protocol (worker-protocol.ts). */
export function handle(request: WorkerRequest): WorkerReply {
  const changes = { compiled: [] as string[], evicted: [] as string[] };
  if (request.op === 'compile') {
    try {
      validatorOf(request.schema, changes);
      return { seq: request.seq, ...changes };
    } catch (error) {
      return { seq: request.seq, error: cut((error as Error).message), ...changes };
    }
  }
  const validators: ValidateFunction[] = [];
  try {
    for (const source of request.schemas) validators.push(validatorOf(source, changes));
  } catch (error) {
    return { seq: request.seq, error: cut((error as Error).message), ...changes };
  }
  const details: WorkerDetail[] = [];
  let contexts: unknown[];
  try {
    contexts = JSON.parse(request.contexts) as unknown[];
  } catch (error) {
    return { seq: request.seq, details: [{ index: request.events[1] ?? 0, path: '', message: cut(`cannot be validated: ${(error as Error).message}`) }], ...changes };
  }
  const { events } = request;
  for (let at = 0; at < contexts.length; at++) {
    const validate = validators[events[2 * at]!]!;
    const index = events[2 * at + 1]!;
    try {
      if (validate(contexts[at])) continue;
      details.push(...detailsOf(index, validate.errors));
    } catch (error) {
      // A context nested deeper than the worker's stack, say: the event is refused, not the worker.
      details.push({ index, path: '', message: cut(`cannot be validated: ${(error as Error).message}`) });
    }
    if (details.length >= request.maxDetails) break;
  }
  return { seq: request.seq, details: details.slice(0, request.maxDetails), ...changes };
}

