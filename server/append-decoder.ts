/**
 * The fast path for append frames: reads the exact text the client library writes
 * (`JournalProducer#send` in src/journal-producer.ts) in one forward pass, and takes each
 * event's name and context as slices of that text, with no `JSON.parse` and no
 * `JSON.stringify`. Anything else is left to the general path (`JSON.parse`, then
 * `asAppendFrame` or zod), which accepts or refuses it with its own message.
 *
 * `test/append-decoder.test.ts` holds the two paths to agreement.
 */
import { JOURNAL_NAME, SCHEMA_ID, type SchemaRef } from '../src/protocol.js';
import { QUOTE, BACKSLASH, COMMA, COLON, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET, MINUS, DOT, ZERO, NINE } from './json-chars.js';

/** One event of a decoded append, with its name and context as the frame's JSON text carried them. */
export interface DecodedEvent {
  /** The event's name (non-empty). */
  readonly name: string;
  /** `name` as a JSON string literal, equal to `JSON.stringify(name)`. */
  readonly nameJson: string;
  /** The context as JSON text of an object: `"{}"` when the event had none. */
  readonly contextJson: string;
  /** Where `contextJson` starts in the frame's text (DecodedAppend's `text`); -1 when the event had no context. */
  readonly contextStart: number;
  /** The schema the event names, if any. */
  readonly schema: SchemaRef | undefined;
  /** True when the context passed its schema's text check as it was read (see {@link ContextCheckOf}). */
  readonly checked: boolean;
}

/**
 * The text check of a schema's contexts (server/schemas/text-check.ts), or undefined when it has
 * none or is not known: `check(text, start)` returns the index after the context at `start` when
 * it certainly passes the schema and is JSON this decoder reads the same way, else -1.
 *
 * Given one, `decodeAppend` runs the check of the schema the previous event named on each
 * context before reading it, and reads it no further when it passes: the events of a batch
 * mostly name one schema, and one pass over each context then both reads and checks it.
 */
export type ContextCheckOf = (schema: SchemaRef) => ((text: string, start: number) => number) | undefined;

/** An append frame as {@link decodeAppend} read it: what `asAppendFrame(JSON.parse(text))` would give. */
export interface DecodedAppend {
  readonly id: number;
  readonly journal: string;
  readonly key: string | undefined;
  /** At least one event, in frame order. */
  readonly events: DecodedEvent[];
  /** The frame's text, which each event's context is a slice of. */
  readonly text: string;
}

/**
 * Contexts nested deeper than this are left to the general path, so that the recursion
 * here is bounded whatever the input.
 */
const MAX_DEPTH = 64;

/**
 * Number tokens with more digits than this, or an exponent of more than two digits, are left
 * to the general path: within both bounds a number's magnitude is between 1e-299 and 1e299,
 * so it neither overflows to Infinity (which re-encodes as `null`) nor underflows to zero,
 * and its text parses to the same double that the re-encoded number would.
 */
const MAX_NUMBER_DIGITS = 200;

const HEAD = '{"type":"append","id":';
const JOURNAL = ',"journal":"';
const EVENTS = ',"events":[';
const NAME = '{"name":"';
const CONTEXT = ',"context":';
const KEY = ',"key":"';
const SCHEMA = ',"schema":{"id":"';
const VERSION = '","version":';

/**
 * Decodes `text` when it is an append frame written the way the client library writes it:
 * `{"type":"append","id":N,"journal":"…","events":[{"name":"…","context":{…},"schema":{"id":"…","version":N}},…],"key":"…"}`,
 * no whitespace, the keys in that order, `context`, `schema` and `key` optional.
 *
 * Returns `undefined` for anything else: other key orders, whitespace, extra keys, escapes in
 * the journal, name or key, an id that is not a plain safe integer, contexts nested deeper
 * than 64, number tokens that are `-0`, have more than 200 digits or an exponent of more than
 * two digits, and text that is not a valid append frame at all. `undefined` only means "take the general
 * path", which then accepts or refuses the frame; a result is always what that path would
 * accept, with the same id, journal, key and names, and contexts that parse to the same values.
 * `checkOf` gives the schemas' text checks (see {@link ContextCheckOf}): with it the result is
 * the same but for each event's `checked`. A frame of more than `maxEvents` events is
 * `undefined` once its next event is reached, unread past it. Never throws, unless `checkOf` or
 * a check does.
 *
 * @example
 * decodeAppend('{"type":"append","id":7,"journal":"jobs","events":[{"name":"a","context":{"n":1}}]}');
 * // { id: 7, journal: 'jobs', key: undefined, text, events: [{ name: 'a', nameJson: '"a"', contextJson: '{"n":1}', contextStart: 73, schema: undefined, checked: false }] }
 */
export function decodeAppend(text: string, checkOf?: ContextCheckOf, maxEvents = Infinity): DecodedAppend | undefined {
  if (!text.startsWith(HEAD)) return undefined;
  let i = HEAD.length;

  // The id: a plain integer, no sign, fraction, exponent or leading zero (those reach zod).
  const idStart = i;
  let id = 0;
  let c = text.charCodeAt(i);
  if (c === ZERO) i++;
  else {
    while (c >= ZERO && c <= NINE) {
      id = id * 10 + (c - ZERO);
      c = text.charCodeAt(++i);
    }
  }
  // Past 16 digits the running value may lose precision; such ids are refused by the schema anyway.
  if (i === idStart || i - idStart > 16 || id > Number.MAX_SAFE_INTEGER) return undefined;

  if (!text.startsWith(JOURNAL, i)) return undefined;
  const journalStart = i + JOURNAL.length;
  i = stringEnd(text, journalStart, false);
  if (i < 0 || i - journalStart > 129) return undefined;
  const journal = text.slice(journalStart, i - 1);
  if (!JOURNAL_NAME.test(journal)) return undefined;

  if (!text.startsWith(EVENTS, i)) return undefined;
  i += EVENTS.length;
  const events: DecodedEvent[] = [];
  /** The last `,"schema":{…}` member read, and its ref. */
  let previousMember: string | undefined;
  let previousSchema: SchemaRef | undefined;
  /** The check of previousSchema, tried on the next context. */
  let previousCheck: ((text: string, start: number) => number) | undefined;
  for (;;) {
    // An empty array fails here too, and the general path gives its message.
    if (!text.startsWith(NAME, i)) return undefined;
    const nameStart = i + NAME.length - 1;
    i = stringEnd(text, nameStart + 1, false);
    // Without escapes the literal's inside is the name itself, and it is what JSON.stringify writes.
    if (i < 0 || i - nameStart === 2) return undefined;
    const nameJson = text.slice(nameStart, i);
    let contextJson = '{}';
    let contextStart = -1;
    /** Whether the context passed previousSchema's check. */
    let checked = false;
    if (text.startsWith(CONTEXT, i)) {
      contextStart = i + CONTEXT.length;
      // Only an object is a context; null, arrays and the rest are the general path's to refuse.
      if (text.charCodeAt(contextStart) !== OPEN_BRACE) return undefined;
      const end = previousCheck === undefined ? -1 : previousCheck(text, contextStart);
      checked = end >= 0;
      i = checked ? end : objectEnd(text, contextStart, 1);
      if (i < 0) return undefined;
      contextJson = text.slice(contextStart, i);
    }
    let schema: SchemaRef | undefined;
    if (previousMember !== undefined && text.slice(i, i + previousMember.length) === previousMember) {
      // The events of a batch mostly name one schema: the previous event's member, as it was written, is the same ref
      // (a slice and a comparison cost a tenth of what startsWith at an offset does here).
      i += previousMember.length;
      schema = previousSchema;
    } else if (text.startsWith(SCHEMA, i)) {
      const memberStart = i;
      const idStart = i + SCHEMA.length;
      const idEnd = text.indexOf('"', idStart);
      // An id is a URI or URN: no escapes, so its string is its text (SCHEMA_ID says which characters).
      if (idEnd < 0 || idEnd - idStart > 512) return undefined;
      const id = text.slice(idStart, idEnd);
      if (!SCHEMA_ID.test(id) || !text.startsWith(VERSION, idEnd)) return undefined;
      i = idEnd + VERSION.length;
      // The version: a positive safe integer, plainly written (no sign, fraction, exponent or leading zero).
      const versionStart = i;
      let version = 0;
      c = text.charCodeAt(i);
      if (c === ZERO) return undefined;
      while (c >= ZERO && c <= NINE) {
        version = version * 10 + (c - ZERO);
        c = text.charCodeAt(++i);
      }
      if (i === versionStart || i - versionStart > 16 || version > Number.MAX_SAFE_INTEGER || c !== CLOSE_BRACE) return undefined;
      i++;
      schema = { id, version };
      previousMember = text.slice(memberStart, i);
      previousSchema = schema;
      previousCheck = checkOf?.(schema);
      // The context was checked against another schema, if any.
      checked = false;
    } else {
      checked = false;
    }
    if (text.charCodeAt(i) !== CLOSE_BRACE) return undefined;
    // A batch over the limit is the general path's to refuse, before any more of it is read.
    if (events.length === maxEvents) return undefined;
    events.push({ name: nameJson.slice(1, -1), nameJson, contextJson, contextStart, schema, checked });
    c = text.charCodeAt(++i);
    i++;
    if (c === CLOSE_BRACKET) break;
    if (c !== COMMA) return undefined;
  }

  let key: string | undefined;
  if (text.startsWith(KEY, i)) {
    const keyStart = i + KEY.length;
    i = stringEnd(text, keyStart, false);
    if (i < 0) return undefined;
    // The bounds count UTF-16 units, as the schema's `.min(1).max(128)` does.
    const length = i - 1 - keyStart;
    if (length < 1 || length > 128) return undefined;
    key = text.slice(keyStart, i - 1);
  }
  if (i !== text.length - 1 || text.charCodeAt(i) !== CLOSE_BRACE) return undefined;
  return { id, journal, key, events, text };
}

/**
 * A run of characters that a JSON string holds as they are (no quote, backslash, control
 * character or surrogate): what stringEnd skips in one step once a run is longer than SHORT_RUN.
 * A regular expression costs more than a loop on the first characters and less on the rest
 * (measured here: the loop 16 ns for 5 characters against 33, 966 ns for 400 against 278).
 */
const PLAIN_RUN = /[^"\\\x00-\x1f\ud800-\udfff]*/y;
/** Characters read one at a time before PLAIN_RUN takes over (a loop is faster on short strings). */
export const SHORT_RUN = 16;

/** The index where the run of plain characters (see PLAIN_RUN) starting at `i` ends. */
export function plainRunEnd(text: string, i: number): number {
  PLAIN_RUN.lastIndex = i;
  PLAIN_RUN.test(text);
  return PLAIN_RUN.lastIndex;
}

/**
 * Reads a JSON string whose opening quote is just before `i`. Returns the index after the
 * closing quote, or -1 when the string is not valid JSON, holds a lone surrogate, or holds
 * a backslash escape where `escapes` is false.
 */
function stringEnd(text: string, i: number, escapes: boolean): number {
  for (;;) {
    // Most characters need no other look; NaN past the end leaves the loop too. Past the
    // first few, the rest of the run is skipped by PLAIN_RUN, several times faster per character.
    let c = text.charCodeAt(i);
    for (let n = 0; c !== QUOTE && c !== BACKSLASH && c >= 0x20 && c < 0xd800; n++) {
      if (n === SHORT_RUN) {
        i = plainRunEnd(text, i);
        c = text.charCodeAt(i);
        break;
      }
      c = text.charCodeAt(++i);
    }
    i++;
    if (c === QUOTE) return i;
    if (c === BACKSLASH) {
      if (!escapes) return -1;
      const e = text.charCodeAt(i++);
      if (e === 0x75 /* u */) {
        if (!isHex(text.charCodeAt(i)) || !isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2)) || !isHex(text.charCodeAt(i + 3))) {
          return -1;
        }
        i += 4;
      } else if (
        e !== QUOTE && e !== BACKSLASH && e !== 0x2f /* / */ && e !== 0x62 /* b */ &&
        e !== 0x66 /* f */ && e !== 0x6e /* n */ && e !== 0x72 /* r */ && e !== 0x74 /* t */
      ) {
        return -1;
      }
    } else if (c >= 0xd800 && c < 0xdc00) {
      // A lone surrogate would be written out as U+FFFD in UTF-8, where JSON.stringify
      // escapes it; text read from a socket never holds one, so refusing it costs nothing.
      const low = text.charCodeAt(i++);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
    } else if (!(c > 0xdfff)) {
      // A control character, a lone low surrogate, or the end of the text.
      return -1;
    }
  }
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** Reads the object opening at `i`, `depth` levels deep; the index after it, or -1. */
function objectEnd(text: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  i++;
  if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    i = stringEnd(text, i + 1, true);
    if (i < 0 || text.charCodeAt(i) !== COLON) return -1;
    i = valueEnd(text, i + 1, depth);
    if (i < 0) return -1;
    const c = text.charCodeAt(i++);
    if (c === CLOSE_BRACE) return i;
    if (c !== COMMA) return -1;
  }
}

/** Reads the array opening at `i`, `depth` levels deep; the index after it, or -1. */
function arrayEnd(text: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  i++;
  if (text.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
  for (;;) {
    i = valueEnd(text, i, depth);
    if (i < 0) return -1;
    const c = text.charCodeAt(i++);
    if (c === CLOSE_BRACKET) return i;
    if (c !== COMMA) return -1;
  }
}

/** Reads the value starting at `i` inside a container `depth` levels deep; the index after it, or -1. */
export function valueEnd(text: string, i: number, depth: number): number {
  switch (text.charCodeAt(i)) {
    case QUOTE:
      return stringEnd(text, i + 1, true);
    case OPEN_BRACE:
      return objectEnd(text, i, depth + 1);
    case OPEN_BRACKET:
      return arrayEnd(text, i, depth + 1);
    case 0x74 /* t */:
      return text.startsWith('true', i) ? i + 4 : -1;
    case 0x66 /* f */:
      return text.startsWith('false', i) ? i + 5 : -1;
    case 0x6e /* n */:
      return text.startsWith('null', i) ? i + 4 : -1;
    default:
      return numberEnd(text, i);
  }
}

/**
 * Reads the number starting at `i`; the index after it, or -1 when it is not a JSON number or
 * is one whose re-encoding a consumer could tell apart: `-0` (JSON.stringify writes `0`), or
 * one that may overflow or underflow a double (see MAX_NUMBER_DIGITS). Every other number's
 * text parses to the double that JSON.parse and JSON.stringify would have made of it.
 */
export function numberEnd(text: string, i: number): number {
  let c = text.charCodeAt(i);
  const negative = c === MINUS;
  if (negative) c = text.charCodeAt(++i);
  let digits = 0;
  let nonZero = false;
  if (c === ZERO) {
    digits = 1;
    c = text.charCodeAt(++i);
    // JSON allows no leading zero.
    if (c >= ZERO && c <= NINE) return -1;
  } else if (c > ZERO && c <= NINE) {
    nonZero = true;
    do {
      digits++;
      c = text.charCodeAt(++i);
    } while (c >= ZERO && c <= NINE);
  } else {
    return -1;
  }
  if (c === DOT) {
    c = text.charCodeAt(++i);
    if (!(c >= ZERO && c <= NINE)) return -1;
    do {
      digits++;
      if (c !== ZERO) nonZero = true;
      c = text.charCodeAt(++i);
    } while (c >= ZERO && c <= NINE);
  }
  if (c === 0x65 /* e */ || c === 0x45 /* E */) {
    c = text.charCodeAt(++i);
    if (c === MINUS || c === 0x2b /* + */) c = text.charCodeAt(++i);
    const exponentStart = i;
    while (c >= ZERO && c <= NINE) c = text.charCodeAt(++i);
    if (i === exponentStart || i - exponentStart > 2) return -1;
  }
  if (digits > MAX_NUMBER_DIGITS) return -1;
  if (negative && !nonZero) return -1;
  return i;
}
