/**
 * One subscription on one connection: replays history in pages, sends the
 * sentinel, then streams live events, with no gap and no duplicate at the
 * switch.
 *
 * The switch: the subscription listens to live appends *before* it reads the
 * journal's head, holds live batches while it replays history up to that
 * head, then sends only held events above what history delivered. If the
 * hold overflows it is dropped and history simply reads further from the
 * store, which is always correct, so the hold stays bounded.
 */
import type { LiveFilterClock } from './budget/live-filter-clock.js';
import { ErrorCode } from '../src/errors.js';
import { schemaIdOf } from './encode.js';
import { batchTail, liveFragments, SHARED_BATCH_UNITS, type LivePart } from './live-frame.js';
import type { EventFilter } from './query/event-filter.js';
import type { JournalStore, StoredEvent } from './store.js';

/** What a subscription needs from its connection. */
export interface SubscriptionSink {
  /** Sends a text frame. */
  send(frame: string): void;
  /** Sends one text frame in fragments, none of them copied (see server/live-frame.ts). */
  sendFragments(fragments: readonly LivePart[]): void;
  /** Bytes queued on the socket and not yet written. */
  readonly bufferedAmount: number;
  /** True when a history page may be read and sent now (the connection's output budget, and the server's). */
  hasRoom(): boolean;
  /** Resolves once {@link hasRoom} is true, or the connection is gone. */
  ready(): Promise<void>;
  /**
   * Reserves `units` of the connection's output for a live batch not queued yet; false (and
   * nothing reserved) when what is queued and reserved would pass `maxSendBuffer`.
   */
  reserveLive(units: number): boolean;
  /** Gives back what {@link reserveLive} reserved (the batch is queued, or dropped). */
  releaseLive(units: number): void;
  /** Runs one history read as a slice of the server's scan slicer, sharing the event loop with every other scan. */
  read<T>(subscription: Subscription, work: () => Promise<T>): Promise<T>;
  /** The time live selectors may take per turn of the event loop, server-wide (budget/live-filter-clock.ts). */
  readonly liveFilters: LiveFilterClock;
  /** Called once when the subscription has ended with an `end` frame: `code` and `message` are the frame's. */
  ended(subscription: Subscription, code?: string, message?: string): void;
}

export interface SubscriptionLimits {
  /** Events per history page. */
  readonly pageSize: number;
  /** History reads pause while the socket holds more than this many bytes. */
  readonly sendHighWaterMark: number;
  /** A live subscription whose socket holds more than this many bytes is ended with SLOW_CONSUMER. */
  readonly maxSendBuffer: number;
  /** Live events held per subscription while history replays. */
  readonly liveHoldSize: number;
  /** Bytes of live events held per subscription while history replays. */
  readonly liveHoldBytes: number;
}

export interface SubscriptionRequest {
  readonly id: number;
  readonly journal: string;
  readonly full: boolean;
  readonly since: number;
  readonly names: ReadonlySet<string> | undefined;
  /** Only events whose schema's `$id` is listed (events naming no schema never pass). */
  readonly schemas: ReadonlySet<string> | undefined;
  /** Only events this selector filter passes, in history and live alike. */
  readonly where?: EventFilter | undefined;
}

type State = 'history' | 'live' | 'ended';

/** Live events of one turn share a frame up to this many UTF-16 units of JSON (a batch larger alone gets its own). */
const LIVE_FRAME_UNITS = 64 * 1024;
/** Events of a subscription's first history read at most, before the size of its events is known. */
const FIRST_PAGE = 16;

/** A history frame holds events up to this many UTF-16 units of JSON (or one event, when it is larger alone). */
const HISTORY_FRAME_UNITS = 64 * 1024;

export class Subscription {
  readonly id: number;
  readonly journal: string;
  readonly #request: SubscriptionRequest;
  readonly #store: JournalStore;
  readonly #sink: SubscriptionSink;
  readonly #limits: SubscriptionLimits;
  #state: State = 'history';
  #unwatch: (() => void) | undefined;
  #held: StoredEvent[] = [];
  #heldBytes = 0;
  #heldOverflow = false;
  /** Highest seq sent or skipped; events at or below it are never sent again. */
  #lastSeq = 0;
  /** Timestamp of the event at `#lastSeq` (or `since`): where the next history read starts. */
  #cursor: number;
  /**
   * Live events not sent yet, as the parts of one response frame's body: the appends of one
   * turn of the event loop (one socket read's, say) reach the client in one frame, sent once
   * they have run.
   */
  #liveParts: LivePart[] = [];
  /** Whether history's start was checked against what retention removed (once, at the first page). */
  #startChecked = false;
  /** UTF-16 units reserved on the connection for `#liveParts` (SubscriptionSink.reserveLive). */
  #liveUnits = 0;
  /** UTF-16 units of the last history page read, per event: sizes the next read to the room left. */
  #unitsPerEvent = 0;
  /** How many events the next history read asks for. */
  #readLimit = 0;

  constructor(request: SubscriptionRequest, store: JournalStore, sink: SubscriptionSink, limits: SubscriptionLimits) {
    this.id = request.id;
    this.journal = request.journal;
    this.#request = request;
    this.#store = store;
    this.#sink = sink;
    this.#limits = limits;
    this.#cursor = request.since;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  /** Registers for live events, answers `subscribed`, then replays history. Errors end the subscription. */
  async start(): Promise<void> {
    this.#unwatch = this.#store.watch(this.journal, (events) => this.#onLive(events));
    try {
      let head = await this.#store.head(this.journal);
      if (this.ended) return;
      this.#sink.send(JSON.stringify({ type: 'subscribed', id: this.id, head }));
      if (!this.#request.full) {
        this.#lastSeq = head.seq;
        this.#cursor = Math.max(this.#cursor, head.timestamp);
      } else {
        for (;;) {
          await this.#replayTo(head.seq);
          if (this.ended) return;
          if (!this.#heldOverflow) break;
          // The hold lost events: start a fresh hold, then read history up to a new head.
          this.#held = [];
          this.#heldBytes = 0;
          this.#heldOverflow = false;
          head = await this.#store.head(this.journal);
          if (this.ended) return;
        }
        this.#sink.send(`{"type":"response","id":${this.id},"events":[]}`);
      }
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      this.#state = 'live';
      if (held.length > 0) this.#sendLive(held);
    } catch (error) {
      this.end(ErrorCode.STORE_UNAVAILABLE, `reading journal ${this.journal} failed: ${(error as Error).message}`);
    }
  }

  /** Ends the subscription and sends `end` (with `code` when the server ends it). Idempotent. */
  end(code?: string, message?: string): void {
    if (this.#state === 'ended') return;
    // Live events already taken go before the end, as they would have unbatched; a slow consumer's are dropped.
    if (code !== ErrorCode.SLOW_CONSUMER) this.#flushLive();
    this.dispose();
    const frame: Record<string, unknown> = { type: 'end', id: this.id };
    if (code !== undefined) frame['code'] = code;
    if (message !== undefined) frame['message'] = message;
    this.#sink.send(JSON.stringify(frame));
    this.#sink.ended(this, code, message);
  }

  /** Ends the subscription without a frame: the connection is gone. */
  dispose(): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#held = [];
    this.#heldBytes = 0;
    this.#liveParts = [];
    this.#sink.releaseLive(this.#liveUnits);
    this.#liveUnits = 0;
  }

  /**
   * Replays history up to `headSeq`, a page at a time. Each page waits for room in the output
   * budget *before* it is read, is read and sent as one slice of the scan slicer (so a scan that
   * finds nothing to send still yields the event loop), in frames while there is room; what
   * does not fit is read again once there is.
   */
  async #replayTo(headSeq: number): Promise<void> {
    const { pageSize, sendHighWaterMark } = this.#limits;
    while (this.#lastSeq < headSeq) {
      if (!this.#sink.hasRoom()) await this.#sink.ready();
      if (this.ended) return;
      // Pages of large events hold no more than the high-water mark; the first page, of events
      // of a size not known yet, is small (one slice's worth whatever their size).
      this.#readLimit =
        this.#unitsPerEvent === 0 ? Math.min(pageSize, FIRST_PAGE) : Math.max(1, Math.min(pageSize, Math.floor(sendHighWaterMark / this.#unitsPerEvent)));
      if (await this.#sink.read(this, this.#replayPage)) return;
    }
  }

  /**
   * One slice of the replay: reads a page and sends it; true when history is done (or the
   * subscription ended). The room is checked again when the slice's turn comes, since other
   * subscriptions' pages may have filled the connection since this one was queued.
   *
   * The page goes no further than this slice. Handed back through the promise and the replay's
   * suspended function, both made a whole round of the slicer earlier, it would be written into
   * objects the garbage collector had already moved to the old generation; dead or not, those
   * keep it alive through every young collection until the next full one. With hundreds of
   * scans waiting their turn, every page read took that road: young collections took most of the
   * event loop (a filter that matches nothing, 512 subscriptions: 6.2 s of scavenges in 11 s).
   */
  readonly #replayPage = async (): Promise<boolean> => {
    if (!this.#sink.hasRoom()) return false;
    const page = await this.#store.read(this.journal, this.#cursor, this.#readLimit);
    if (this.ended) return true;
    const firstPage = !this.#startChecked;
    if (firstPage) {
      this.#startChecked = true;
      await this.#checkStart(page);
      if (this.ended) return true;
    }
    if (page.length === 0) return true;
    // Seqs that skip where a trim removed events during the replay: what comes before the gap
    // goes first, then `truncated` names the event after it.
    let rest = page;
    const gap = this.#gapIn(page, firstPage);
    if (gap >= 0) {
      const { removed } = await this.#store.start(this.journal);
      if (this.ended) return true;
      if (removed.seq >= (gap === 0 ? this.#lastSeq : page[gap - 1]!.seq) + 1) {
        if (gap > 0 && !this.#sendPage(page.slice(0, gap))) return false;
        this.#sendTruncated(page[gap]!);
        rest = page.slice(gap);
      }
    }
    return this.#sendPage(rest) && page.length < this.#readLimit;
  };

  /**
   * Sends `truncated` before the first history page when retention removed events after
   * `since`. Asked after the page was read, so a trim that ran before the read is seen; the
   * first event named is the one history goes on from.
   */
  async #checkStart(page: readonly StoredEvent[]): Promise<void> {
    const { removed, first } = await this.#store.start(this.journal);
    if (this.ended || !(removed.timestamp > this.#request.since)) return;
    this.#sendTruncated(page[0] ?? first);
  }

  /** Says that retention removed history before `first`, the event the replay goes on from. */
  #sendTruncated(first: { readonly seq: number; readonly timestamp: number }): void {
    this.#sink.send(`{"type":"truncated","id":${this.id},"first":{"seq":${first.seq},"timestamp":${first.timestamp}}}`);
  }

  /**
   * Where the seqs of a history page skip: the index of the first event not sent yet that does
   * not follow the one before it (on the first page, a skip before its first event is the
   * start's business, see #checkStart); -1 when none does. Seqs also skip, with nothing
   * removed, in a journal imported with preserved seqs.
   */
  #gapIn(page: readonly StoredEvent[], firstPage: boolean): number {
    let expect = firstPage ? 0 : this.#lastSeq + 1;
    for (let i = 0; i < page.length; i++) {
      const seq = page[i]!.seq;
      if (seq <= this.#lastSeq) continue;
      if (expect !== 0 && seq !== expect) return i;
      expect = seq + 1;
    }
    return -1;
  }

  #onLive(events: readonly StoredEvent[]): void {
    if (this.#state === 'live') {
      this.#sendLive(events);
    } else if (this.#state === 'history' && !this.#heldOverflow) {
      for (const event of events) {
        this.#held.push(event);
        this.#heldBytes += event.json.length;
      }
      if (this.#held.length > this.#limits.liveHoldSize || this.#heldBytes > this.#limits.liveHoldBytes) {
        this.#held = [];
        this.#heldBytes = 0;
        this.#heldOverflow = true;
      }
    }
  }

  #sendLive(events: readonly StoredEvent[]): void {
    if (this.#sink.bufferedAmount > this.#limits.maxSendBuffer) {
      this.#fellBehind();
      return;
    }
    const clock = this.#request.where === undefined ? undefined : this.#sink.liveFilters;
    if (clock !== undefined && !clock.hasTime()) {
      this.end(ErrorCode.SLOW_CONSUMER, 'live selectors took this turn of the server; resume from the last event received');
      return;
    }
    // The batch's share of the connection's output is reserved before its body is built: the
    // subscriptions of one connection that would together pass `maxSendBuffer` this turn end
    // instead of each building a copy of the batch.
    let units = 0;
    for (let i = 0; i < events.length; i++) units += events[i]!.json.length;
    if (!this.#sink.reserveLive(units)) {
      this.#fellBehind();
      return;
    }
    const started = clock === undefined ? 0 : performance.now();
    const part = this.#takeLive(events, units);
    if (clock !== undefined) clock.spend(performance.now() - started);
    if (part === '') {
      this.#sink.releaseLive(units);
      return;
    }
    const parts = this.#liveParts;
    if (parts.length === 0) {
      process.nextTick(this.#flushLive);
    } else if (this.#liveUnits + units > LIVE_FRAME_UNITS) {
      // Frames stay about as small as one append's: a turn's appends from many producers may be large.
      this.#liveParts = [];
      this.#sink.releaseLive(this.#liveUnits);
      this.#liveUnits = 0;
      this.#sendLiveParts(parts);
      // The flush already queued for this turn sends what follows.
      if (this.#state !== 'live') {
        this.#sink.releaseLive(units);
        return;
      }
    }
    const end = this.#liveParts.length - 1;
    const before = this.#liveParts[end];
    if (typeof before === 'string' && typeof part === 'string') this.#liveParts[end] = `${before},${part}`;
    else this.#liveParts.push(part);
    this.#liveUnits += units;
  }

  /**
   * A live batch's part of this subscription's next frame: the batch's shared tail when the
   * subscription sends every event of a batch large enough to share, else the events it sends
   * joined ('' when none).
   */
  #takeLive(events: readonly StoredEvent[], units: number): LivePart {
    const { since, names, schemas, where } = this.#request;
    const first = events[0]!;
    if (units < SHARED_BATCH_UNITS || names !== undefined || schemas !== undefined || where !== undefined || first.seq <= this.#lastSeq || first.timestamp <= since) {
      return this.#take(events);
    }
    const lastEvent = events[events.length - 1]!;
    this.#lastSeq = lastEvent.seq;
    this.#cursor = lastEvent.timestamp;
    return batchTail(events);
  }

  readonly #flushLive = (): void => {
    const parts = this.#liveParts;
    if (parts.length === 0) return;
    this.#liveParts = [];
    this.#sink.releaseLive(this.#liveUnits);
    this.#liveUnits = 0;
    if (this.#state === 'live') this.#sendLiveParts(parts);
  };

  /**
   * Sends a live frame unless it would take the connection's output past `maxSendBuffer`
   * (checked when it is queued, so that many subscriptions of one connection cannot each
   * queue a turn's batch past it); then the subscription ends with SLOW_CONSUMER instead.
   */
  #sendLiveParts(parts: readonly LivePart[]): void {
    let size = 0;
    for (let i = 0; i < parts.length; i++) size += parts[i]!.length;
    const buffered = this.#sink.bufferedAmount;
    if (buffered > 0 && buffered + size > this.#limits.maxSendBuffer) {
      this.#fellBehind();
      return;
    }
    const only = parts[0]!;
    if (parts.length === 1 && typeof only === 'string') this.#send(only);
    else this.#sink.sendFragments(liveFragments(this.id, parts));
  }

  #fellBehind(): void {
    this.end(ErrorCode.SLOW_CONSUMER, 'the subscription fell too far behind; resume from the last event received');
  }

  /**
   * Sends a history page's events above `#lastSeq` that pass the filters, in frames of at most
   * {@link HISTORY_FRAME_UNITS}, each only while the output budget has room. True when the whole
   * page was taken; false when it stopped for room (the cursor stays after the last event sent).
   */
  #sendPage(page: readonly StoredEvent[]): boolean {
    let units = 0;
    let index = 0;
    while (index < page.length) {
      if (!this.#sink.hasRoom()) break;
      const start = index;
      const body = this.#take(page, index, HISTORY_FRAME_UNITS);
      index = this.#taken;
      for (let i = start; i < index; i++) units += page[i]!.json.length;
      if (body !== '') this.#send(body);
    }
    this.#unitsPerEvent = index === 0 ? this.#unitsPerEvent : Math.ceil(units / index);
    return index === page.length;
  }

  /** Where the last {@link #take} stopped: the index after the last event it took. */
  #taken = 0;

  /**
   * The events from `from` above `#lastSeq` that pass the filters, as a frame body of about
   * `maxUnits` at most (a larger event alone); advances the cursor past every event it looked
   * at, and sets {@link #taken} to where it stopped.
   */
  #take(events: readonly StoredEvent[], from = 0, maxUnits = Infinity): string {
    const { since, names, schemas, where } = this.#request;
    let body = '';
    let index = from;
    for (; index < events.length; index++) {
      const event = events[index]!;
      if (event.seq <= this.#lastSeq) continue;
      if (body !== '' && body.length + event.json.length > maxUnits) break;
      this.#lastSeq = event.seq;
      this.#cursor = event.timestamp;
      if (event.timestamp <= since || (names !== undefined && !names.has(event.name))) continue;
      if (schemas !== undefined && !schemas.has(schemaIdOf(event.json) ?? '')) continue;
      if (where !== undefined && !where(event)) continue;
      body = body === '' ? event.json : `${body},${event.json}`;
    }
    this.#taken = index;
    return body;
  }

  #send(body: string): void {
    this.#sink.send(`{"type":"response","id":${this.id},"events":[${body}]}`);
  }
}
