/**
 * The viewer's window of events (viewer/event-window.ts): bounded, sorted by
 * seq, trimmed on the side away from the user, and the end-of-history line
 * drawn only where the window reaches both sides of it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventWindow } from '../viewer/event-window.js';
import type { EventEntry } from '../viewer/types.js';

function events(from: number, to: number): EventEntry[] {
  const out: EventEntry[] = [];
  for (let seq = from; seq <= to; seq++) out.push({ name: seq % 2 ? 'odd' : 'even', timestamp: 1000 + seq, context: {}, seq });
  return out;
}

const seqs = (window: EventWindow) => window.events.map((event) => event.seq);

describe('EventWindow', () => {
  it('refuses a size below 2', () => {
    assert.throws(() => new EventWindow(1), RangeError);
    assert.throws(() => new EventWindow(2.5), RangeError);
  });

  it('keeps at most max events, dropping from the top when following and from the bottom when scrolling back', () => {
    const window = new EventWindow(5);
    window.reset([], true, true);
    window.append(events(1, 4), true, 'top');
    window.append(events(5, 8), true, 'top');
    assert.deepEqual(seqs(window), [4, 5, 6, 7, 8]);
    assert.equal(window.atStart, false, 'the first event was dropped');
    assert.equal(window.atEnd, true);
    window.prepend(events(1, 3), true);
    assert.deepEqual(seqs(window), [1, 2, 3, 4, 5]);
    assert.equal(window.atStart, true);
    assert.equal(window.atEnd, false, 'the newest events were dropped');
  });

  it('ignores events it already holds, from either side', () => {
    const window = new EventWindow(100);
    window.reset(events(5, 10), false, false);
    window.append(events(8, 12), false, 'top');
    window.prepend(events(1, 7), false);
    assert.deepEqual(seqs(window), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('sorts and dedupes a reset given out of order', () => {
    const window = new EventWindow(10);
    const [a, b, c] = events(1, 3) as [EventEntry, EventEntry, EventEntry];
    window.reset([c, a, b, a], true, true);
    assert.deepEqual(seqs(window), [1, 2, 3]);
  });

  it('draws the end-of-history line after the last history event, only when the window spans it', () => {
    const window = new EventWindow(100);
    window.reset(events(1, 3), true, true);
    assert.equal(window.rows.length, 3, 'no line before the sentinel');
    window.markHistoryEnd(3);
    assert.deepEqual(
      window.rows.map((row) => row.kind),
      ['event', 'event', 'event', 'end-of-history'],
      'at the end while no live event came',
    );
    window.append(events(4, 5), true, 'top');
    assert.deepEqual(
      window.rows.map((row) => (row.kind === 'event' ? row.event.seq : 'line')),
      [1, 2, 3, 'line', 4, 5],
    );
    assert.equal(window.rowIndexAt(3.5), 3);
    assert.equal(window.rowIndexAt(4), 4);
    // Detached from the newest events (paused), a window that ends with the last history event still shows the line.
    window.reset(events(1, 3), true, false);
    assert.deepEqual(
      window.rows.map((row) => row.kind),
      ['event', 'event', 'event', 'end-of-history'],
    );
    window.reset(events(1, 2), true, false);
    assert.ok(window.rows.every((row) => row.kind === 'event'), 'a window that stops before the last history event: no line');
    // A window entirely after the line, not from the start: no line.
    window.reset(events(10, 12), false, true);
    assert.ok(window.rows.every((row) => row.kind === 'event'));
    // An empty history at the start of the journal: the line comes first.
    window.reset(events(1, 2), true, true);
    window.markHistoryEnd(0);
    assert.equal(window.rows[0]!.kind, 'end-of-history');
  });

  it('loses its end when detached, so live events wait elsewhere', () => {
    const window = new EventWindow(10);
    window.reset(events(1, 2), true, true);
    window.detachEnd();
    assert.equal(window.atEnd, false);
  });
});
