/**
 * Numbers JSON cannot hold. `JSON.parse` reads `1e309` as `Infinity`, which `JSON.stringify`
 * writes as `null`: stored, the event would say something else than what was sent. Appends
 * holding such a number are refused with `INVALID_EVENT` naming where it is.
 */

/** Containers looked into at most (the frame decoder bounds nesting already; this bounds the walk). */
const MAX_DEPTH = 128;

/**
 * Where `context` holds a number that is not finite (`context.a.b[2]`), or `undefined` when it
 * holds none. `contextJson` is `JSON.stringify(context)`: a context whose JSON has no `null`
 * holds no such number, so most contexts cost one `includes`.
 */
export function nonFiniteNumberPath(context: unknown, contextJson: string): string | undefined {
  if (!contextJson.includes('null')) return undefined;
  return find(context, 'context', 0);
}

function find(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = find(value[i], `${path}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = find((value as Record<string, unknown>)[key], `${path}.${key.length > 40 ? `${key.slice(0, 40)}…` : key}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
