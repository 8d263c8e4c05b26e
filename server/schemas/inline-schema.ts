/**
 * Which schemas are validated on the event loop, not in a worker thread. A worker costs more
 * than a plain schema's validation (a message each way, a thread woken), so a schema whose
 * compiling and checking are proved cheap runs inline: small, and made only of keywords whose
 * cost grows with the context's size and nothing else.
 *
 * Without `$ref`, combinators (`anyOf`, `oneOf`, `allOf`, `not`, `if`) or `patternProperties`,
 * each value of a context meets at most one subschema (the one at its path), whose keywords
 * each cost at most one pass over the value: `pattern`s proved linear on JavaScript's own
 * engine (linear-pattern.ts), `enum`s of a few primitives, no `uniqueItems` (quadratic) and no
 * `format` (its expressions are ajv-formats', not proved here). A context is then checked in
 * time linear in its size, which the server's limits bound, and a schema of at most
 * INLINE_SCHEMA_UNITS compiles in about a millisecond. Every other schema runs in the worker pool.
 */
import { linearNativePattern } from './linear-pattern.js';

/** The longest schema, in UTF-16 units of its JSON, that may run inline. */
export const INLINE_SCHEMA_UNITS = 8 * 1024;
/** Entries of an `enum` at most. */
const MAX_ENUM = 64;
/** Subschemas nested deeper than this go to the worker pool. */
const MAX_DEPTH = 16;

/** Keywords that annotate and cost nothing (to Ajv, and to text-check.ts). */
export const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', 'version']);
/** Keywords checked in constant time per value (numbers, lengths, counts, required names). */
const CONSTANT = new Set([
  'type',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
]);

/**
 * True when the schema (its canonical JSON) may be validated on the event loop; false sends it
 * to the worker pool. Never throws.
 */
export function runsInline(json: string): boolean {
  if (json.length > INLINE_SCHEMA_UNITS) return false;
  try {
    return plain(JSON.parse(json), 0);
  } catch {
    return false;
  }
}

function plain(schema: unknown, depth: number): boolean {
  if (typeof schema === 'boolean') return true;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema) || depth > MAX_DEPTH) return false;
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword) || CONSTANT.has(keyword)) continue;
    switch (keyword) {
      case 'pattern':
        if (typeof value !== 'string' || linearNativePattern(value) === undefined) return false;
        break;
      case 'enum':
        if (!Array.isArray(value) || value.length > MAX_ENUM || !value.every(primitive)) return false;
        break;
      case 'const':
        if (!primitive(value)) return false;
        break;
      case 'properties':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
        for (const property of Object.values(value)) if (!plain(property, depth + 1)) return false;
        break;
      case 'additionalProperties':
      case 'items':
        if (!plain(value, depth + 1)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function primitive(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}
