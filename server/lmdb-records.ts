/**
 * How LmdbStore lays out a journal's events in LMDB: as chunks of consecutive
 * events under the key `[journal, micros of the chunk's last event]`.
 *
 * A chunk holds the events of one journal that one transaction commits, up to
 * CHUNK_EVENTS of them or CHUNK_UNITS of text (an event larger than that gets
 * a chunk of its own). One put per chunk instead of one per event spares the
 * event loop lmdb-js's per-put encoding and LMDB's write thread a B-tree insert
 * per event; keying a chunk by its *last* event lets one forward seek to
 * `[journal, micros]` land on the chunk holding the first event at or after
 * `micros`.
 *
 * Text layout (no byte of it is binary; lengths count UTF-16 units):
 *
 *     chunk  = "~" first ":" entry…
 *     entry  = (micros - first) ":" value.length ":" value
 *     value  = [ "k" count ":" key.length ":" key ] seq ":" name.length ":" name json
 *
 * `value` is also what earlier versions stored alone, one event per key (then
 * the key's micros is the event's): such records are read as they are. The
 * `k…` part marks the first event of a batch appended with a batch key, and
 * `count` is the batch's length, so idempotency costs no record of its own.
 */
import type { StoredEvent } from './store.js';

/** A chunk's text starts with `~`; an earlier version's one-event value starts with a digit or `k`. */
const CHUNK = 0x7e;
/** A value that starts with `k` carries its batch's key: it is the batch's first event. */
const KEYED = 0x6b;

/** Events per chunk at most. */
export const CHUNK_EVENTS = 128;
/** UTF-16 units of values per chunk at most, unless one event alone is larger. */
export const CHUNK_UNITS = 32 * 1024;

/** One event as a chunk entry's value, with the batch key prefix `keyPrefix` (`''` but for a keyed batch's first event). */
export function packValue(seq: number, name: string, json: string, keyPrefix: string): string {
  return `${keyPrefix}${seq}:${name.length}:${name}${json}`;
}

/** The prefix that marks a keyed batch's first event. */
export function batchKeyPrefix(key: string, count: number): string {
  return `k${count}:${key.length}:${key}`;
}

/**
 * Builds the chunks of one journal's events, oldest first, and hands each finished one to `put`.
 *
 * A chunk is handed over as a string, which lmdb-js copies into a buffer of its own. Chunks
 * encoded into buffers of ours instead spared that copy (~0.3 µs per event in-process), but
 * the server's anonymous memory grew 13-16 MB more over a 1 GB flood (+30 to +45 MB against
 * +14 to +31 MB, `test/slow-consumer.stress.test.ts`), for reasons not found: strings it is.
 */
export class ChunkWriter {
  readonly #put: (lastMicros: number, chunk: string) => void;
  #text = '';
  #first = 0;
  #last = 0;
  #events = 0;
  #units = 0;

  constructor(put: (lastMicros: number, chunk: string) => void) {
    this.#put = put;
  }

  /** Adds the event at `micros` (later than any added before) stored as `value`. */
  add(micros: number, value: string): void {
    if (this.#events > 0 && (this.#events === CHUNK_EVENTS || this.#units + value.length > CHUNK_UNITS)) this.end();
    if (this.#events === 0) {
      this.#first = micros;
      this.#text = `~${micros}:`;
    }
    this.#text += `${micros - this.#first}:${value.length}:${value}`;
    this.#last = micros;
    this.#events++;
    this.#units += value.length;
  }

  /** Puts the chunk being built, if any. */
  end(): void {
    if (this.#events === 0) return;
    this.#put(this.#last, this.#text);
    this.#text = '';
    this.#events = 0;
    this.#units = 0;
  }
}

/** One stored record's events, whatever its format: a chunk, or an earlier version's single event. */
export class RecordReader {
  /** The record's text, and where the next entry starts (or its length when there is none). */
  #text = '';
  #at = 0;
  #first = 0;
  /** For an earlier version's record: its micros, until its one event is read. */
  #single: number | undefined;
  /** The entry last read: its micros, and where its value starts and ends in `#text`. */
  micros = 0;
  start = 0;
  end = 0;

  /** Starts reading the record stored under `[journal, keyMicros]`. */
  reset(keyMicros: number, text: string): this {
    this.#text = text;
    if (text.charCodeAt(0) === CHUNK) {
      const colon = text.indexOf(':', 1);
      this.#first = readInt(text, 1, colon);
      this.#at = colon + 1;
      this.#single = undefined;
    } else {
      this.#at = 0;
      this.#single = keyMicros;
    }
    return this;
  }

  /** Moves to the next entry (setting `micros`, `start`, `end`); false when there is none. */
  next(): boolean {
    const text = this.#text;
    if (this.#single !== undefined) {
      this.micros = this.#single;
      this.start = 0;
      this.end = text.length;
      this.#single = undefined;
      this.#at = text.length;
      return true;
    }
    if (this.#at >= text.length) return false;
    const deltaEnd = text.indexOf(':', this.#at);
    const lengthEnd = text.indexOf(':', deltaEnd + 1);
    this.micros = this.#first + readInt(text, this.#at, deltaEnd);
    this.start = lengthEnd + 1;
    this.end = this.start + readInt(text, deltaEnd + 1, lengthEnd);
    this.#at = this.end;
    return true;
  }

  /** True when the entry last read is the first event of a keyed batch. */
  get keyed(): boolean {
    return this.#text.charCodeAt(this.start) === KEYED;
  }

  /** The batch key of the entry last read, and its batch's length; call only when `keyed`. */
  batchKey(): { key: string; count: number } {
    const text = this.#text;
    const { countEnd, keyStart, keyEnd } = keyPrefix(text, this.start);
    return { key: text.slice(keyStart, keyEnd), count: readInt(text, this.start + 1, countEnd) };
  }

  /** The seq of the entry last read, without building its event. */
  seq(): number {
    const text = this.#text;
    const at = text.charCodeAt(this.start) === KEYED ? keyPrefix(text, this.start).keyEnd : this.start;
    return readInt(text, at, text.indexOf(':', at));
  }

  /** The entry last read as a stored event. */
  event(): StoredEvent {
    return unpackValue(this.#text, this.micros, this.start, this.end);
  }
}

/** The event stored as the value `text.slice(start, end)`, at `micros`; its name and JSON are slices of `text`. */
function unpackValue(text: string, micros: number, start: number, end: number): StoredEvent {
  const at = text.charCodeAt(start) === KEYED ? keyPrefix(text, start).keyEnd : start;
  const seqEnd = text.indexOf(':', at);
  const nameLengthEnd = text.indexOf(':', seqEnd + 1);
  const nameEnd = nameLengthEnd + 1 + readInt(text, seqEnd + 1, nameLengthEnd);
  return {
    seq: readInt(text, at, seqEnd),
    timestamp: micros / 1e6,
    name: text.slice(nameLengthEnd + 1, nameEnd),
    json: text.slice(nameEnd, end),
  };
}

/** Where the parts of the batch key prefix `k${count}:${key.length}:${key}` at `start` end. */
function keyPrefix(text: string, start: number): { countEnd: number; keyStart: number; keyEnd: number } {
  const countEnd = text.indexOf(':', start);
  const lengthEnd = text.indexOf(':', countEnd + 1);
  return { countEnd, keyStart: lengthEnd + 1, keyEnd: lengthEnd + 1 + readInt(text, countEnd + 1, lengthEnd) };
}

/** The decimal integer in `text` from `start` to `end`, read without a substring. */
function readInt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (text.charCodeAt(i) - 0x30);
  return value;
}
