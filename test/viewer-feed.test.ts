/**
 * The viewer's journal feed (viewer/journal-feed.ts) against a fake source:
 * it opens on the newest page, replays it as history with the end-of-history
 * line, follows live events in bounded memory, keeps live events that arrive
 * while the user looks back or has paused (bounded too), and comes back to
 * the newest event without a gap or a duplicate, also when a page's answer
 * crosses live events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalFeed, type FeedSource, type FollowHandlers, type PageRequest, type SourcePage } from '../viewer/journal-feed.js';
import type { EventEntry, EventFilter } from '../viewer/types.js';
import { within } from './helpers.js';

/** A journal in memory that answers pages like the HTTP route and follows like the consumer. */
class FakeSource implements FeedSource {
  readonly events: EventEntry[] = [];
  readonly requests: PageRequest[] = [];
  readonly #followers = new Set<{ filter: EventFilter; handlers: FollowHandlers }>();
  /** While set, page answers wait for it. */
  gate: Promise<void> | undefined;

  append(count: number, name = 'tick'): void {
    for (let i = 0; i < count; i++) {
      const seq = this.events.length + 1;
      const event: EventEntry = { name, timestamp: 1_700_000_000 + seq / 1000, context: { i: seq }, seq };
      this.events.push(event);
      for (const { filter, handlers } of this.#followers) if (matches(event, filter)) handlers.event(event);
    }
  }

  async page(_journal: string, request: PageRequest, filter: EventFilter): Promise<SourcePage> {
    this.requests.push(request);
    // The store is read when the request arrives; the answer may come later.
    const matching = this.events.filter((event) => matches(event, filter));
    let answer: SourcePage;
    if (request.order === 'asc') {
      const after = matching.filter(
        (event) => event.seq > (request.after ?? 0) && event.timestamp > (request.since ?? -Infinity),
      );
      answer = { events: after.slice(0, request.limit), exhausted: after.length <= request.limit };
    } else {
      const before = request.before;
      const older = matching.filter(
        (event) => before === undefined || ((before.seq === undefined || event.seq < before.seq) && event.timestamp <= before.timestamp),
      );
      answer = { events: older.slice(-request.limit), exhausted: older.length <= request.limit };
    }
    if (this.gate) await this.gate;
    return answer;
  }

  follow(_journal: string, since: number, filter: EventFilter, handlers: FollowHandlers) {
    const follower = { filter, handlers };
    queueMicrotask(() => {
      for (const event of this.events) if (event.timestamp > since && matches(event, filter)) handlers.event(event);
      handlers.historyEnd();
      this.#followers.add(follower);
    });
    return { stop: () => this.#followers.delete(follower) };
  }

  get following(): number {
    return this.#followers.size;
  }
}

function matches(event: EventEntry, filter: EventFilter): boolean {
  return filter.names === undefined || filter.names.includes(event.name);
}

/** Resolves once the feed's status is `status`. */
function statusOf(feed: JournalFeed, status: string): Promise<void> {
  if (feed.status === status) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      const off = feed.subscribe(() => {
        if (feed.status === status) {
          off();
          resolve();
        }
      });
    }),
    2000,
    `status ${status}`,
  );
}

const seqs = (feed: JournalFeed) => feed.window.events.map((event) => event.seq);

function assertContiguous(feed: JournalFeed, from: number, to: number): void {
  const got = seqs(feed);
  assert.equal(got[0], from, 'first seq');
  assert.equal(got[got.length - 1], to, 'last seq');
  assert.equal(got.length, to - from + 1, 'no gap and no duplicate');
  got.forEach((seq, i) => assert.equal(seq, from + i));
}

describe('JournalFeed', () => {
  it('opens on the newest page, replays it as history with the end-of-history line, then appends live events', async () => {
    const source = new FakeSource();
    source.append(1000);
    const feed = new JournalFeed('j', {}, source, { pageSize: 50, windowSize: 200 });
    await feed.open();
    await statusOf(feed, 'live');
    assert.deepEqual(source.requests[0], { order: 'desc', limit: 51 }, 'one page of the newest events, and the one before it');
    assertContiguous(feed, 951, 1000);
    assert.equal(feed.window.atStart, false);
    assert.equal(feed.window.historyEnd, 1000);
    source.append(3);
    assertContiguous(feed, 951, 1003);
    const rows = feed.window.rows;
    const line = rows.findIndex((row) => row.kind === 'end-of-history');
    assert.equal(line, 50, 'the line sits between the last history event and the first live one');
    feed.close();
    assert.equal(source.following, 0, 'closing stops following');
  });

  it('fetches no page before it is opened, and none after it is closed', async () => {
    const source = new FakeSource();
    source.append(10);
    const feed = new JournalFeed('j', {}, source, { pageSize: 5, windowSize: 20 });
    await feed.loadNewer();
    await feed.loadOlder();
    await feed.toStart();
    assert.equal(source.requests.length, 0);
    await feed.open();
    await statusOf(feed, 'live');
    feed.close();
    const count = source.requests.length;
    await feed.loadOlder();
    await feed.jumpTo({ seq: 1 });
    assert.equal(source.requests.length, count);
  });

  it('replays a short journal from its start', async () => {
    const source = new FakeSource();
    source.append(10);
    const feed = new JournalFeed('j', {}, source, { pageSize: 50, windowSize: 200 });
    await feed.open();
    await statusOf(feed, 'live');
    assertContiguous(feed, 1, 10);
    assert.equal(feed.window.atStart, true);
    feed.close();
  });

  it('holds at most windowSize events however many live events pass while following', async () => {
    const source = new FakeSource();
    const feed = new JournalFeed('j', {}, source, { pageSize: 20, windowSize: 100 });
    await feed.open();
    await statusOf(feed, 'live');
    source.append(10_000);
    assert.equal(feed.window.length, 100);
    assertContiguous(feed, 9901, 10_000);
    assert.equal(feed.newCount, 0);
    feed.close();
  });

  it('keeps live events aside while the user reads further up, and shows them on coming back without a fetch', async () => {
    const source = new FakeSource();
    source.append(100);
    const feed = new JournalFeed('j', {}, source, { pageSize: 50, windowSize: 60 });
    await feed.open();
    await statusOf(feed, 'live');
    feed.setFollowing(false);
    source.append(30);
    assert.equal(feed.window.length, 60, 'the window filled up to its size, then stopped growing');
    assert.equal(feed.newCount, 20, 'the rest wait, counted');
    const before = source.requests.length;
    await feed.toEnd();
    assert.equal(source.requests.length, before, 'the backlog covered the gap');
    assert.equal(feed.following, true);
    assertContiguous(feed, 71, 130);
    assert.equal(feed.newCount, 0);
    feed.close();
  });

  it('pauses: nothing is added until resume, then the newest events follow with no gap even when the backlog overflowed', async () => {
    const source = new FakeSource();
    source.append(100);
    const feed = new JournalFeed('j', {}, source, { pageSize: 50, windowSize: 60 });
    await feed.open();
    await statusOf(feed, 'live');
    feed.pause();
    const shown = seqs(feed);
    source.append(500);
    await feed.loadNewer();
    assert.deepEqual(seqs(feed), shown, 'paused: the list does not move, even when asked for newer events');
    assert.equal(feed.newCount, 500);
    // The answer to the resume's fetch crosses more live events.
    let release!: () => void;
    source.gate = new Promise((resolve) => (release = resolve));
    const resumed = feed.resume();
    await new Promise((resolve) => setImmediate(resolve));
    source.append(5);
    release();
    source.gate = undefined;
    await resumed;
    assert.equal(feed.paused, false);
    assert.equal(feed.window.atEnd, true);
    assertContiguous(feed, 551, 605); // the newest page read (551–600), then the live events that crossed it
    source.append(1);
    assert.equal(feed.window.last?.seq, 606, 'following again');
    feed.close();
  });

  it('pages back to the first event and forward to the newest, bounded, with no gap while live events pass', async () => {
    const source = new FakeSource();
    source.append(1000);
    const feed = new JournalFeed('j', {}, source, { pageSize: 100, windowSize: 300 });
    await feed.open();
    await statusOf(feed, 'live');
    feed.setFollowing(false);
    for (let pages = 0; !feed.window.atStart; pages++) {
      assert.ok(pages < 20, 'reaches the first event in 10 pages');
      await feed.loadOlder();
      assert.ok(feed.window.length <= 300);
    }
    assertContiguous(feed, 1, 300);
    source.append(7);
    for (let pages = 0; !feed.window.atEnd; pages++) {
      assert.ok(pages < 20, 'reaches the newest event in 8 pages');
      source.append(1);
      await feed.loadNewer();
      assert.ok(feed.window.length <= 300);
    }
    const last = source.events.length;
    assertContiguous(feed, last - 299, last);
    source.append(2);
    assert.equal(feed.window.last?.seq, last, 'not following: the window does not grow past what the user reads');
    await feed.toEnd();
    assertContiguous(feed, last + 2 - 299, last + 2);
    feed.close();
  });

  it('jumps to a seq and to a time, with context before it, and says what it found', async () => {
    const source = new FakeSource();
    source.append(1000);
    const feed = new JournalFeed('j', {}, source, { pageSize: 100, windowSize: 300 });
    await feed.open();
    await statusOf(feed, 'live');
    const found = await feed.jumpTo({ seq: 500 });
    assert.equal(found?.seq, 500);
    assert.equal(feed.target?.pos, 500);
    assertContiguous(feed, 450, 599);
    assert.equal(feed.following, false);
    const byTime = await feed.jumpTo({ time: source.events[99]!.timestamp });
    assert.equal(byTime?.seq, 100, 'the first event at or after the time');
    const none = await feed.jumpTo({ seq: 5000 });
    assert.equal(none, undefined);
    feed.close();
  });

  it('asks its source for the filter, and only matching events are shown', async () => {
    const source = new FakeSource();
    source.append(10, 'a');
    source.append(10, 'b');
    const feed = new JournalFeed('j', { names: ['b'] }, source, { pageSize: 50, windowSize: 100 });
    await feed.open();
    await statusOf(feed, 'live');
    assert.deepEqual(seqs(feed), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    source.append(1, 'a');
    source.append(1, 'b');
    assert.equal(feed.window.last?.seq, 22);
    assert.equal(feed.window.length, 11);
    feed.close();
  });
});
