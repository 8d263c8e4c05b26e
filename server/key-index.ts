/**
 * The newest batch keys of one journal, each with where its batch starts, in
 * typed arrays: remembering a key allocates nothing on the JavaScript heap.
 *
 * At 10,000 appends/s a key lives about a second in a 10,000-key window, long
 * enough for the garbage collector to promote it; keys held as strings in a Map
 * made every young-generation collection of the server copy ~1.5 MB and pause
 * ~4 ms. Here a key is kept as a 32-bit hash only, so `find` returns the
 * places of batches whose key *may* be the one asked for; the caller checks
 * each against the key stored with its batch.
 */

/** Slots the index starts with; it doubles up to its limit. */
const INITIAL_CAPACITY = 64;
const NONE = -1;

export class KeyIndex {
  readonly #limit: number;
  /** Per slot, a ring in insertion order: the key's hash, its batch's first micros, the next slot of its bucket. */
  #hashes: Int32Array;
  #micros: Float64Array;
  #next: Int32Array;
  /** Bucket (hash & mask) → its newest slot, or NONE. */
  #buckets: Int32Array;
  /** The oldest slot, and how many are used. */
  #start = 0;
  #size = 0;

  /** Holds at most `limit` keys; remembering one more forgets the oldest. */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    this.#limit = limit;
    const capacity = Math.min(INITIAL_CAPACITY, limit);
    this.#hashes = new Int32Array(capacity);
    this.#micros = new Float64Array(capacity);
    this.#next = new Int32Array(capacity);
    this.#buckets = new Int32Array(bucketCount(capacity)).fill(NONE);
  }

  get size(): number {
    return this.#size;
  }

  /** Remembers `key` as the newest, for the batch whose first event is at `micros`. */
  remember(key: string, micros: number): void {
    if (this.#size === this.#hashes.length) {
      if (this.#size < this.#limit) this.#grow();
      else this.#forgetOldest();
    }
    const slot = (this.#start + this.#size) % this.#hashes.length;
    const hash = hashKey(key);
    const bucket = hash & (this.#buckets.length - 1);
    this.#hashes[slot] = hash;
    this.#micros[slot] = micros;
    this.#next[slot] = this.#buckets[bucket]!;
    this.#buckets[bucket] = slot;
    this.#size++;
  }

  /** The first micros of each remembered batch whose key hashes like `key`, newest first: usually none or one. */
  find(key: string): number[] {
    const hash = hashKey(key);
    const found: number[] = [];
    for (let slot = this.#buckets[hash & (this.#buckets.length - 1)]!; slot !== NONE; slot = this.#next[slot]!) {
      if (this.#hashes[slot] === hash) found.push(this.#micros[slot]!);
    }
    return found;
  }

  /** Unlinks the oldest slot from its bucket; it is the last of its chain, since chains run newest first. */
  #forgetOldest(): void {
    const oldest = this.#start;
    const bucket = this.#hashes[oldest]! & (this.#buckets.length - 1);
    let slot = this.#buckets[bucket]!;
    if (slot === oldest) this.#buckets[bucket] = this.#next[oldest]!;
    else {
      while (this.#next[slot] !== oldest) slot = this.#next[slot]!;
      this.#next[slot] = this.#next[oldest]!;
    }
    this.#start = (oldest + 1) % this.#hashes.length;
    this.#size--;
  }

  /** Doubles the slots (up to the limit), oldest first from slot 0, and rebuilds the buckets. */
  #grow(): void {
    const capacity = Math.min(this.#hashes.length * 2, this.#limit);
    const hashes = new Int32Array(capacity);
    const micros = new Float64Array(capacity);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#start + i) % this.#hashes.length;
      hashes[i] = this.#hashes[from]!;
      micros[i] = this.#micros[from]!;
    }
    this.#hashes = hashes;
    this.#micros = micros;
    this.#next = new Int32Array(capacity);
    this.#buckets = new Int32Array(bucketCount(capacity)).fill(NONE);
    this.#start = 0;
    for (let slot = 0; slot < this.#size; slot++) {
      const bucket = hashes[slot]! & (this.#buckets.length - 1);
      this.#next[slot] = this.#buckets[bucket]!;
      this.#buckets[bucket] = slot;
    }
  }
}

/** A power of two at least twice `capacity`: chains stay short. */
function bucketCount(capacity: number): number {
  return 2 ** Math.ceil(Math.log2(capacity * 2));
}

/** FNV-1a over the UTF-16 code units, with a final mix so the low bits (the bucket) depend on every unit. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x7feb352d);
  hash ^= hash >>> 15;
  return hash | 0;
}
