/**
 * The checks a schema passes before the validator sees it, modelled on jupyter_events'
 * event metaschema: a JSON Schema object with `$id` (a URI or URN) and `version` (a positive
 * integer) that describes an event's context, so it has `properties`, none of whose names
 * starts with `__` (jupyter_events reserves those). On top of that, what keeps a schema from
 * being a way in: a size and a nesting depth, and only local `$ref`s, so that compiling it
 * never fetches or resolves anything outside it. Everything here runs on the event loop, in
 * time linear in the schema's size, which `maxSchemaSize` bounds; compiling and validating
 * run in worker threads (validator-pool.ts).
 */
import { ErrorCode, JournalError } from '../../src/errors.js';
import { SCHEMA_ID } from '../../src/protocol.js';
import { isPlainObject } from '../../src/validate.js';

/** Nesting of a schema's JSON, objects and arrays alike. */
export const MAX_SCHEMA_DEPTH = 32;

/** The JSON Schema dialects a schema may declare in `$schema`: draft-07 (the default, as jupyter_events') and 2020-12. */
export type Dialect = 'draft-07' | '2020-12';

const DIALECTS: Record<string, Dialect> = {
  'http://json-schema.org/draft-07/schema': 'draft-07',
  'http://json-schema.org/draft-07/schema#': 'draft-07',
  'https://json-schema.org/draft/2020-12/schema': '2020-12',
  'https://json-schema.org/draft/2020-12/schema#': '2020-12',
};

/** A schema that passed the metaschema: its `$id`, `version`, dialect, and body as canonical JSON. */
export interface CheckedSchema {
  readonly id: string;
  readonly version: number;
  readonly dialect: Dialect;
  /** The body with its object keys sorted, no whitespace: equal bodies give equal text. */
  readonly json: string;
}

/** Keywords whose value is data, not a schema: nothing inside them is a keyword. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'required', 'title', 'description', '$comment']);
/** Keywords whose value maps names to schemas: its keys are names, its values schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas', 'dependencies']);
/** Keywords that refer to another schema by URI: only a fragment of this one (`#…`) is allowed. */
const REFERENCES = new Set(['$ref', '$dynamicRef', '$recursiveRef']);

/**
 * Checks `schema` against the metaschema and the limits, and returns it in canonical form.
 * Throws `JournalError` `INVALID_SCHEMA` naming the first thing wrong.
 */
export function checkSchema(schema: unknown, maxSize: number): CheckedSchema {
  if (!isPlainObject(schema)) invalid('a schema must be a JSON object');
  const id = schema['$id'];
  if (typeof id !== 'string' || !SCHEMA_ID.test(id)) {
    invalid(`$id must be a URI or URN of at most 512 characters (a scheme, a colon, then URI characters), got ${shown(id)}`);
  }
  const version = schema['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    invalid(`version must be a positive integer, got ${shown(version)}`);
  }
  const declared = schema['$schema'];
  const dialect = declared === undefined ? 'draft-07' : typeof declared === 'string' ? DIALECTS[declared] : undefined;
  if (dialect === undefined) {
    invalid(`$schema must be draft-07 (http://json-schema.org/draft-07/schema) or 2020-12 (https://json-schema.org/draft/2020-12/schema), got ${shown(declared)}`);
  }
  const properties = schema['properties'];
  if (!isPlainObject(properties)) invalid('properties must be an object: a schema describes the fields of an event\'s context');
  for (const name of Object.keys(properties)) {
    if (name.startsWith('__')) invalid(`property ${shown(name)}: names starting with "__" are reserved`);
  }
  const json = canonicalJson(schema);
  const size = Buffer.byteLength(json);
  if (size > maxSize) invalid(`the schema is ${size} bytes as JSON; at most ${maxSize}`);
  checkKeywords(schema, '', 0, true);
  return { id, version, dialect, json };
}

/**
 * Walks the schema's keywords: its depth, and its references, which must stay inside it.
 * `$id` below the root would give a part of it a base URI of its own, which could stand in for
 * another schema's, so it is refused too.
 */
function checkKeywords(node: unknown, path: string, depth: number, root: boolean): void {
  if (depth > MAX_SCHEMA_DEPTH) invalid(`${path || '/'}: nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
  if (Array.isArray(node)) {
    node.forEach((item, index) => checkKeywords(item, `${path}/${index}`, depth + 1, false));
    return;
  }
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}/${escapePointer(key)}`;
    if (REFERENCES.has(key)) {
      if (typeof value !== 'string' || !value.startsWith('#')) {
        invalid(`${at}: only references inside the schema ("#…") are allowed, got ${shown(value)}`);
      }
    } else if ((key === '$id' || key === '$schema') && !root) {
      invalid(`${at}: only the schema itself may have ${key}`);
    } else if (DATA_KEYWORDS.has(key)) {
      checkDepth(value, at, depth + 1);
    } else if (SCHEMA_MAPS.has(key) && isPlainObject(value)) {
      for (const [name, schema] of Object.entries(value)) checkKeywords(schema, `${at}/${escapePointer(name)}`, depth + 2, false);
    } else {
      checkKeywords(value, at, depth + 1, false);
    }
  }
}

/** Data inside a schema (an `enum`, a `default`) counts toward its depth too. */
function checkDepth(node: unknown, path: string, depth: number): void {
  if (depth > MAX_SCHEMA_DEPTH) invalid(`${path}: nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
  if (typeof node !== 'object' || node === null) return;
  for (const value of Object.values(node)) checkDepth(value, path, depth + 1);
}

/**
 * `value` as JSON with every object's keys sorted. Throws `INVALID_SCHEMA` past the depth limit
 * (and so never recurses far) or for what JSON cannot hold.
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_SCHEMA_DEPTH + 2) invalid(`nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid('numbers must be finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, depth + 1)).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key], depth + 1)}`).join(',')}}`;
  }
  return invalid(`a schema holds only JSON values, not ${typeof value}`);
}

/** A JSON pointer's reference token for `key`. */
export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A value for a message: primitives as JSON (cut at 80 characters), containers by kind alone. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function invalid(message: string): never {
  throw new JournalError(ErrorCode.INVALID_SCHEMA, message);
}
