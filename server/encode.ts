/** Timestamps and the stored encoding of events, shared by every store. */
import type { NewEvent, StoredEvent } from './store.js';

/** `performance.timeOrigin`, read once: the getter allocates a number on every call. */
const TIME_ORIGIN = performance.timeOrigin;

/** Microseconds since the epoch, now. */
export function nowMicros(): number {
  return Math.round((TIME_ORIGIN + performance.now()) * 1000);
}

/** The next timestamp of a journal, in microseconds: `max(now, last + 1)`. */
export function nextMicros(lastMicros: number, now = nowMicros()): number {
  return now > lastMicros ? now : lastMicros + 1;
}

/** Seconds (float) to whole microseconds. */
export function toMicros(seconds: number): number {
  return Math.round(seconds * 1e6);
}

/**
 * Below 2^33 seconds (the year 2242) a double's spacing is under a microsecond, so the
 * decimal `s.ffffff` with its trailing zeros dropped is exactly what `String(micros / 1e6)`
 * prints; past it, or for what is not a whole number of microseconds, that is used instead.
 */
const EXACT_MICROS_LIMIT = 2 ** 33 * 1e6;
const ZEROS = '000000';
/** The seconds of the last timestamp formatted and their text with the point: most timestamps share them with the one before. */
let lastSeconds = -1;
let lastPrefix = '';

/**
 * `String(micros / 1e6)`, the timestamp as JSON and JavaScript print it, made with integer
 * arithmetic: about a third of the time of a double's shortest-decimal conversion, which
 * every stored event and every acknowledgement makes.
 */
export function formatMicros(micros: number): string {
  if (!(micros >= 0 && micros < EXACT_MICROS_LIMIT) || !Number.isInteger(micros)) return `${micros / 1e6}`;
  const seconds = Math.floor(micros / 1e6);
  let fraction = micros - seconds * 1e6;
  if (fraction === 0) return `${seconds}`;
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    lastPrefix = `${seconds}.`;
  }
  let digits = 6;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  const text = `${fraction}`;
  return text.length === digits ? lastPrefix + text : `${lastPrefix}${ZEROS.slice(0, digits - text.length)}${text}`;
}

/** The event's context as JSON: the caller's encoding if it passed one, else stringified now. */
export function contextJson(event: NewEvent): string {
  return event.contextJson ?? JSON.stringify(event.context ?? {});
}

/** An event's wire form, `{"name":…,"timestamp":…,"context":…,"seq":…}`, with `,"schema":{…}` before the last brace when it names one. */
export function eventJson(seq: number, micros: number, event: NewEvent): string {
  return `{"name":${event.nameJson ?? JSON.stringify(event.name)},"timestamp":${formatMicros(micros)},"context":${contextJson(event)},"seq":${seq}${schemaMember(event)}}`;
}

/** The ref schemaMember encoded last, and its member: the events of a batch mostly name one schema. */
let lastId = '';
let lastVersion = 0;
let lastMember = '';

/** `,"schema":{"id":…,"version":…}` for an event that names a schema, else `""`: what ends its JSON before the last brace. */
export function schemaMember(event: NewEvent): string {
  const { schema } = event;
  if (schema === undefined) return '';
  if (schema.id !== lastId || schema.version !== lastVersion) {
    // A schema id (SCHEMA_ID) holds no character JSON escapes: its text is its string's body.
    lastMember = `,"schema":{"id":"${schema.id}","version":${schema.version}}`;
  }
  // Kept even when equal, so that the next event of the batch, sharing this id string, compares by reference.
  lastId = schema.id;
  lastVersion = schema.version;
  return lastMember;
}

const SCHEMA_MEMBER = ',"schema":{"id":"';

/**
 * The `$id` of the schema a stored event's JSON names, read from its end without parsing it;
 * `undefined` when it names none. Without a schema the JSON ends in `"seq":N}`, with one in
 * `"version":N}}`; the member follows the context, so whatever the context holds, the last
 * occurrence of the member's opening is the member.
 */
export function schemaIdOf(json: string): string | undefined {
  if (json.charCodeAt(json.length - 2) !== 0x7d) return undefined;
  const start = json.lastIndexOf(SCHEMA_MEMBER);
  if (start < 0) return undefined;
  const idStart = start + SCHEMA_MEMBER.length;
  return json.slice(idStart, json.indexOf('"', idStart));
}

/** Builds a stored event, encoding its wire form once. */
export function encodeEvent(seq: number, micros: number, event: NewEvent): StoredEvent {
  return { seq, timestamp: micros / 1e6, name: event.name, json: eventJson(seq, micros, event) };
}

/** The first whole microsecond whose timestamp (`micros / 1e6`, as stored) is `> after`. */
export function firstMicrosAfter(after: number): number {
  if (after < 0) return 0;
  const near = Math.round(after * 1e6);
  return near / 1e6 > after ? near : near + 1;
}

/** The first whole microsecond whose timestamp (`micros / 1e6`, as stored) is `>= at`; `Infinity` stays `Infinity`. */
export function firstMicrosFrom(at: number): number {
  if (at === Infinity) return Infinity;
  if (at <= 0) return 0;
  const near = Math.round(at * 1e6);
  return (near - 1) / 1e6 >= at ? near - 1 : near / 1e6 >= at ? near : near + 1;
}
