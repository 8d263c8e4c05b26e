/**
 * QUALITY.md, Reliability: "bad input" (SPEC 4.4).
 *
 * Raw sockets send malformed frames to a server running in a child process
 * (so a crash is seen as a crash): text that is not JSON, JSON that is not an
 * object, unknown `type`s, known types with one field of the wrong type or
 * missing, unknown fields, too many or too large events, big and negative
 * numbers, deep nesting, binary frames, frames over `maxFrameSize` (close
 * 1009), invalid UTF-8 (close 1007), floods of subscribes on one connection
 * (TOO_MANY_SUBSCRIPTIONS, DUPLICATE_ID) and floods of junk pipelined
 * without waiting. JSON that is not an object is BAD_FRAME (not a frame at
 * all); an object whose `type` is missing or unknown is UNKNOWN_TYPE. Every frame must be answered by exactly what its kind
 * calls for — an `error` frame with the right code, echoing the request id
 * when the request had a usable one, or a close with the right code — and
 * nothing else. Meanwhile a producer appends to a canary journal and a
 * canary EventLogConsumer on its own connection must receive every event
 * once, in order, without a reconnect; the server must still be up at the end.
 *
 * Frames come from fast-check arbitraries sampled with a printed seed;
 * WSJOURNAL_SEED=<seed> generates the same frames again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket, type RawData } from 'ws';
import { ErrorCode } from '../src/errors.js';
import { JournalConnection } from '../src/connection.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { JournalProducer, type AppendResult } from '../src/journal-producer.js';
import { JOURNAL_NAME } from '../src/protocol.js';
import { ServerChild } from './fixtures/journal-server-child.js';
import { testSeed } from './fixtures/random.js';
import { within } from './helpers.js';
import { stressCount } from './stress-level.js';

const FRAMES = stressCount(10_000, 100_000);
const LANES = 4;
/** Frames sampled at a time per lane (each chunk has its own derived seed). */
const CHUNK = 500;
/** Error-only frames sent back to back before reading their answers. */
const PIPELINE = 32;
const REPLY_MS = 10_000;
const LIMITS = {
  maxFrameSize: 64 * 1024,
  maxEventsPerAppend: 50,
  maxEventSize: 4096,
  maxSubscriptionsPerConnection: 8,
} as const;
const CANARY = 'canary';
/** Valid appends made by the fuzzer go here, away from the canary. */
const JUNK = 'fuzz-junk';

// ---------------------------------------------------------------------------
// What a frame must get back.

type Expect =
  /** An error frame with one of `codes`, with `id` (or no id when undefined); answered at once. */
  | { kind: 'error'; codes: readonly string[]; id: number | undefined }
  /** The server closes the connection with `code`. */
  | { kind: 'close'; code: number }
  /** A valid append: an ack, or an error with one of `codes`; answered once the store replies. */
  | { kind: 'ack-or-error'; codes: readonly string[]; id: number };

interface FrameCase {
  readonly label: string;
  /** A string is sent as a text frame; a Buffer as text (`binary` false) or binary. */
  readonly data: string | Buffer;
  readonly binary?: boolean;
  readonly expect: Expect;
}

/** A flood of subscribes on a fresh connection, some ids repeated, more than the server allows. */
interface FloodCase {
  readonly label: 'flood-subscribe';
  readonly ids: readonly number[];
}

type Case = FrameCase | FloodCase;

// ---------------------------------------------------------------------------
// Generators.

const KNOWN_TYPES = new Set(['subscribe', 'cancel', 'append']);
const ALLOWED_KEYS: Record<string, readonly string[]> = {
  subscribe: ['type', 'id', 'journal', 'full', 'since', 'payload'],
  cancel: ['type', 'id'],
  append: ['type', 'id', 'journal', 'events', 'key'],
};
/** Stands for a JSON number token JSON.stringify cannot write (1e999 parses to Infinity). */
const RAW = '\u0000raw:';

function usableId(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Serialises `value`, turning `${RAW}token` strings into raw JSON tokens. */
function encode(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:([^"]*)"/g, (_, token: string) => token);
}

const idArb = fc.integer({ min: 0, max: 2 ** 31 });
const journalArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/);
const nameArb = fc.string({ minLength: 1, maxLength: 12 });
const contextArb = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
const eventArb = fc.record({ name: nameArb, context: contextArb }, { requiredKeys: ['name'] });

const subscribeArb = fc.record(
  {
    type: fc.constant('subscribe'),
    id: idArb,
    journal: journalArb,
    full: fc.boolean(),
    since: fc.double({ min: 0, max: 2e9, noNaN: true, noDefaultInfinity: true }),
    payload: fc.oneof(fc.constant({}), fc.record({ names: fc.array(nameArb, { minLength: 1, maxLength: 3 }) })),
  },
  { requiredKeys: ['type', 'id', 'journal'] },
);
const cancelArb = fc.record({ type: fc.constant('cancel'), id: idArb });
const appendArb = fc.record(
  {
    type: fc.constant('append'),
    id: idArb,
    journal: journalArb,
    events: fc.array(eventArb, { minLength: 1, maxLength: 3 }),
    key: fc.string({ minLength: 1, maxLength: 20 }),
  },
  { requiredKeys: ['type', 'id', 'journal', 'events'] },
);
const validFrameArb = fc.oneof(subscribeArb, cancelArb, appendArb) as fc.Arbitrary<Record<string, unknown>>;

const notIntegerArb = fc.double({ noNaN: true }).filter((x) => !Number.isInteger(x));
const wrongIdArb = fc.oneof(
  fc.integer({ max: -1 }),
  notIntegerArb,
  fc.string({ maxLength: 5 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.nat(), { maxLength: 2 }),
  fc.constant({}),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, 1e308, -1e308, -(2 ** 53)),
  fc.constantFrom(`${RAW}1e999`, `${RAW}-1e999`, `${RAW}123456789012345678901234567890`),
);
const wrongJournalArb = fc.oneof(
  fc.string({ maxLength: 20 }).filter((s) => !JOURNAL_NAME.test(s)),
  fc.constantFrom('', '-leading-dash', '.dot', 'has space', 'slash/in', 'x'.repeat(129), 'ü', 'a\u0000b'),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(journalArb, { maxLength: 2 }),
  fc.record({ name: journalArb }),
);
const notBooleanArb = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }), fc.constant({}));
const wrongSinceArb = fc.oneof(
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 5 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
  fc.constantFrom(`${RAW}1e999`, `${RAW}-1e999`, `${RAW}-0.000001`),
);
const notObjectArb = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }));
const wrongPayloadArb = fc.oneof(
  notObjectArb,
  fc.constant({ names: [] }),
  fc.record({ names: fc.array(fc.oneof(fc.integer(), fc.constant(''), fc.constant(null), fc.constant({})), { minLength: 1, maxLength: 3 }) }),
  fc.record({ names: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant({})) }),
);
const badEventArb = fc.oneof(
  notObjectArb,
  fc.constant({}),
  fc.record({ name: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(nameArb, { maxLength: 1 })) }),
  fc.record({ name: nameArb, context: notObjectArb }),
  fc
    .tuple(nameArb, fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== 'name' && k !== 'context'), fc.jsonValue({ maxDepth: 1 }))
    .map(([name, key, value]) => ({ name, [key]: value })),
);
const wrongEventsArb = fc.oneof(
  notObjectArb.filter((v) => !Array.isArray(v)),
  fc.constant({}),
  fc.constant([]),
  fc.tuple(fc.array(eventArb, { maxLength: 2 }), badEventArb, fc.array(eventArb, { maxLength: 2 })).map(([a, bad, b]) => [...a, bad, ...b]),
);
const wrongKeyArb = fc.oneof(
  fc.constant(''),
  fc.integer({ min: 129, max: 300 }).map((n) => 'k'.repeat(n)),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
);

/** Which fields of which frame type may be made wrong, and the code that must come back. */
const CORRUPTIONS: Record<string, [field: string, arb: fc.Arbitrary<unknown>, code: string][]> = {
  subscribe: [
    ['id', wrongIdArb, ErrorCode.BAD_FRAME],
    ['journal', wrongJournalArb, ErrorCode.INVALID_JOURNAL],
    ['full', notBooleanArb, ErrorCode.BAD_FRAME],
    ['since', wrongSinceArb, ErrorCode.BAD_FRAME],
    ['payload', wrongPayloadArb, ErrorCode.INVALID_PAYLOAD],
  ],
  cancel: [['id', wrongIdArb, ErrorCode.BAD_FRAME]],
  append: [
    ['id', wrongIdArb, ErrorCode.BAD_FRAME],
    ['journal', wrongJournalArb, ErrorCode.INVALID_JOURNAL],
    ['events', wrongEventsArb, ErrorCode.INVALID_EVENT],
    ['key', wrongKeyArb, ErrorCode.BAD_FRAME],
  ],
};
const REQUIRED: Record<string, [field: string, code: string][]> = {
  subscribe: [
    ['id', ErrorCode.BAD_FRAME],
    ['journal', ErrorCode.INVALID_JOURNAL],
  ],
  cancel: [['id', ErrorCode.BAD_FRAME]],
  append: [
    ['id', ErrorCode.BAD_FRAME],
    ['journal', ErrorCode.INVALID_JOURNAL],
    ['events', ErrorCode.INVALID_EVENT],
  ],
};

function errorCase(label: string, data: string, codes: readonly string[], id: number | undefined): FrameCase {
  return { label, data, expect: { kind: 'error', codes, id } };
}

/** A known frame type with exactly one field of a wrong type. */
const wrongTypeArb: fc.Arbitrary<Case> = validFrameArb.chain((frame) => {
  const type = frame['type'] as string;
  return fc.constantFrom(...CORRUPTIONS[type]!).chain(([field, arb, code]) =>
    arb.map((value) => {
      const bad = { ...frame, [field]: value };
      const id = field === 'id' ? undefined : (frame['id'] as number);
      return errorCase(`wrong-type ${type}.${field}`, encode(bad), [code], id);
    }),
  );
});

/** A known frame type with a required field missing. */
const missingFieldArb: fc.Arbitrary<Case> = validFrameArb.chain((frame) => {
  const type = frame['type'] as string;
  return fc.constantFrom(...REQUIRED[type]!).map(([field, code]) => {
    const bad = { ...frame };
    delete bad[field];
    return errorCase(`missing ${type}.${field}`, encode(bad), [code], field === 'id' ? undefined : (frame['id'] as number));
  });
});

/** A valid frame plus one field its schema does not have (strict objects refuse it). */
const unknownFieldArb: fc.Arbitrary<Case> = fc
  .tuple(validFrameArb, fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'Type', 'ID')), fc.jsonValue({ maxDepth: 2 }))
  .filter(([frame, key]) => !ALLOWED_KEYS[frame['type'] as string]!.includes(key))
  .map(([frame, key, value]) => {
    const text = `${encode(frame).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
    return errorCase(`unknown-field ${frame['type'] as string}`, text, [ErrorCode.BAD_FRAME], frame['id'] as number);
  });

/** An event with a field events do not have. */
const unknownEventFieldArb: fc.Arbitrary<Case> = fc
  .tuple(appendArb, fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== 'name' && k !== 'context'), fc.jsonValue({ maxDepth: 1 }))
  .map(([frame, key, value]) => {
    const events = frame.events.map((event, i) => (i === 0 ? { ...event, [key]: value } : event));
    return errorCase('unknown-field event', encode({ ...frame, events }), [ErrorCode.INVALID_EVENT], frame.id);
  });

/** Objects whose `type` is not one a client may send, and JSON that is not an object at all. */
const unknownTypeArb: fc.Arbitrary<Case> = fc.oneof(
  fc
    .record(
      {
        type: fc.oneof(
          fc.string({ maxLength: 10 }).filter((s) => !KNOWN_TYPES.has(s)),
          fc.constantFrom('Subscribe', 'APPEND', 'subscribe ', ' cancel', 'ack', 'response', 'subscribed', 'end', 'error', 'ping'),
          fc.integer(),
          fc.constant(null),
          fc.boolean(),
          fc.array(fc.constantFrom('subscribe', 'append'), { maxLength: 2 }),
          fc.constant({ type: 'subscribe' }),
        ),
        id: fc.oneof(idArb, wrongIdArb),
        journal: journalArb,
        extra: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((frame) => {
      const text = encode(frame);
      return errorCase('unknown-type', text, [ErrorCode.UNKNOWN_TYPE], usableId(JSON.parse(text).id));
    }),
  fc
    .dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
    .filter((v) => !KNOWN_TYPES.has(v['type'] as string))
    .map((value) => {
      const text = JSON.stringify(value);
      return errorCase('object-without-known-type', text, [ErrorCode.UNKNOWN_TYPE], usableId((JSON.parse(text) as { id?: unknown }).id));
    }),
);

/** JSON that is not an object: not a frame at all. */
const notObjectJsonArb: fc.Arbitrary<Case> = fc
  .jsonValue({ maxDepth: 3 })
  .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
  .map((value) => errorCase('json-not-an-object', JSON.stringify(value), [ErrorCode.BAD_FRAME], undefined));

/** Text that JSON.parse refuses. */
const notJsonArb: fc.Arbitrary<Case> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 40 }),
    validFrameArb.chain((frame) => {
      const text = encode(frame);
      return fc.integer({ min: 0, max: text.length - 1 }).map((cut) => text.slice(0, cut));
    }),
    fc.constantFrom('', '{', '}', '{"type":"subscribe",}', "{'type':'cancel','id':1}", 'NaN', 'undefined', '{"id":1', '[1,]', '\u00ff', '{"a":1}}', 'true false'),
  )
  // What the socket carries: lone surrogates become U+FFFD in UTF-8.
  .map((text) => Buffer.from(text, 'utf8').toString('utf8'))
  .filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  })
  .map((text) => errorCase('not-json', text, [ErrorCode.BAD_FRAME], undefined));

/** Limits the server enforces on valid frames. */
const limitsArb: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(idArb, fc.integer({ min: LIMITS.maxEventsPerAppend + 1, max: LIMITS.maxEventsPerAppend + 20 })).map(([id, count]) =>
    errorCase(
      'too-many-events',
      encode({ type: 'append', id, journal: JUNK, events: Array.from({ length: count }, (_, i) => ({ name: 'e', context: { i } })) }),
      [ErrorCode.TOO_MANY_EVENTS],
      id,
    ),
  ),
  fc.tuple(idArb, fc.integer({ min: LIMITS.maxEventSize + 1, max: LIMITS.maxEventSize * 4 })).map(([id, size]) =>
    errorCase(
      'event-too-large',
      encode({ type: 'append', id, journal: JUNK, events: [{ name: 'e' }, { name: 'big', context: { pad: 'x'.repeat(size) } }] }),
      [ErrorCode.EVENT_TOO_LARGE],
      id,
    ),
  ),
);

/** Deep nesting where it is not allowed, and where it is (an event context). */
const deepArb: fc.Arbitrary<Case> = fc.oneof(
  fc.integer({ min: 1, max: 30_000 }).map((depth) => errorCase('deep-array', '['.repeat(depth) + ']'.repeat(depth), [ErrorCode.BAD_FRAME], undefined)),
  fc.tuple(idArb, fc.integer({ min: 1, max: 30_000 })).map(([id, depth]) =>
    errorCase('deep-type', `{"id":${id},"type":${'['.repeat(depth)}${']'.repeat(depth)}}`, [ErrorCode.UNKNOWN_TYPE], id),
  ),
  fc.tuple(idArb, fc.integer({ min: 1, max: 10_000 })).map(([id, depth]) =>
    errorCase(
      'deep-journal',
      `{"type":"subscribe","id":${id},"journal":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      [ErrorCode.INVALID_JOURNAL],
      id,
    ),
  ),
  fc.tuple(idArb, fc.integer({ min: 1, max: 10_000 })).map(
    ([id, depth]): FrameCase => ({
      label: 'deep-context',
      data: `{"type":"append","id":${id},"journal":"${JUNK}","events":[{"name":"deep","context":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]}`,
      expect: { kind: 'ack-or-error', codes: [ErrorCode.INVALID_EVENT, ErrorCode.EVENT_TOO_LARGE], id },
    }),
  ),
);

/**
 * Appends carrying extreme numbers: stored and acknowledged, unless one is a number JSON cannot
 * hold (1e999 parses to Infinity), which is refused with INVALID_EVENT.
 */
const bigNumberContextArb: fc.Arbitrary<Case> = fc
  .tuple(idArb, fc.subarray([`${RAW}1e999`, `${RAW}-1e999`, 1e308, -1e308, 2 ** 53 + 2, 5e-324, `${RAW}-0`, `${RAW}1e-400`], { minLength: 1 }))
  .map(
    ([id, numbers]): FrameCase => ({
      label: 'big-numbers-in-context',
      data: encode({ type: 'append', id, journal: JUNK, events: [{ name: 'numbers', context: Object.fromEntries(numbers.map((n, i) => [`n${i}`, n])) }] }),
      expect: numbers.some((n) => n === `${RAW}1e999` || n === `${RAW}-1e999`)
        ? { kind: 'error', codes: [ErrorCode.INVALID_EVENT], id }
        : { kind: 'ack-or-error', codes: [], id },
    }),
  );

const binaryArb: fc.Arbitrary<Case> = fc
  .oneof(
    fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
    validFrameArb.map((frame) => Buffer.from(encode(frame))),
  )
  .map((data): FrameCase => ({ label: 'binary', data, binary: true, expect: { kind: 'error', codes: [ErrorCode.BAD_FRAME], id: undefined } }));

const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0x80], [0xc1, 0xbf], [0x80], [0xbf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]];
const invalidUtf8Arb: fc.Arbitrary<Case> = fc
  .tuple(fc.string({ maxLength: 30 }), fc.constantFrom(...INVALID_UTF8), fc.string({ maxLength: 30 }))
  .map(
    ([before, bad, after]): FrameCase => ({
      label: 'invalid-utf8',
      data: Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]),
      binary: false,
      expect: { kind: 'close', code: 1007 },
    }),
  );

/** Frames over maxFrameSize (close 1009), and one of exactly maxFrameSize (answered as usual). */
const hugeArb: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.boolean()).map(([over, binary]): FrameCase => {
    const head = `{"type":"append","id":1,"journal":"${JUNK}","events":[{"name":"x","context":{"pad":"`;
    const tail = '"}}]}';
    const data = head + 'x'.repeat(LIMITS.maxFrameSize + over - head.length - tail.length) + tail;
    return { label: 'huge', data: binary ? Buffer.from(data) : data, binary, expect: { kind: 'close', code: 1009 } };
  }),
  idArb.map((id) => {
    const head = `{"type":"huge-but-allowed","id":${id},"pad":"`;
    const tail = '"}';
    return errorCase('exactly-max-frame-size', head + 'x'.repeat(LIMITS.maxFrameSize - head.length - tail.length) + tail, [ErrorCode.UNKNOWN_TYPE], id);
  }),
);

const floodArb: fc.Arbitrary<Case> = fc
  .integer({ min: LIMITS.maxSubscriptionsPerConnection + 1, max: LIMITS.maxSubscriptionsPerConnection + 24 })
  .chain((count) => fc.array(fc.integer({ min: 0, max: LIMITS.maxSubscriptionsPerConnection + 6 }), { minLength: count, maxLength: count }))
  .map((ids): FloodCase => ({ label: 'flood-subscribe', ids }));

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 12, arbitrary: wrongTypeArb },
  { weight: 4, arbitrary: missingFieldArb },
  { weight: 5, arbitrary: unknownFieldArb },
  { weight: 2, arbitrary: unknownEventFieldArb },
  { weight: 5, arbitrary: unknownTypeArb },
  { weight: 2, arbitrary: notObjectJsonArb },
  { weight: 6, arbitrary: notJsonArb },
  { weight: 2, arbitrary: limitsArb },
  { weight: 2, arbitrary: deepArb },
  { weight: 1, arbitrary: bigNumberContextArb },
  { weight: 3, arbitrary: binaryArb },
  { weight: 1, arbitrary: invalidUtf8Arb },
  { weight: 1, arbitrary: hugeArb },
  { weight: 1, arbitrary: floodArb },
);

// ---------------------------------------------------------------------------
// A raw socket that hands over the server's frames in order, or its close.

type Reply = { frame: Record<string, unknown> } | { closed: number };

class Lane {
  readonly ws: WebSocket;
  readonly #replies: Reply[] = [];
  #wake: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = data.toString();
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(text) as Record<string, unknown>;
      } catch {
        frame = { type: 'UNPARSEABLE', text, isBinary };
      }
      this.#replies.push({ frame });
      this.#wake?.();
    });
    ws.on('close', (code: number) => {
      this.#replies.push({ closed: code });
      this.#wake?.();
    });
    ws.on('error', () => {});
  }

  static async open(url: string): Promise<Lane> {
    const ws = new WebSocket(url);
    const lane = new Lane(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      REPLY_MS,
      'a raw socket to open',
    );
    // The server's first frame is its hello.
    const hello = await lane.next('the hello');
    if (!('frame' in hello) || hello.frame['type'] !== 'hello') throw new Error(`the first frame is not the hello: ${JSON.stringify(hello)}`);
    return lane;
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  async next(what: string): Promise<Reply> {
    const deadline = setTimeout(() => this.#wake?.(), REPLY_MS);
    try {
      const started = performance.now();
      for (;;) {
        const reply = this.#replies.shift();
        if (reply !== undefined) return reply;
        if (performance.now() - started >= REPLY_MS) throw new Error(`no reply within ${REPLY_MS} ms to ${what}`);
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.ws.terminate();
  }
}

// ---------------------------------------------------------------------------
// Checking answers.

class Tally {
  readonly outcomes = new Map<string, number>();
  cases = 0;
  frames = 0;

  count(outcome: string, frames = 1): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    this.cases++;
    this.frames += frames;
  }

  toString(): string {
    return [...this.outcomes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, n]) => `${outcome} ${n}`)
      .join(', ');
  }
}

function describeCase(c: FrameCase): string {
  const text = typeof c.data === 'string' ? c.data : `<${c.binary ? 'binary' : 'text'} ${c.data.length} bytes: ${c.data.subarray(0, 60).toString('hex')}>`;
  return `${c.label} frame ${text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : JSON.stringify(text)}`;
}

function checkError(reply: Reply, c: FrameCase, codes: readonly string[], id: number | undefined, where: string): string {
  assert.ok('frame' in reply, `${where}: the connection closed (${'closed' in reply ? reply.closed : ''}) instead of answering ${describeCase(c)}`);
  const { frame } = reply;
  assert.equal(frame['type'], 'error', `${where}: expected an error frame for ${describeCase(c)}, got ${JSON.stringify(frame).slice(0, 300)}`);
  assert.ok(codes.includes(frame['code'] as string), `${where}: expected code ${codes.join('|')} for ${describeCase(c)}, got ${JSON.stringify(frame).slice(0, 300)}`);
  assert.equal(typeof frame['message'], 'string', `${where}: the error has a message`);
  assert.equal(frame['id'], id, `${where}: the error ${id === undefined ? 'carries no id' : `echoes id ${id}`} for ${describeCase(c)}, got ${JSON.stringify(frame).slice(0, 300)}`);
  return frame['code'] as string;
}

/** Runs one lane: `count` cases from its own seeds, pipelining the error-only ones. */
async function runLane(url: string, seed: number, lane: number, count: number, tally: Tally): Promise<void> {
  let socket = await Lane.open(url);
  let pipeline: FrameCase[] = [];
  let chunkNo = 0;
  const where = (): string => `lane ${lane} chunk ${chunkNo} (seed ${seed})`;

  const flush = async (): Promise<void> => {
    const batch = pipeline;
    pipeline = [];
    for (const c of batch) socket.send(c.data, c.binary ?? false);
    for (const c of batch) {
      const expect = c.expect as Extract<Expect, { kind: 'error' }>;
      const code = checkError(await socket.next(describeCase(c)), c, expect.codes, expect.id, where());
      tally.count(`${code}`);
    }
  };

  const reopen = async (): Promise<void> => {
    socket.close();
    socket = await Lane.open(url);
  };

  for (let done = 0; done < count; chunkNo++) {
    const cases = fc.sample(caseArb, { seed: seed + lane * 1_000_003 + chunkNo * 7919, numRuns: Math.min(CHUNK, count - done) });
    for (const c of cases) {
      done++;
      if ('ids' in c) {
        await flush();
        await runFlood(url, c, where());
        tally.count('subscribe floods', c.ids.length);
        continue;
      }
      if (c.expect.kind === 'error') {
        pipeline.push(c);
        if (pipeline.length >= PIPELINE) await flush();
        continue;
      }
      await flush();
      socket.send(c.data, c.binary ?? false);
      const reply = await socket.next(describeCase(c));
      if (c.expect.kind === 'close') {
        assert.ok('closed' in reply, `${where()}: expected close ${c.expect.code} for ${describeCase(c)}, got ${JSON.stringify(reply).slice(0, 300)}`);
        assert.equal(reply.closed, c.expect.code, `${where()}: close code for ${describeCase(c)}`);
        tally.count(`close ${reply.closed}`);
        await reopen();
      } else {
        assert.ok('frame' in reply, `${where()}: the connection closed (${JSON.stringify(reply)}) instead of answering ${describeCase(c)}`);
        if (reply.frame['type'] === 'ack') {
          assert.equal(reply.frame['id'], c.expect.id);
          tally.count('ack');
        } else {
          tally.count(checkError(reply, c, c.expect.codes, c.expect.id, where()));
        }
      }
    }
  }
  await flush();
  // Nothing is left over: a last bad frame gets exactly its own answer.
  const last = errorCase('last', '{', [ErrorCode.BAD_FRAME], undefined);
  pipeline.push(last);
  await flush();
  tally.cases--;
  tally.frames--;
  tally.outcomes.set(ErrorCode.BAD_FRAME, tally.outcomes.get(ErrorCode.BAD_FRAME)! - 1);
  socket.close();
}

/** A flood of subscribes on a fresh connection: the first `max` distinct ids open, repeats of an open id DUPLICATE_ID, the rest TOO_MANY_SUBSCRIPTIONS. */
async function runFlood(url: string, c: FloodCase, where: string): Promise<void> {
  const socket = await Lane.open(url);
  try {
    const open = new Set<number>();
    const expectedErrors: { id: number; code: string }[] = [];
    for (const id of c.ids) {
      if (open.has(id)) expectedErrors.push({ id, code: ErrorCode.DUPLICATE_ID });
      else if (open.size >= LIMITS.maxSubscriptionsPerConnection) expectedErrors.push({ id, code: ErrorCode.TOO_MANY_SUBSCRIPTIONS });
      else open.add(id);
    }
    for (const id of c.ids) socket.send(JSON.stringify({ type: 'subscribe', id, journal: 'flood', full: true, since: 0 }));
    const errors: { id: number; code: string }[] = [];
    const subscribed = new Set<number>();
    const sentinels = new Set<number>();
    const what = `the flood ${JSON.stringify(c.ids)}`;
    while (errors.length < expectedErrors.length || subscribed.size < open.size || sentinels.size < open.size) {
      const reply = await socket.next(what);
      assert.ok('frame' in reply, `${where}: the connection closed (${JSON.stringify(reply)}) during ${what}`);
      const { frame } = reply;
      const id = frame['id'] as number;
      if (frame['type'] === 'error') errors.push({ id, code: frame['code'] as string });
      else if (frame['type'] === 'subscribed') {
        assert.ok(open.has(id) && !subscribed.has(id), `${where}: 'subscribed' for id ${id} in ${what}`);
        subscribed.add(id);
      } else if (frame['type'] === 'response') {
        assert.deepEqual(frame['events'], [], `${where}: the flood journal is empty`);
        assert.ok(subscribed.has(id) && !sentinels.has(id), `${where}: one sentinel for id ${id} after 'subscribed' in ${what}`);
        sentinels.add(id);
      } else assert.fail(`${where}: unexpected ${JSON.stringify(frame)} in ${what}`);
    }
    assert.deepEqual(errors, expectedErrors, `${where}: the errors of ${what}, in order`);
    // Cancelling frees the slots: each open id ends, and the connection takes a new subscription.
    for (const id of open) socket.send(JSON.stringify({ type: 'cancel', id }));
    const ended = new Set<number>();
    while (ended.size < open.size) {
      const reply = await socket.next(`the ends of ${what}`);
      assert.ok('frame' in reply && reply.frame['type'] === 'end', `${where}: expected end frames, got ${JSON.stringify(reply)}`);
      ended.add(reply.frame['id'] as number);
    }
    assert.deepEqual([...ended].sort(), [...open].sort());
    socket.send(JSON.stringify({ type: 'subscribe', id: 999_999, journal: 'flood' }));
    const reply = await socket.next('a subscription after the cancels');
    assert.ok('frame' in reply && reply.frame['type'] === 'subscribed', `${where}: a slot is free again after cancelling, got ${JSON.stringify(reply)}`);
  } finally {
    socket.close();
  }
}

// ---------------------------------------------------------------------------

describe('bad input', () => {
  it(`${FRAMES} malformed frames on raw sockets: each answered with the right error or close, the server stays up, a canary loses nothing`, async (t) => {
    const seed = testSeed();
    console.log(`[fuzz] seed ${seed} (WSJOURNAL_SEED=${seed} to generate the same frames)`);
    const server = await ServerChild.start({ store: 'memory', server: { ...LIMITS } });
    const crashReport = async (): Promise<string> => {
      const exit = await within(server.exited, 2000, 'the server child to exit').catch(() => undefined);
      if (!exit) return '';
      const cause = /^\w*Error.*$/m.exec(server.stderr)?.[0] ?? server.stderr.slice(-300);
      return `\nTHE SERVER PROCESS DIED (exit ${exit.code ?? exit.signal}): ${cause}`;
    };
    const canary = new EventLogConsumer(server.url, CANARY, { includeSentinel: true });
    // An explicit connection, so that the teardown can end it even if producer.close() hangs.
    const producerConnection = new JournalConnection(server.url);
    const producer = new JournalProducer(producerConnection, CANARY);
    t.after(async () => {
      canary.stop();
      // Bounded: with the server gone, close() must not keep the test alive.
      await within(producer.close(), 5000, 'the producer to close').catch((error: Error) => console.log(`[fuzz] teardown: ${error.message}`));
      await producerConnection.close();
      await server.close();
    });
    const started = performance.now();

    const delivered: JournalEvent[] = [];
    let sentinels = 0;
    let reconnects = 0;
    const errors: Error[] = [];
    let wanted: { seq: number; resolve: () => void } | undefined;
    canary.on('reconnect', () => reconnects++);
    canary.on('error', (error) => errors.push(error));
    canary.setCallback((event) => {
      if (event === EventLogConsumer.SENTINEL_EVENT) sentinels++;
      else if (event !== null) {
        delivered.push(event);
        if (wanted && event.seq! >= wanted.seq) wanted.resolve();
      }
    });
    const subscribed = new Promise<void>((resolve) => canary.once('subscribed', () => resolve()));
    canary.start();
    await within(subscribed, REPLY_MS, 'the canary to subscribe');

    // The producer appends to the canary journal all along.
    const acked: AppendResult[] = [];
    let appending = true;
    const appender = (async () => {
      for (let n = 1; appending; n++) acked.push(await producer.append('canary', { n }));
    })();
    // If the fuzzing fails, the appender's last append may be refused as the test tears down.
    appender.catch(() => {});

    const tally = new Tally();
    const perLane = Math.ceil(FRAMES / LANES);
    try {
      await Promise.all(Array.from({ length: LANES }, (_, lane) => runLane(server.url, seed, lane, perLane, tally)));
    } catch (error) {
      (error as Error).message += await crashReport();
      throw error;
    } finally {
      appending = false;
    }
    await within(appender, REPLY_MS, 'the canary appends to finish');
    assert.ok(server.alive, 'the server is still up');
    const last = await within(producer.append('canary', { n: 'last' }), REPLY_MS, 'the last canary append');
    acked.push(last);
    if ((delivered.at(-1)?.seq ?? 0) < last.seq) {
      await within(new Promise<void>((resolve) => (wanted = { seq: last.seq, resolve })), REPLY_MS, `the canary to receive seq ${last.seq}`);
    }
    assert.deepEqual(
      delivered.map((event) => [event.seq, event.timestamp]),
      acked.map((result) => [result.seq, result.timestamp]),
      'the canary received every appended event once, in order',
    );
    assert.equal(sentinels, 1);
    assert.equal(reconnects, 0, 'the canary never lost its connection');
    assert.deepEqual(errors, []);
    // Still serving: a fresh connection gets the right answer.
    const probe = await Lane.open(server.url);
    probe.send('{"type":"cancel","id":7}');
    const reply = await probe.next('a cancel after the fuzzing');
    probe.close();
    assert.deepEqual('frame' in reply && reply.frame, { type: 'end', id: 7 });
    const memory = await server.memory();
    const line =
      `[fuzz] ${tally.cases} cases, ${tally.frames} frames in ${((performance.now() - started) / 1000).toFixed(1)} s over ${LANES} lanes: ${tally}; ` +
      `canary ${delivered.length} events, 0 lost; server up, rss ${(memory.rss / 2 ** 20).toFixed(0)} MB`;
    console.log(line);
  });

  for (const [what, frame, expected] of [
    [
      'an append whose event context',
      (id: number, depth: number) =>
        `{"type":"append","id":${id},"journal":"${JUNK}","events":[{"name":"deep","context":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]}`,
      ['ack', ErrorCode.INVALID_EVENT, ErrorCode.EVENT_TOO_LARGE],
    ],
    ['a frame whose `type`', (id: number, depth: number) => `{"id":${id},"type":${'['.repeat(depth)}${']'.repeat(depth)}}`, [ErrorCode.UNKNOWN_TYPE]],
  ] as const) {
    it(`${what} nests deeper than JSON.stringify can go (5,000–10,000 levels, < maxFrameSize) is answered, and the server stays up`, async (t) => {
      const server = await ServerChild.start({ store: 'memory', server: { ...LIMITS } });
      t.after(() => server.close());
      for (const depth of [100, 1000, 5000, 10_000]) {
        const socket = await Lane.open(server.url);
        const text = frame(depth, depth);
        assert.ok(text.length < LIMITS.maxFrameSize);
        socket.send(text);
        const reply = await socket.next(`the frame nested ${depth} deep`);
        socket.close();
        if (!('frame' in reply)) {
          const exit = await within(server.exited, 2000, 'the server child to exit').catch(() => undefined);
          const cause = /^\w*Error.*$/m.exec(server.stderr)?.[0] ?? server.stderr.slice(-300);
          assert.fail(
            `depth ${depth}: the connection closed (${JSON.stringify(reply)}) instead of an answer; ` +
              (exit ? `the server process died (exit ${exit.code ?? exit.signal}): ${cause}` : 'the server is still up'),
          );
        }
        const outcome = reply.frame['type'] === 'ack' ? 'ack' : (reply.frame['code'] as string);
        assert.ok((expected as readonly string[]).includes(outcome), `depth ${depth}: ${JSON.stringify(reply.frame).slice(0, 300)}`);
        assert.equal(reply.frame['id'], depth);
      }
      assert.ok(server.alive);
    });
  }
});
