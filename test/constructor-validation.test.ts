/**
 * Bad use fails loudly (SPEC section 2): invalid journal names, URLs and
 * options throw a TypeError or RangeError naming the argument, at construction.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalProducer } from '../src/journal-producer.js';

const URL_OK = 'ws://127.0.0.1:1';

/** Asserts that `fn` throws an error of class `kind` whose message names `argument`. */
function throwsNaming(fn: () => unknown, kind: typeof TypeError | typeof RangeError | 'either', argument: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    if (kind === 'either') {
      assert.ok(error instanceof TypeError || error instanceof RangeError, `expected a TypeError or RangeError, got ${String(error)}`);
    } else {
      assert.ok(error instanceof kind, `expected a ${kind.name}, got ${String(error)}`);
    }
    assert.match((error as Error).message, argument);
    return true;
  });
}

const BAD_JOURNALS: [string, unknown][] = [
  ['empty', ''],
  ['leading dot', '.hidden'],
  ['leading dash', '-x'],
  ['129 characters', 'a'.repeat(129)],
  ['path traversal', '../x'],
  ['a slash', 'a/b'],
  ['a space', 'a b'],
  ['a number', 42],
  ['undefined', undefined],
  ['null', null],
];

const BAD_URLS: [string, unknown][] = [
  ['not a URL', 'not a url'],
  ['http:', 'http://127.0.0.1:7707'],
  ['https:', 'https://example.com'],
  ['empty', ''],
  ['a number', 7707],
];

describe('EventLogConsumer constructor', () => {
  it('accepts a valid journal name of 128 characters and the allowed punctuation', () => {
    assert.doesNotThrow(() => new EventLogConsumer(URL_OK, 'a'.repeat(128)));
    assert.doesNotThrow(() => new EventLogConsumer(URL_OK, 'A0._-z'));
  });

  for (const [what, journal] of BAD_JOURNALS) {
    it(`throws a TypeError naming journal for a journal name that is ${what}`, () => {
      throwsNaming(() => new EventLogConsumer(URL_OK, journal as string), TypeError, /journal/);
    });
  }

  for (const [what, url] of BAD_URLS) {
    it(`throws a TypeError naming url for a URL that is ${what}`, () => {
      throwsNaming(() => new EventLogConsumer(url as string, 'jobs'), TypeError, /url/);
    });
  }

  it("throws a TypeError naming options.full for full: 'yes'", () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { full: 'yes' as unknown as boolean }), TypeError, /options\.full/);
  });

  it('throws a RangeError naming options.since for since: -1', () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { since: -1 }), RangeError, /options\.since/);
  });

  it('throws naming options.since for since: NaN, Infinity and a string', () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { since: NaN }), 'either', /options\.since/);
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { since: Infinity }), 'either', /options\.since/);
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { since: '5' as unknown as number }), TypeError, /options\.since/);
  });

  it('throws naming the other boolean options when they are not booleans', () => {
    for (const key of ['includeSentinel', 'bufferHistory', 'reconnect'] as const) {
      throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { [key]: 1 } as object), TypeError, new RegExp(`options\\.${key}`));
    }
  });

  it('throws a TypeError naming an unknown option key', () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { fulll: true } as object), TypeError, /fulll/);
  });

  it("throws a TypeError naming options.token for token: ''", () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', { token: '' }), TypeError, /options\.token/);
  });

  it('throws a TypeError when options is not an object', () => {
    throwsNaming(() => new EventLogConsumer(URL_OK, 'jobs', 'full' as unknown as object), TypeError, /options/);
  });

  it('throws a TypeError for token or reconnect given with a shared connection', () => {
    const connection = new JournalConnection(URL_OK);
    throwsNaming(() => new EventLogConsumer(connection, 'jobs', { token: 't' }), TypeError, /token/);
    throwsNaming(() => new EventLogConsumer(connection, 'jobs', { reconnect: false }), TypeError, /reconnect/);
  });

  it('does not connect anywhere when construction fails, and accepts every valid option', () => {
    assert.doesNotThrow(
      () =>
        new EventLogConsumer(URL_OK, 'jobs', {
          full: false,
          since: 12.5,
          includeSentinel: true,
          bufferHistory: false,
          reconnect: false,
          token: 'secret',
        }),
    );
  });
});

describe('JournalProducer constructor', () => {
  for (const [what, journal] of BAD_JOURNALS) {
    it(`throws a TypeError naming journal for a journal name that is ${what}`, () => {
      throwsNaming(() => new JournalProducer(URL_OK, journal as string), TypeError, /journal/);
    });
  }

  for (const [what, url] of BAD_URLS) {
    it(`throws a TypeError naming url for a URL that is ${what}`, () => {
      throwsNaming(() => new JournalProducer(url as string, 'jobs'), TypeError, /url/);
    });
  }

  it('throws a TypeError naming an unknown option key', () => {
    throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { contxt: {} } as object), TypeError, /contxt/);
  });

  it("throws a TypeError naming options.token for token: ''", () => {
    throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { token: '' }), TypeError, /options\.token/);
  });

  it('throws a TypeError naming options.context when it is not a plain object', () => {
    throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { context: 5 as unknown as object }), TypeError, /options\.context/);
    throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { context: [1] }), TypeError, /options\.context/);
  });

  it('throws naming options.closeTimeout unless it is a positive number of seconds', () => {
    throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { closeTimeout: '5' as unknown as number }), TypeError, /options\.closeTimeout/);
    for (const bad of [0, -1, Infinity]) {
      throwsNaming(() => new JournalProducer(URL_OK, 'jobs', { closeTimeout: bad }), RangeError, /options\.closeTimeout/);
    }
  });

  it('accepts valid options', () => {
    assert.doesNotThrow(() => new JournalProducer(URL_OK, 'jobs', { token: 't', context: { host: 'h' }, closeTimeout: 0.5 }));
  });
});

describe('JournalConnection constructor', () => {
  for (const [what, url] of BAD_URLS) {
    it(`throws a TypeError naming url for a URL that is ${what}`, () => {
      throwsNaming(() => new JournalConnection(url as string), TypeError, /url/);
    });
  }

  it('throws a TypeError naming an unknown option key', () => {
    throwsNaming(() => new JournalConnection(URL_OK, { tokn: 'x' } as object), TypeError, /tokn/);
  });

  it("throws a TypeError naming options.token for token: ''", () => {
    throwsNaming(() => new JournalConnection(URL_OK, { token: '' }), TypeError, /options\.token/);
  });

  it('throws a TypeError naming options.WebSocket when it is not a constructor', () => {
    throwsNaming(() => new JournalConnection(URL_OK, { WebSocket: 'ws' as never }), TypeError, /options\.WebSocket/);
  });

  it('accepts valid options', () => {
    assert.doesNotThrow(() => new JournalConnection(URL_OK, { token: 't' }));
  });
});

describe('JournalServer constructor', () => {
  const store = new MemoryStore();

  it('throws a RangeError naming options.port for port: -1 and 65536', () => {
    throwsNaming(() => new JournalServer({ port: -1, store }), RangeError, /options\.port/);
    throwsNaming(() => new JournalServer({ port: 65536, store }), RangeError, /options\.port/);
  });

  it("throws naming options.port for port: 'x' and 1.5", () => {
    throwsNaming(() => new JournalServer({ port: 'x' as unknown as number, store }), 'either', /options\.port/);
    throwsNaming(() => new JournalServer({ port: 1.5, store }), RangeError, /options\.port/);
  });

  it('throws a RangeError naming options.pageSize for pageSize: 0', () => {
    throwsNaming(() => new JournalServer({ pageSize: 0, store }), RangeError, /options\.pageSize/);
  });

  it('throws naming the limit for other non-positive or non-numeric limits', () => {
    throwsNaming(() => new JournalServer({ maxEventsPerAppend: -3, store }), RangeError, /options\.maxEventsPerAppend/);
    throwsNaming(() => new JournalServer({ maxFrameSize: '1k' as unknown as number, store }), TypeError, /options\.maxFrameSize/);
  });

  it('throws naming the HTTP options and the logger when they are bad', () => {
    throwsNaming(() => new JournalServer({ maxQueryLimit: 0, store }), RangeError, /options\.maxQueryLimit/);
    throwsNaming(() => new JournalServer({ maxHttpRequests: 1.5, store }), RangeError, /options\.maxHttpRequests/);
    throwsNaming(() => new JournalServer({ queryTimeBudget: 0, store }), RangeError, /options\.queryTimeBudget/);
    throwsNaming(() => new JournalServer({ queryTimeBudget: Infinity, store }), RangeError, /options\.queryTimeBudget/);
    throwsNaming(() => new JournalServer({ logger: 'loud' as never, store }), TypeError, /options\.logger/);
  });

  it('throws naming the report options when they are bad', () => {
    throwsNaming(() => new JournalServer({ reportTimeBudget: 0, store }), RangeError, /options\.reportTimeBudget/);
    throwsNaming(() => new JournalServer({ reportTimeBudget: Number.NaN, store }), RangeError, /options\.reportTimeBudget/);
    throwsNaming(() => new JournalServer({ maxReportGroups: 0, store }), RangeError, /options\.maxReportGroups/);
    throwsNaming(() => new JournalServer({ maxReportGroups: '10' as never, store }), TypeError, /options\.maxReportGroups/);
    throwsNaming(() => new MemoryStore({ clock: 5 as never }), TypeError, /options\.clock/);
  });

  it('throws a TypeError naming an unknown option key', () => {
    throwsNaming(() => new JournalServer({ prot: 1, store } as object), TypeError, /prot/);
  });

  it('throws a TypeError naming options.store when it is not a store', () => {
    throwsNaming(() => new JournalServer({ store: {} as never }), TypeError, /options\.store/);
  });

  it('accepts valid options', () => {
    assert.doesNotThrow(() => new JournalServer({ port: 0, host: '127.0.0.1', store, pageSize: 10, maxEventsPerAppend: 3 }));
  });
});
