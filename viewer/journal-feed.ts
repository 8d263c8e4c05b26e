/**
 * One journal as the page shows it: the newest events replayed through a
 * consumer (history, the end-of-history line, then live events), older and
 * newer pages fetched by seq or time as the user scrolls or searches, and a
 * bounded backlog of live events that arrive while the user looks elsewhere
 * or has paused. Memory is bounded by `windowSize` events in view plus
 * `windowSize` in the backlog, whatever the journal's length and rate.
 *
 * I/O goes through a {@link FeedSource}: HTTP pages and a WebSocket consumer
 * in the page, fakes in tests.
 */
import { EventWindow } from './event-window.js';
import type { EventEntry, EventFilter } from './types.js';

/** A page of events, sorted by seq whatever the order asked for. */
export interface SourcePage {
  events: EventEntry[];
  /** Nothing further matches in the direction asked for. */
  exhausted: boolean;
}

/** Which events a page holds; every page also applies the feed's filter. */
export interface PageRequest {
  /** `asc`: the oldest first from the bound; `desc`: the newest before it. */
  order: 'asc' | 'desc';
  /** At least this many events, or every one there is. */
  limit: number;
  /** asc: only events with a seq greater than this. */
  after?: number;
  /** asc: only events with a timestamp greater than this. */
  since?: number;
  /** desc: only events older than this one (its seq, and its timestamp or a time). */
  before?: { seq?: number; timestamp: number };
}

/** A running subscription; `stop()` is idempotent. */
export interface FollowHandle {
  stop(): void;
}

export interface FollowHandlers {
  /** Each event after `since`, in order: history first, then live. */
  event(event: EventEntry): void;
  /** History has been delivered; live events follow. Called once. */
  historyEnd(): void;
  /** A problem worth showing; `final` when the subscription gave up. */
  error(error: Error & { code?: string }, final: boolean): void;
  /** The subscription is open again after a drop. */
  reconnect(): void;
}

export interface FeedSource {
  page(journal: string, request: PageRequest, filter: EventFilter, signal: AbortSignal): Promise<SourcePage>;
  follow(journal: string, since: number, filter: EventFilter, handlers: FollowHandlers): FollowHandle;
}

export interface JournalFeedOptions {
  /** Most events held for the list; as many again may wait in the backlog. @default 5000 */
  windowSize?: number;
  /** Events per page fetched while scrolling, and replayed on opening. @default 200 */
  pageSize?: number;
}

/** Where the list should scroll after a jump: the row at `pos`; `id` is new with each jump, across feeds. */
export interface ScrollTarget {
  pos: number;
  id: number;
}

/** Numbers the scroll targets of every feed of the page. */
let targets = 0;

export type FeedStatus = 'opening' | 'history' | 'live' | 'closed';

/** A search: a seq, or a time in seconds since the epoch. */
export type JumpTarget = { seq: number } | { time: number };

export class JournalFeed {
  readonly journal: string;
  readonly filter: EventFilter;
  readonly window: EventWindow;
  readonly pageSize: number;
  readonly #source: FeedSource;
  readonly #listeners = new Set<() => void>();
  #status: FeedStatus = 'opening';
  #error: (Error & { code?: string }) | undefined;
  #reconnecting = false;
  #follow: FollowHandle | undefined;
  #abort = new AbortController();
  /** Bumped by each jump: a page fetched for an older generation is dropped. */
  #generation = 0;
  #loading: 'older' | 'newer' | 'jump' | undefined;
  #following = true;
  #paused = false;
  /** The newest seq received when the user paused. */
  #pausedAt = 0;
  /** Live events not in the window, oldest first, at most `windowSize`. */
  #backlog: EventEntry[] = [];
  /** Every live event with a seq above this is in the backlog; undefined: every one since the backlog began. */
  #backlogFrom: number | undefined;
  #collecting = false;
  #newCount = 0;
  #lastSeq = 0;
  #target: ScrollTarget | undefined;

  constructor(journal: string, filter: EventFilter, source: FeedSource, options: JournalFeedOptions = {}) {
    this.journal = journal;
    this.filter = filter;
    this.#source = source;
    this.pageSize = options.pageSize ?? 200;
    this.window = new EventWindow(options.windowSize ?? 5000);
  }

  /** Calls `listener` after every change; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get status(): FeedStatus {
    return this.#status;
  }

  get error(): (Error & { code?: string }) | undefined {
    return this.#error;
  }

  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  get loading(): 'older' | 'newer' | 'jump' | undefined {
    return this.#loading;
  }

  /** The list keeps the newest event in view. */
  get following(): boolean {
    return this.#following;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Live events received and not shown yet. */
  get newCount(): number {
    return this.#newCount;
  }

  get target(): ScrollTarget | undefined {
    return this.#target;
  }

  /**
   * Finds where to start (the newest `pageSize` events), then follows from
   * there: history, the end-of-history line, live events.
   */
  async open(): Promise<void> {
    if (this.#status !== 'opening' || this.#loading !== undefined) return;
    const generation = ++this.#generation;
    this.#loading = 'jump';
    this.#changed();
    const newest = await this.#page({ order: 'desc', limit: this.pageSize + 1 });
    if (newest === undefined || generation !== this.#generation) return;
    // The event just before the newest page bounds the replay; with none, the replay is the whole journal.
    const boundary = newest.events.length > this.pageSize ? newest.events[0] : undefined;
    this.window.reset([], boundary === undefined, true);
    this.#loading = undefined;
    this.#status = 'history';
    this.#follow = this.#source.follow(this.journal, boundary?.timestamp ?? 0, this.filter, {
      event: (event) => this.#onEvent(event),
      historyEnd: () => {
        this.window.markHistoryEnd(this.#lastSeq);
        this.#status = 'live';
        this.#changed();
      },
      error: (error, final) => {
        this.#error = error;
        if (final) this.#reconnecting = false;
        else this.#reconnecting = true;
        this.#changed();
      },
      reconnect: () => {
        this.#reconnecting = false;
        this.#error = undefined;
        this.#changed();
      },
    });
    this.#changed();
  }

  /** Stops following and drops pending fetches. Idempotent. */
  close(): void {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    // Pages still on their way are dropped when they come.
    this.#generation++;
    this.#follow?.stop();
    this.#follow = undefined;
    this.#abort.abort();
    this.#backlog = [];
    this.#changed();
    this.#listeners.clear();
  }

  /** The user scrolled away from the bottom (false) or back to it (true). */
  setFollowing(following: boolean): void {
    if (following && (this.#paused || !this.window.atEnd)) return;
    if (this.#following === following) return;
    this.#following = following;
    this.#changed();
  }

  /** Stops adding live events to the list; they wait (bounded) until {@link resume}. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#pausedAt = this.#lastSeq;
    this.#following = false;
    this.#startCollecting();
    this.#changed();
  }

  /** Shows what arrived while paused and follows the newest events again. */
  resume(): Promise<void> {
    this.#paused = false;
    return this.toEnd();
  }

  /** Fetches the page before the first event held, when there is one. */
  async loadOlder(): Promise<void> {
    const first = this.window.first;
    if (this.#loading !== undefined || this.window.atStart || first === undefined || !this.#isOpen()) return;
    const generation = this.#generation;
    this.#loading = 'older';
    this.#changed();
    const page = await this.#page({ order: 'desc', limit: this.pageSize, before: { seq: first.seq, timestamp: first.timestamp } });
    if (generation !== this.#generation) return;
    this.#loading = undefined;
    if (page !== undefined) {
      const wasAtEnd = this.window.atEnd;
      this.window.prepend(page.events, page.exhausted);
      if (wasAtEnd && !this.window.atEnd) this.#startCollecting();
    }
    this.#changed();
  }

  /** Fetches the page after the last event held, or takes it from the backlog when that covers it. */
  async loadNewer(): Promise<void> {
    if (this.#loading !== undefined || this.window.atEnd || !this.#isOpen()) return;
    const last = this.window.last?.seq ?? 0;
    // Paused, the list goes no further than the newest event received when the user paused.
    if (this.#paused && last >= this.#pausedAt) return;
    if (this.#backlogCovers(last)) {
      this.#mergeBacklog();
      this.#changed();
      return;
    }
    const generation = this.#generation;
    this.#loading = 'newer';
    this.#changed();
    const page = await this.#page({ order: 'asc', limit: this.pageSize, after: last });
    if (generation !== this.#generation) return;
    this.#loading = undefined;
    if (page !== undefined) {
      const events = this.#paused ? page.events.filter((event) => event.seq <= this.#pausedAt) : page.events;
      this.window.append(events, false, 'top');
      if (page.exhausted && !this.#paused) this.#reachedEnd();
    }
    this.#changed();
  }

  /** Shows the newest events and follows them (End, Resume). */
  async toEnd(): Promise<void> {
    if (!this.#isOpen()) return;
    this.#paused = false;
    this.#following = true;
    if (this.window.atEnd) {
      this.#stopCollecting();
      this.#target = { pos: Infinity, id: ++targets };
      this.#changed();
      return;
    }
    if (this.#backlogCovers(this.window.last?.seq ?? 0)) {
      this.#mergeBacklog();
      this.#target = { pos: Infinity, id: ++targets };
      this.#changed();
      return;
    }
    const generation = ++this.#generation;
    this.#loading = 'jump';
    this.#changed();
    const page = await this.#page({ order: 'desc', limit: this.pageSize });
    if (generation !== this.#generation) return;
    this.#loading = undefined;
    if (page !== undefined) {
      this.window.reset(page.events, page.exhausted, false);
      this.#reachedEnd();
      this.#target = { pos: Infinity, id: ++targets };
    }
    this.#changed();
  }

  /** Shows the journal from its first (matching) event. */
  async toStart(): Promise<void> {
    if (!this.#isOpen()) return;
    this.#stopFollowingForJump();
    const generation = ++this.#generation;
    this.#loading = 'jump';
    this.#changed();
    const page = await this.#page({ order: 'asc', limit: this.pageSize });
    if (generation !== this.#generation) return;
    this.#loading = undefined;
    if (page !== undefined) {
      this.window.reset(page.events, true, false);
      if (page.exhausted) this.#reachedEnd();
      this.#target = { pos: -Infinity, id: ++targets };
    }
    this.#changed();
  }

  /**
   * Shows the events around a seq or a time, with the one found (the first
   * at or after it) as the target. Resolves with the event found, if any.
   */
  async jumpTo(target: JumpTarget): Promise<EventEntry | undefined> {
    if (!this.#isOpen()) return undefined;
    this.#stopFollowingForJump();
    const generation = ++this.#generation;
    this.#loading = 'jump';
    this.#changed();
    const afterRequest: PageRequest =
      'seq' in target
        ? { order: 'asc', limit: this.pageSize, after: target.seq - 1 }
        : { order: 'asc', limit: this.pageSize, since: target.time - 1e-6 };
    const after = await this.#page(afterRequest);
    if (after === undefined || generation !== this.#generation) return undefined;
    const found = after.events[0];
    const bound = found !== undefined ? { seq: found.seq, timestamp: found.timestamp } : undefined;
    const half = Math.max(1, this.pageSize >> 1);
    const before = await this.#page(bound ? { order: 'desc', limit: half, before: bound } : { order: 'desc', limit: half });
    if (before === undefined || generation !== this.#generation) return undefined;
    this.#loading = undefined;
    this.window.reset([...before.events, ...after.events], before.exhausted, false);
    if (after.exhausted) this.#reachedEnd();
    const last = this.window.last;
    this.#target = { pos: found?.seq ?? (last ? last.seq : -Infinity), id: ++targets };
    this.#changed();
    return found;
  }

  /** Opened and not closed: pages may be fetched. */
  #isOpen(): boolean {
    return this.#status === 'history' || this.#status === 'live';
  }

  #onEvent(event: EventEntry): void {
    if (event.seq <= this.#lastSeq) return;
    this.#lastSeq = event.seq;
    if (!this.#collecting && !this.#following && this.window.length >= this.window.max) this.#startCollecting();
    if (this.#collecting) {
      this.#backlog.push(event);
      this.#newCount++;
      if (this.#backlog.length > this.window.max) this.#backlogFrom = this.#backlog.shift()!.seq;
    } else {
      this.window.append([event], true, 'top');
    }
    this.#changed();
  }

  /** From now on live events wait in the backlog. */
  #startCollecting(): void {
    if (this.#collecting) return;
    this.#collecting = true;
    // When the window holds the newest events, the backlog continues it exactly.
    this.#backlogFrom = this.window.atEnd ? (this.window.last?.seq ?? 0) : undefined;
    this.window.detachEnd();
  }

  #stopCollecting(): void {
    this.#collecting = false;
    this.#backlog = [];
    this.#backlogFrom = undefined;
    this.#newCount = 0;
  }

  /** The backlog holds every live event after `seq` (without any fetch since it began). */
  #backlogCovers(seq: number): boolean {
    return this.#collecting && this.#backlogFrom !== undefined && this.#backlogFrom <= seq;
  }

  #mergeBacklog(): void {
    this.window.append(this.#backlog, !this.#paused, this.#following ? 'top' : 'bottom');
    if (this.window.atEnd) this.#stopCollecting();
  }

  /**
   * A fetch found nothing after the window's last event. The fetch began while
   * the backlog was collecting, so the backlog holds what came since, unless
   * it dropped some past the window's end.
   */
  #reachedEnd(): void {
    const last = this.window.last?.seq ?? 0;
    if (!this.#collecting) this.#startCollecting();
    if (this.#backlogFrom === undefined || this.#backlogFrom <= last) {
      this.#backlogFrom = last;
      if (!this.#paused) {
        this.window.append(this.#backlog, true, this.#following ? 'top' : 'bottom');
        if (this.window.atEnd) this.#stopCollecting();
      }
    }
  }

  #stopFollowingForJump(): void {
    this.#following = false;
    this.#startCollecting();
  }

  async #page(request: PageRequest): Promise<{ events: EventEntry[]; exhausted: boolean } | undefined> {
    try {
      const page = await this.#source.page(this.journal, request, this.filter, this.#abort.signal);
      if (this.#error && !this.#reconnecting) this.#error = undefined;
      return page;
    } catch (error) {
      if (this.#status === 'closed') return undefined;
      this.#error = error as Error & { code?: string };
      this.#loading = undefined;
      this.#changed();
      return undefined;
    }
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
