/** How stores key and order registered schemas. */

/**
 * A schema's key in a store: its `$id`, a newline, then its version in 16 digits. Keys sort as
 * schemas are listed, by `$id` then `version`: no character of an id (SCHEMA_ID) sorts below
 * the newline, and every safe integer fits 16 digits.
 */
export function schemaKey(id: string, version: number): string {
  return `${id}\n${String(version).padStart(16, '0')}`;
}

/** The id and version a {@link schemaKey} was made of. */
export function parseSchemaKey(key: string): { id: string; version: number } {
  const newline = key.lastIndexOf('\n');
  return { id: key.slice(0, newline), version: Number(key.slice(newline + 1)) };
}
