/**
 * The events of a journal as a virtualised list: only the rows in view (and a
 * few around them) are in the DOM, each one line of fixed height, so a window
 * of thousands of rows scrolls as lightly as one of ten. It keeps the newest
 * row in view while following, keeps the row under the user's eyes in place
 * when pages are added above or dropped, and asks for more as the user nears
 * either end. A listbox for assistive technology: arrows, Page Up/Down, Home,
 * End and Enter.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Row } from './event-window.js';
import type { ScrollTarget } from './journal-feed.js';
import { contextLine, formatIsoMicros, formatTime } from './format.js';
import type { EventEntry } from './types.js';

/** Height of one row in px; the stylesheet's `.row` uses the same. */
export const ROW_HEIGHT = 28;
/** Rows drawn beyond each edge of the view. */
const OVERSCAN = 10;
/** Rows from an end of the window at which the next page is asked for. */
const NEAR_EDGE = 60;

export interface EventListProps {
  rows: readonly Row[];
  /** Changes whenever `rows` or the window's ends change. */
  version: number;
  label: string;
  following: boolean;
  atStart: boolean;
  atEnd: boolean;
  target: ScrollTarget | undefined;
  /** The seq of the event whose details are open. */
  selected: number | undefined;
  onNearTop(): void;
  onNearBottom(): void;
  /** The user scrolled away from the bottom (false) or back to it (true). */
  onFollowChange(following: boolean): void;
  onOpen(event: EventEntry): void;
  onHome(): void;
  onEnd(): void;
}

export function EventList(props: EventListProps) {
  const { rows, version, following, target } = props;
  const viewport = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  /** The row at the top of the view and how far into it the view starts: kept in place across changes. */
  const anchor = useRef<{ pos: number; offset: number } | undefined>(undefined);
  /** Scroll positions the list set itself, not to be taken for the user's. */
  const ownScroll = useRef<number | undefined>(undefined);
  const lastTarget = useRef<number | undefined>(undefined);
  const [active, setActive] = useState<number | undefined>(undefined);
  const callbacks = useRef(props);
  callbacks.current = props;

  const setTop = (top: number) => {
    const element = viewport.current!;
    const max = Math.max(0, rows.length * ROW_HEIGHT - element.clientHeight);
    const clamped = Math.min(Math.max(0, top), max);
    ownScroll.current = clamped;
    element.scrollTop = clamped;
    setScrollTop(clamped);
    anchor.current = anchorAt(rows, clamped);
  };

  // After each change of the rows: follow the bottom, go to a search's target, or keep the anchor row in place.
  useLayoutEffect(() => {
    const element = viewport.current;
    if (!element) return;
    if (target !== undefined && target.id !== lastTarget.current) {
      lastTarget.current = target.id;
      const index = target.pos === Infinity ? rows.length - 1 : target.pos === -Infinity ? 0 : indexAt(rows, target.pos);
      if (Number.isFinite(target.pos)) {
        const row = rows[index];
        if (row) setActive(row.pos);
        setTop(index * ROW_HEIGHT - element.clientHeight / 3);
      } else setTop(target.pos === Infinity ? Infinity : 0);
      return;
    }
    if (following) {
      setTop(Infinity);
      return;
    }
    const kept = anchor.current;
    if (kept !== undefined) setTop(indexAt(rows, kept.pos) * ROW_HEIGHT + kept.offset);
  }, [version, following, target?.id]);

  useEffect(() => {
    const element = viewport.current!;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    setHeight(element.clientHeight);
    return () => observer.disconnect();
  }, []);

  // Ask for more when the view is near an end of what is held. Read from the element: a jump
  // has just moved it in the layout effect above, and the state still holds where it was.
  useEffect(() => {
    const element = viewport.current!;
    const first = Math.floor(element.scrollTop / ROW_HEIGHT);
    const last = Math.ceil((element.scrollTop + element.clientHeight) / ROW_HEIGHT);
    if (first < NEAR_EDGE && !props.atStart) callbacks.current.onNearTop();
    if (last > rows.length - NEAR_EDGE && !props.atEnd) callbacks.current.onNearBottom();
  }, [scrollTop, height, version, props.atStart, props.atEnd]);

  const onScroll = () => {
    const element = viewport.current!;
    const top = element.scrollTop;
    anchor.current = anchorAt(rows, top);
    setScrollTop(top);
    if (ownScroll.current !== undefined && Math.abs(ownScroll.current - top) < 1) return;
    ownScroll.current = undefined;
    const atBottom = top + element.clientHeight >= element.scrollHeight - ROW_HEIGHT / 2;
    callbacks.current.onFollowChange(atBottom);
  };

  const activeIndex = active === undefined ? -1 : indexAt(rows, active);
  const moveTo = (index: number) => {
    if (rows.length === 0) return;
    const clamped = Math.min(Math.max(0, index), rows.length - 1);
    setActive(rows[clamped]!.pos);
    const element = viewport.current!;
    const top = clamped * ROW_HEIGHT;
    if (top < element.scrollTop) setTop(top);
    else if (top + ROW_HEIGHT > element.scrollTop + element.clientHeight) setTop(top + ROW_HEIGHT - element.clientHeight);
    if (clamped < rows.length - 1) callbacks.current.onFollowChange(false);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
    const from = activeIndex >= 0 ? activeIndex : Math.floor(scrollTop / ROW_HEIGHT);
    switch (event.key) {
      case 'ArrowDown':
        moveTo(activeIndex >= 0 ? from + 1 : from);
        break;
      case 'ArrowUp':
        moveTo(activeIndex >= 0 ? from - 1 : from);
        break;
      case 'PageDown':
        moveTo(from + page);
        break;
      case 'PageUp':
        moveTo(from - page);
        break;
      case 'Home':
        callbacks.current.onHome();
        break;
      case 'End':
        callbacks.current.onEnd();
        break;
      case 'Enter':
      case ' ': {
        const row = rows[activeIndex];
        if (row?.kind === 'event') callbacks.current.onOpen(row.event);
        break;
      }
      default:
        return;
    }
    event.preventDefault();
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const drawn: Row[] = [];
  for (let i = first; i < last; i++) drawn.push(rows[i]!);
  const activeRow = rows[activeIndex];
  const activeDrawn = activeRow !== undefined && activeIndex >= first && activeIndex < last;

  return (
    <div
      ref={viewport}
      class="event-list"
      role="listbox"
      tabIndex={0}
      aria-label={props.label}
      aria-activedescendant={activeDrawn ? rowId(activeRow) : undefined}
      onScroll={onScroll}
      onKeyDown={onKeyDown}
      data-testid="event-list"
      data-rows={rows.length}
    >
      <div class="event-list-body" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
        {drawn.map((row, i) => (
          <RowView
            key={row.pos}
            row={row}
            top={(first + i) * ROW_HEIGHT}
            active={row.pos === active}
            selected={row.kind === 'event' && row.event.seq === props.selected}
            onClick={() => {
              setActive(row.pos);
              if (row.kind === 'event') callbacks.current.onOpen(row.event);
            }}
          />
        ))}
      </div>
    </div>
  );
}

interface RowViewProps {
  row: Row;
  top: number;
  active: boolean;
  selected: boolean;
  onClick(): void;
}

function RowView({ row, top, active, selected, onClick }: RowViewProps) {
  const style = { transform: `translateY(${top}px)` };
  if (row.kind === 'end-of-history') {
    return (
      <div id={rowId(row)} role="option" aria-disabled="true" aria-selected="false" class={`row end-of-history${active ? ' active' : ''}`} style={style} data-testid="end-of-history">
        <span>End of history · live events follow</span>
      </div>
    );
  }
  const { event } = row;
  return (
    <div
      id={rowId(row)}
      role="option"
      aria-selected={selected ? 'true' : 'false'}
      class={`row${active ? ' active' : ''}${selected ? ' selected' : ''}`}
      style={style}
      onClick={onClick}
      data-seq={event.seq}
    >
      <span class="seq">{event.seq}</span>
      <time class="time" dateTime={formatIsoMicros(event.timestamp)}>
        {formatTime(event.timestamp)}
      </time>
      <span class="name">{event.name}</span>
      <span class="context">{contextLine(event.context)}</span>
    </div>
  );
}

function rowId(row: Row): string {
  return row.kind === 'event' ? `event-${row.event.seq}` : 'end-of-history';
}

/** Index of the row at `pos`, or of the first after it. */
function indexAt(rows: readonly Row[], pos: number): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (rows[mid]!.pos < pos) low = mid + 1;
    else high = mid;
  }
  return Math.min(low, Math.max(0, rows.length - 1));
}

function anchorAt(rows: readonly Row[], top: number): { pos: number; offset: number } | undefined {
  const index = Math.floor(top / ROW_HEIGHT);
  const row = rows[Math.min(index, rows.length - 1)];
  return row === undefined ? undefined : { pos: row.pos, offset: top - Math.min(index, rows.length - 1) * ROW_HEIGHT };
}
