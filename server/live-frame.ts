/**
 * Live frames whose events are encoded once for every subscriber.
 *
 * Every subscription that sends a whole live batch sends the same bytes after its own frame
 * head (`{"type":"response","id":N,"events":[`). A batch of at least {@link SHARED_BATCH_UNITS}
 * is therefore encoded once, to one Buffer, its *tail* `,e1,…,en]}`, and every such
 * subscription sends its frame as a text message in fragments: the head as a string, then
 * views of shared tails. ws writes an unmasked Buffer to the socket as it is, so a batch fanned
 * out to a thousand subscriptions is one allocation instead of a thousand, and the memory a
 * stalled subscriber's socket holds is mostly shared with every other.
 */
import type { StoredEvent } from './store.js';

/** Batches of at least this many UTF-16 units of JSON are encoded once and shared; smaller ones are built per subscription. */
export const SHARED_BATCH_UNITS = 1024;

/**
 * A pending live frame's body, in order: a string is events' JSON joined by commas (built for
 * one subscription), a Buffer is a shared batch tail (see {@link batchTail}).
 */
export type LivePart = string | Buffer;

const tails = new WeakMap<readonly StoredEvent[], Buffer>();

/** `,e1,…,en]}` in UTF-8 for a live batch, made on first use and shared while the batch lives. */
export function batchTail(events: readonly StoredEvent[]): Buffer {
  let tail = tails.get(events);
  if (tail === undefined) {
    let text = '';
    for (let i = 0; i < events.length; i++) text += `,${events[i]!.json}`;
    tail = Buffer.from(`${text}]}`);
    tails.set(events, tail);
  }
  return tail;
}

/**
 * The fragments of one response frame carrying `parts`: the head (with the first part, when it
 * is a string), then each part with the comma that separates it from the one before, the last
 * one closing the array and the frame. Shared tails are sliced, never copied.
 */
export function liveFragments(id: number, parts: readonly LivePart[]): LivePart[] {
  const fragments: LivePart[] = [`{"type":"response","id":${id},"events":[`];
  const last = parts.length - 1;
  for (let i = 0; i <= last; i++) {
    const part = parts[i]!;
    if (typeof part === 'string') {
      const text = `${i === 0 ? '' : ','}${part}${i === last ? ']}' : ''}`;
      const end = fragments.length - 1;
      const before = fragments[end]!;
      if (typeof before === 'string') fragments[end] = before + text;
      else fragments.push(text);
    } else if (i === 0 || i < last) {
      // The first part drops the tail's leading comma, every part but the last its closing `]}`.
      fragments.push(part.subarray(i === 0 ? 1 : 0, i < last ? part.length - 2 : part.length));
    } else {
      fragments.push(part);
    }
  }
  return fragments;
}
