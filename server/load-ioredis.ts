/**
 * Loads ioredis when a RedisStore is first made, not when `wsjournal/server`
 * is imported: a server on the embedded store never loads it.
 *
 * Loading it has a cost for every string in the process. ioredis declares
 * `class VerbatimString extends String` (its RESP3 decoder), and V8 leaves
 * `String.prototype` with dictionary properties until an object inherits from
 * it through a fast prototype chain. Until then, optimized code cannot inline
 * `charCodeAt`, `slice` or `indexOf` on a string and calls the generic property
 * lookup instead: the append decoder ran at a quarter of its speed in a server
 * that had merely imported ioredis (0.88 against 0.25 µs per event). A `for…in`
 * over an object that inherits from String.prototype makes V8 turn the chain's prototypes back into fast ones, so it
 * runs once, right after the load.
 */
import { createRequire } from 'node:module';
import type * as Ioredis from 'ioredis';

let loaded: typeof Ioredis | undefined;

/** The ioredis module, loaded on the first call. */
export function loadIoredis(): typeof Ioredis {
  if (loaded === undefined) {
    loaded = createRequire(import.meta.url)('ioredis') as typeof Ioredis;
    restoreFastStringPrototype();
  }
  return loaded;
}

/** Makes V8 give `String.prototype` fast properties again (see above). */
export function restoreFastStringPrototype(): void {
  // Enumerating an object that inherits from String.prototype is what does it; the body never runs.
  for (const key in Object.create(String.prototype) as object) void key;
}
