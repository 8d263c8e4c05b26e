/**
 * One journal: its events followed live (history, the end-of-history line,
 * live events), with pause, a filter by name and selector, a search by seq
 * or time, and the JSON of the event clicked.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { EventDetail } from './event-detail.js';
import { EventList } from './event-list.js';
import { FilterBar, filterFromParams } from './filter-bar.js';
import { formatCount, formatTime, parseJump } from './format.js';
import { JournalFeed, type FeedSource } from './journal-feed.js';
import { journalHref } from './route.js';
import { useServices } from './services.js';
import type { EventEntry, EventFilter } from './types.js';

export interface JournalViewProps {
  journal: string;
  params: URLSearchParams;
}

export function JournalView({ journal, params }: JournalViewProps) {
  const { source, unauthorized } = useServices();
  const id = useId();
  const paramsKey = params.toString();
  const { filter, whereError } = useMemo(() => filterFromParams(params), [paramsKey]);
  const feed = useFeed(journal, filter, source);
  const [selected, setSelected] = useState<EventEntry | undefined>(undefined);
  const [jumpText, setJumpText] = useState('');
  const [jumpMessage, setJumpMessage] = useState('');
  const list = useRef<HTMLDivElement>(null);

  const error = feed.error;
  useEffect(() => {
    if (error instanceof ApiError && error.status === 401) unauthorized(error.message);
  }, [error, unauthorized]);
  const selectorError = whereError ?? (error?.code === 'INVALID_SELECTOR' || error?.code === 'INVALID_PAYLOAD' ? error.message : undefined);

  const applyFilter = (next: EventFilter) => {
    const query: Record<string, string | undefined> = {
      names: next.names?.join(','),
      where: next.where ? JSON.stringify(next.where) : undefined,
    };
    location.hash = journalHref('journal', journal, query);
  };

  const jump = async () => {
    const target = parseJump(jumpText);
    if (target === undefined) {
      setJumpMessage('Type a seq (like 1234) or a time (like 2025-06-01 12:00:00).');
      return;
    }
    setJumpMessage('Searching…');
    const found = await feed.jumpTo(target);
    if (found) {
      setJumpMessage(`Found event ${found.seq} at ${formatTime(found.timestamp)}.`);
      setSelected(found);
    } else {
      setJumpMessage('No matching event at or after that point.');
    }
    list.current?.querySelector<HTMLElement>('[role=listbox]')?.focus();
  };

  const held = feed.window;
  const status = describe(feed);
  return (
    <section class="journal-view" aria-labelledby={`${id}-title`}>
      <div class="view-head">
        <h1 id={`${id}-title`}>{journal}</h1>
        <a class="button-link" href={journalHref('charts', journal)}>
          Charts
        </a>
      </div>
      <FilterBar filter={filter} serverError={selectorError} onApply={applyFilter} />
      <div class="toolbar" role="group" aria-label="Follow and search">
        <button
          type="button"
          aria-pressed={feed.paused ? 'true' : 'false'}
          onClick={() => void (feed.paused ? feed.resume() : feed.pause())}
          data-testid="pause"
        >
          {feed.paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" onClick={() => void feed.toStart()}>
          First events
        </button>
        <button type="button" onClick={() => void feed.toEnd()} data-testid="to-end">
          {feed.newCount > 0 ? `Newest (${formatCount(feed.newCount)} new)` : 'Newest'}
        </button>
        <form
          class="jump"
          role="search"
          aria-label="Go to a seq or a time"
          onSubmit={(event) => {
            event.preventDefault();
            void jump();
          }}
        >
          <label for={`${id}-jump`}>Go to seq or time</label>
          <input
            id={`${id}-jump`}
            type="search"
            value={jumpText}
            placeholder="1234 or 2025-06-01 12:00"
            onInput={(event) => setJumpText(event.currentTarget.value)}
            aria-describedby={`${id}-jump-message`}
          />
          <button type="submit">Go</button>
        </form>
      </div>
      <p id={`${id}-jump-message`} class="hint" role="status">
        {jumpMessage}
      </p>
      {error && !(error instanceof ApiError && error.status === 401) && selectorError === undefined && (
        <p class="error" role="alert">
          {feed.reconnecting ? `Connection lost, reconnecting… (${error.message})` : `${error.code ?? error.name}: ${error.message}`}{' '}
          {feed.status === 'opening' && feed.loading === undefined && (
            <button type="button" onClick={() => void feed.open()}>
              Try again
            </button>
          )}
        </p>
      )}
      <p class="status" role="status" data-testid="feed-status">
        {status}
      </p>
      <div class={`events-area${selected ? ' with-detail' : ''}`} ref={list}>
        <EventList
          key={paramsKey}
          rows={held.rows}
          version={feed.version}
          label={`Events of ${journal}`}
          following={feed.following}
          atStart={held.atStart}
          atEnd={held.atEnd}
          target={feed.target}
          selected={selected?.seq}
          onNearTop={() => void feed.loadOlder()}
          onNearBottom={() => void feed.loadNewer()}
          onFollowChange={(following) => feed.setFollowing(following)}
          onOpen={setSelected}
          onHome={() => void feed.toStart()}
          onEnd={() => void feed.toEnd()}
        />
        {selected && (
          <EventDetail
            event={selected}
            onClose={() => {
              setSelected(undefined);
              list.current?.querySelector<HTMLElement>('[role=listbox]')?.focus();
            }}
          />
        )}
      </div>
      <p class="hint window-info" data-testid="window-info">
        {held.length === 0
          ? ''
          : `Seq ${held.first!.seq}–${held.last!.seq} held (${formatCount(held.length)} events)${held.atStart ? ', from the first event' : ''}${
              held.atEnd ? ', up to the newest' : ''
            }${feed.loading === 'older' ? ', loading older events…' : feed.loading === 'newer' ? ', loading newer events…' : ''}`}
      </p>
    </section>
  );
}

/** What the feed is doing, in one sentence for the status line (read out when it changes, not per event). */
function describe(feed: FeedState): string {
  if (feed.status === 'opening' && feed.error && feed.loading === undefined) return 'Nothing shown: the server refused the query (see above).';
  if (feed.status === 'opening' || feed.loading === 'jump') return 'Loading…';
  if (feed.status === 'history') return 'Replaying history…';
  // No counts here: a live region that changed with every event would talk over everything else.
  if (feed.paused) return 'Paused: new events wait until you resume.';
  if (!feed.following) return 'Not following the newest events.';
  return 'End of history reached; following live events.';
}

/** The feed's state for one render, and its commands. */
type FeedState = Pick<
  JournalFeed,
  | 'window'
  | 'status'
  | 'error'
  | 'reconnecting'
  | 'loading'
  | 'following'
  | 'paused'
  | 'newCount'
  | 'target'
  | 'pause'
  | 'resume'
  | 'toEnd'
  | 'toStart'
  | 'jumpTo'
  | 'loadOlder'
  | 'loadNewer'
  | 'setFollowing'
  | 'open'
> & { version: number };

/**
 * A feed for this journal and filter, opened on mount and closed on unmount
 * or change; the view redraws at most once per animation frame however fast
 * events arrive.
 */
function useFeed(journal: string, filter: EventFilter, source: FeedSource): FeedState {
  const [version, setVersion] = useState(0);
  const feed = useMemo(() => new JournalFeed(journal, filter, source), [journal, filter, source]);
  useEffect(() => {
    let frame: number | undefined;
    const unsubscribe = feed.subscribe(() => {
      frame ??= requestAnimationFrame(() => {
        frame = undefined;
        setVersion((n) => n + 1);
      });
    });
    void feed.open();
    return () => {
      unsubscribe();
      if (frame !== undefined) cancelAnimationFrame(frame);
      feed.close();
    };
  }, [feed]);
  return {
    version,
    window: feed.window,
    status: feed.status,
    error: feed.error,
    reconnecting: feed.reconnecting,
    loading: feed.loading,
    following: feed.following,
    paused: feed.paused,
    newCount: feed.newCount,
    target: feed.target,
    pause: () => feed.pause(),
    resume: () => feed.resume(),
    toEnd: () => feed.toEnd(),
    toStart: () => feed.toStart(),
    jumpTo: (target) => feed.jumpTo(target),
    loadOlder: () => feed.loadOlder(),
    loadNewer: () => feed.loadNewer(),
    setFollowing: (following) => feed.setFollowing(following),
    open: () => feed.open(),
  };
}
