/**
 * JournalLogger without a spool: levels and their numbers, bound context,
 * exception fields, fields JSON cannot hold, calls that never throw whatever
 * the server does, and the maxBuffered bound with its warning.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { JournalConnection } from '../src/connection.js';
import { ErrorCode, type JournalError } from '../src/errors.js';
import { JournalLogger, LOG_LEVELS } from '../src/index.js';
import { freePort, once, startServer, within } from './helpers.js';

const servers: JournalServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<JournalServer> {
  const started = await startServer(options);
  servers.push(started);
  return started;
}

/** The contexts of the events stored in `journal`, oldest first. */
async function contexts(journal: JournalServer, name: string): Promise<Record<string, unknown>[]> {
  const events = await journal.store.read(name, 0, 100_000);
  return events.map((event) => {
    const parsed = JSON.parse(event.json) as { name: string; context: Record<string, unknown> };
    assert.equal(parsed.name, 'log');
    return parsed.context;
  });
}

/** A connection that retries quickly, for tests that bring a server up late. */
function quickConnection(url: string): JournalConnection {
  return new JournalConnection(url, { reconnectDelay: 0.02, maxReconnectDelay: 0.1 });
}

describe('JournalLogger', () => {
  it('appends an event named log for each level, with its number', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'levels', { level: 'debug', source: 'test' });
    logger.debug('d');
    logger.info('i');
    logger.warning('w');
    logger.error('e');
    logger.critical('c');
    logger.alert('a');
    await within(logger.flush(), 5000, 'flush');
    await logger.close();
    assert.deepEqual(LOG_LEVELS, { debug: 10, info: 20, warning: 30, error: 40, critical: 50, alert: 60 });
    assert.deepEqual(await contexts(journal, 'levels'), [
      { level: 'debug', levelno: 10, message: 'd', source: 'test' },
      { level: 'info', levelno: 20, message: 'i', source: 'test' },
      { level: 'warning', levelno: 30, message: 'w', source: 'test' },
      { level: 'error', levelno: 40, message: 'e', source: 'test' },
      { level: 'critical', levelno: 50, message: 'c', source: 'test' },
      { level: 'alert', levelno: 60, message: 'a', source: 'test' },
    ]);
  });

  it('writes events the HTTP query filters by level', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'queried', { level: 'debug' });
    for (const level of ['debug', 'info', 'warning', 'error', 'critical', 'alert'] as const) logger[level](level);
    await logger.flush();
    await logger.close();
    const response = await fetch(`${journal.url.replace('ws:', 'http:')}/v1/journals/queried/events?level=error`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { events: { context: { message: string } }[] };
    assert.deepEqual(body.events.map((event) => event.context.message), ['error', 'critical', 'alert']);
  });

  it('logs nothing below its level: info by default, a name or a number when told', async () => {
    const journal = await server();
    const byDefault = new JournalLogger(journal.url, 'least');
    const warnings = new JournalLogger(journal.url, 'least', { level: 'warning' });
    const numbered = new JournalLogger(journal.url, 'least', { level: 45 });
    for (const logger of [byDefault, warnings, numbered]) {
      logger.debug('debug');
      logger.info('info');
      logger.warning('warning');
      logger.exception('error', new Error('x'));
      logger.critical('critical');
      await logger.flush();
    }
    await Promise.all([byDefault.close(), warnings.close(), numbered.close()]);
    assert.deepEqual(
      (await contexts(journal, 'least')).map((context) => context['message']),
      ['info', 'warning', 'error', 'critical', 'warning', 'error', 'critical', 'critical'],
    );
  });

  it('merges the bound context, lets a call\'s fields win, and unbinds keys', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'bound', { source: 'ot2', context: { lab: 'A' } });
    const step = logger.bind({ workflow_id: 'wf-1', node: 'n1' });
    step.info('aspirate', { volume: 50, node: 'n2' });
    step.unbind('node', 'lab').info('dispense', { volume: 40 });
    logger.info('plain');
    step.info('override source', { source: 'other' });
    step.info('reserved', { level: 'mine', message: 'theirs', levelno: 1 });
    await logger.flush();
    await logger.close();
    const stored = await contexts(journal, 'bound');
    assert.deepEqual(stored, [
      { level: 'info', levelno: 20, message: 'aspirate', source: 'ot2', lab: 'A', workflow_id: 'wf-1', node: 'n2', volume: 50 },
      { level: 'info', levelno: 20, message: 'dispense', source: 'ot2', workflow_id: 'wf-1', volume: 40 },
      { level: 'info', levelno: 20, message: 'plain', source: 'ot2', lab: 'A' },
      { level: 'info', levelno: 20, message: 'override source', source: 'other', lab: 'A', workflow_id: 'wf-1', node: 'n1' },
      {
        level: 'info',
        levelno: 20,
        message: 'reserved',
        source: 'ot2',
        lab: 'A',
        workflow_id: 'wf-1',
        node: 'n1',
        _level: 'mine',
        _message: 'theirs',
        _levelno: 1,
      },
    ]);
    // The order of keys is the contract's: level, levelno, message, source, bound, fields.
    assert.deepEqual(Object.keys(stored[0]!), ['level', 'levelno', 'message', 'source', 'lab', 'workflow_id', 'node', 'volume']);
  });

  it('logs an exception at error with its name, message, stack and cause chain', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'exceptions');
    const root = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    const error = new TypeError('cannot save the plate map', { cause: new Error('write failed', { cause: root }) });
    logger.exception('save failed', error, { plate: 7 });
    logger.exception('odd throw', 'a string');
    const looped = new Error('loop');
    (looped as { cause?: unknown }).cause = looped;
    logger.exception('looped', looped);
    await logger.flush();
    await logger.close();
    const [saved, odd, loop] = await contexts(journal, 'exceptions');
    assert.equal(saved!['level'], 'error');
    assert.equal(saved!['levelno'], 40);
    assert.equal(saved!['plate'], 7);
    const exception = saved!['exception'] as Record<string, any>;
    assert.equal(exception['name'], 'TypeError');
    assert.equal(exception['message'], 'cannot save the plate map');
    assert.match(exception['stack'], /^TypeError: cannot save the plate map\n\s+at /);
    assert.equal(exception['cause']['name'], 'Error');
    assert.equal(exception['cause']['message'], 'write failed');
    assert.match(exception['cause']['stack'], /write failed/);
    assert.equal(exception['cause']['cause']['message'], 'disk full');
    assert.equal(exception['cause']['cause']['code'], 'ENOSPC');
    assert.equal(exception['cause']['cause']['cause'], undefined);
    assert.deepEqual(odd!['exception'], { message: 'a string' });
    assert.equal((loop!['exception'] as Record<string, unknown>)['cause'], undefined);
  });

  it('replaces what JSON cannot hold instead of throwing', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'odd');
    const cycle: Record<string, unknown> = { name: 'plate' };
    cycle['self'] = cycle;
    const fields = {
      cycle,
      big: 12345678901234567890n,
      get broken(): never {
        throw new Error('getter failed');
      },
      custom: {
        toJSON(): never {
          throw new Error('toJSON failed');
        },
      },
      fn: () => 1,
      error: new RangeError('out of range'),
    };
    assert.doesNotThrow(() => logger.info('odd fields', fields));
    assert.doesNotThrow(() => logger.info({ toString: () => 'a message object' } as unknown as string));
    assert.doesNotThrow(() => logger.info('not an object', 42 as unknown as object));
    await logger.flush();
    await logger.close();
    const [odd, message, scalar] = await contexts(journal, 'odd');
    assert.deepEqual(odd!['cycle'], { name: 'plate', self: '[Circular]' });
    assert.equal(odd!['big'], '12345678901234567890');
    assert.match(String(odd!['broken']), /getter failed/);
    assert.match(String(odd!['custom']), /toJSON failed/);
    assert.equal('fn' in odd!, false);
    assert.deepEqual(Object.keys(odd!['error'] as object), ['name', 'message', 'stack']);
    assert.equal(message!['message'], 'a message object');
    assert.equal(scalar!['fields'], 42);
    assert.equal(logger.dropped, 0);
  });

  it('cuts an event larger than the server takes to fit, saying how large it was', async () => {
    const journal = await server();
    const logger = new JournalLogger(journal.url, 'large', { context: { node: 'n1' } });
    logger.info('x'.repeat(10_000), { blob: 'y'.repeat(100_000) });
    await logger.flush();
    await logger.close();
    const [cut] = await contexts(journal, 'large');
    assert.equal(cut!['node'], 'n1');
    assert.equal(cut!['blob'], undefined);
    assert.ok((cut!['truncated'] as number) > 100_000);
    assert.equal(cut!['message'], `${'x'.repeat(4096)}…`);
    assert.equal(logger.dropped, 0);
  });

  it('never throws nor waits against a closed port; close() counts what was not sent', async () => {
    const port = await freePort();
    const logger = new JournalLogger(`ws://127.0.0.1:${port}`, 'nowhere', { closeTimeout: 0.2 });
    for (let n = 0; n < 100; n++) assert.equal(logger.info('step', { n }), undefined);
    await within(logger.close(), 5000, 'close');
    assert.equal(logger.dropped, 100);
    assert.doesNotThrow(() => logger.warning('after close'));
    assert.equal(logger.dropped, 101);
  });

  it('never throws against a refused token: it reports UNAUTHORIZED and counts the events', async () => {
    const journal = await server({ tokens: ['right'] });
    const logger = new JournalLogger(journal.url, 'refused', { token: 'wrong', closeTimeout: 0.2 });
    const refused = once<[JournalError]>(logger, 'error');
    logger.info('one');
    const [error] = await refused;
    assert.equal(error.code, ErrorCode.UNAUTHORIZED);
    assert.doesNotThrow(() => logger.info('two'));
    await within(logger.flush(), 5000, 'flush after the refusal');
    await within(logger.close(), 5000, 'close');
    assert.equal(logger.dropped, 2);
    assert.equal((await journal.store.head('refused')).seq, 0);
  });

  it('never throws nor hangs against a server that never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const logger = new JournalLogger(`ws://127.0.0.1:${port}`, 'silent', { closeTimeout: 0.2 });
      for (let n = 0; n < 10; n++) logger.error('step', { n });
      await within(logger.close(), 5000, 'close');
      assert.equal(logger.dropped, 10);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('keeps at most maxBuffered events, drops the oldest, and says how many once the server is back', async () => {
    const port = await freePort();
    const connection = quickConnection(`ws://127.0.0.1:${port}`);
    const logger = new JournalLogger(connection, 'bounded', { maxBuffered: 10, source: 'ot2' });
    for (let n = 0; n < 25; n++) logger.info('step', { n });
    assert.equal(logger.dropped, 15);
    const journal = await server({ port, store: new MemoryStore() });
    await within(logger.flush(), 5000, 'the events kept');
    // The warning goes once the server has acknowledged again.
    await within(logger.flush(), 5000, 'the warning');
    await logger.close();
    await connection.close();
    const stored = await contexts(journal, 'bounded');
    assert.deepEqual(
      stored.slice(0, 10).map((context) => context['n']),
      Array.from({ length: 10 }, (_, i) => 15 + i),
    );
    assert.deepEqual(stored.slice(10), [
      { level: 'warning', levelno: 30, message: '15 log events were dropped', source: 'ot2', dropped: 15 },
    ]);
  });

  it('prints to standard error, pretty or as JSON', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let pretty: JournalLogger | undefined;
    let json: JournalLogger | undefined;
    try {
      pretty = new JournalLogger(`ws://127.0.0.1:${port}`, 'printed', { console: 'pretty', source: 'ot2', closeTimeout: 0.1 });
      json = new JournalLogger(`ws://127.0.0.1:${port}`, 'printed', { console: 'json', closeTimeout: 0.1 });
      pretty.bind({ node: 'n1' }).warning('low tips', { left: 3, note: 'two words' });
      json.info('started', { n: 1 });
      pretty.debug('below the level');
      pretty.exception('move failed', new Error('cannot move plate', { cause: new Error('gripper timeout') }), { plate: 7 });
    } finally {
      process.stderr.write = write;
    }
    await Promise.all([pretty?.close(), json?.close()]);
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, /^\S+ ERROR    \[ot2\] move failed plate=7\n    Error: cannot move plate\n        at [^]*\n    \[cause\]: Error: gripper timeout\n        at /);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING  \[ot2\] low tips node=n1 left=3 note="two words"\n$/);
    const printed = JSON.parse(lines[1]!) as Record<string, unknown>;
    assert.match(String(printed['time']), /^\d{4}-.*Z$/);
    assert.deepEqual({ ...printed, time: undefined }, { time: undefined, level: 'info', levelno: 20, message: 'started', n: 1 });
  });

  it('refuses bad options at construction, naming them', async () => {
    const url = 'ws://127.0.0.1:1';
    assert.throws(() => new JournalLogger(url, 'bad name!'), TypeError);
    assert.throws(() => new JournalLogger(url, 'j', { level: 'loud' as 'info' }), /options\.level/);
    assert.throws(() => new JournalLogger(url, 'j', { console: 'yes' as 'json' }), /options\.console/);
    assert.throws(() => new JournalLogger(url, 'j', { maxBuffered: 0 }), RangeError);
    assert.throws(() => new JournalLogger(url, 'j', { spoolMaxBytes: 1000, spool: '/tmp/x' }), /spoolMaxBytes/);
    assert.throws(() => new JournalLogger(url, 'j', { colour: true } as object), /options\.colour/);
    const logger = new JournalLogger(url, 'j', { closeTimeout: 0.1 });
    assert.throws(() => logger.bind([] as unknown as object), TypeError);
    await logger.close();
  });
});
