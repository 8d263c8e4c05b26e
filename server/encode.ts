/** Timestamps and the stored encoding of events, shared by every store. */
import type { NewEvent, StoredEvent } from './store.js';

/** Microseconds since the epoch, now. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** The next timestamp of a journal, in microseconds: `max(now, last + 1)`. */
export function nextMicros(lastMicros: number, now = nowMicros()): number {
  return now > lastMicros ? now : lastMicros + 1;
}

/** Seconds (float) to whole microseconds. */
export function toMicros(seconds: number): number {
  return Math.round(seconds * 1e6);
}

/** The event's context as JSON: the caller's encoding if it passed one, else stringified now. */
export function contextJson(event: NewEvent): string {
  return event.contextJson ?? JSON.stringify(event.context);
}

/** Builds a stored event, encoding its wire form once. */
export function encodeEvent(seq: number, micros: number, event: NewEvent): StoredEvent {
  const timestamp = micros / 1e6;
  const { name } = event;
  const json = `{"name":${JSON.stringify(name)},"timestamp":${timestamp},"context":${contextJson(event)},"seq":${seq}}`;
  return { seq, timestamp, name, json };
}

/** The first whole microsecond whose timestamp (`micros / 1e6`, as stored) is `> after`. */
export function firstMicrosAfter(after: number): number {
  if (after < 0) return 0;
  const near = Math.round(after * 1e6);
  return near / 1e6 > after ? near : near + 1;
}
