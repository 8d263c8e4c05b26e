/**
 * Access by scope (SPEC 9): tokens with `read`, `append` and `admin`, each optionally limited
 * to journal globs. Without a valid token the handshake and every HTTP route answer 401; an
 * operation outside the token's scopes answers `FORBIDDEN` (an error frame for that request
 * id, the connection open for its other work; 403 over HTTP). A plain token list keeps
 * meaning every scope. The client library: a consumer refused FORBIDDEN emits 'error' and
 * stops without retrying; a producer's append rejects with FORBIDDEN.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AccessTokens } from '../server/auth/access-tokens.js';
import { Principal } from '../server/auth/principal.js';
import { parseScope } from '../server/auth/scope.js';
import { JournalServer } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import { JournalConnection } from '../src/connection.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalClient } from '../src/journal-client.js';
import { JournalProducer } from '../src/journal-producer.js';
import { request, type HttpAnswer } from './http-client.js';
import { once, startServer, within } from './helpers.js';

const PROMPT_MS = 5000;

/** Token values; each names what it holds. */
const T = {
  reader: 'tok-read-jobs-star',
  appender: 'tok-append-jobs',
  both: 'tok-append-read-jobs',
  admin: 'tok-admin',
  labAdmin: 'tok-admin-lab-star',
  plain: 'tok-plain',
} as const;

const SCOPED = {
  [T.reader]: ['read:jobs.*'],
  [T.appender]: ['append:jobs'],
  [T.both]: ['append:jobs', 'read:jobs'],
  [T.admin]: ['admin'],
  [T.labAdmin]: ['admin:lab.*'],
};

const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:test:scoped',
  version: 1,
  type: 'object',
  properties: { n: { type: 'integer' } },
};

/** A raw WebSocket client: frames in order, and the next frame for a request id. */
class RawClient {
  readonly frames: Record<string, unknown>[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const wake of [...this.#waiters]) wake();
    });
  }

  /** Opens a connection with `token` (none when undefined); resolves with the client, or the refusal's HTTP status. */
  static open(url: string, token: string | undefined): Promise<RawClient | number> {
    const ws = new WebSocket(url, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });
    ws.on('error', () => {});
    return within(
      new Promise((resolve) => {
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          ws.terminate();
          resolve(res.statusCode ?? 0);
        });
        ws.once('open', () => resolve(new RawClient(ws)));
      }),
      PROMPT_MS,
      'the handshake',
    );
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame for request `id` (any type but `hello`), waiting for it. */
  reply(id: number): Promise<Record<string, unknown>> {
    const find = (): Record<string, unknown> | undefined => this.frames.find((frame) => frame['id'] === id);
    return within(
      new Promise((resolve) => {
        const check = (): void => {
          const found = find();
          if (found === undefined) return;
          this.#waiters.delete(check);
          resolve(found);
        };
        this.#waiters.add(check);
        check();
      }),
      PROMPT_MS,
      `a reply to request ${id}`,
    );
  }

  close(): void {
    this.ws.terminate();
  }
}

let nextId = 1;
const subscribe = (journal: string) => ({ type: 'subscribe', id: nextId++, journal, full: true, since: 0, payload: {} });
const append = (journal: string) => ({ type: 'append', id: nextId++, journal, events: [{ name: 'scoped', context: { n: 1 } }] });
const register = () => ({ type: 'register', id: nextId++, schema: SCHEMA });

/** Sends `frame` and resolves with the reply to its id. */
async function ask(client: RawClient, frame: { id: number } & Record<string, unknown>): Promise<Record<string, unknown>> {
  client.send(frame);
  return client.reply(frame.id);
}

function assertForbidden(reply: Record<string, unknown>, what: string): void {
  assert.equal(reply['type'], 'error', `${what}: ${JSON.stringify(reply)}`);
  assert.equal(reply['code'], ErrorCode.FORBIDDEN, `${what}: ${JSON.stringify(reply)}`);
}

function assertAllowed(reply: Record<string, unknown>, type: string, what: string): void {
  assert.equal(reply['type'], type, `${what}: ${JSON.stringify(reply)}`);
}

async function openClient(server: JournalServer, token: string | undefined): Promise<RawClient> {
  const client = await RawClient.open(server.url, token);
  assert.ok(client instanceof RawClient, `the handshake with a valid token opens (got HTTP ${String(client)})`);
  return client;
}

describe('scopes: the tokens option', () => {
  it('reads scopes: plain, limited to a glob, and "*" as every journal', () => {
    assert.deepEqual(parseScope('read'), { scope: 'read', glob: undefined, pattern: undefined });
    assert.deepEqual(parseScope('append:*'), { scope: 'append', glob: undefined, pattern: undefined });
    const grant = parseScope('admin:lab.*');
    assert.equal(grant.scope, 'admin');
    assert.equal(grant.glob, 'lab.*');
    const principal = new Principal([parseScope('read:jobs.*'), parseScope('append:jobs')]);
    assert.equal(principal.can('read', 'jobs.a'), true);
    assert.equal(principal.can('read', 'jobs.a.b'), true);
    assert.equal(principal.can('read', 'jobs'), false, 'jobs.* needs the dot');
    assert.equal(principal.can('read', 'jobsXa'), false, '"." is literal');
    assert.equal(principal.can('read'), false, 'a limited scope is not the scope on every journal');
    assert.equal(principal.can('append', 'jobs'), true);
    assert.equal(principal.can('append', 'jobs.a'), false, 'a name without "*" is that journal only');
    assert.equal(principal.can('admin'), false);
    assert.equal(principal.canSome('read'), true);
    assert.equal(principal.canSome('admin'), false);
    for (const scope of ['read', 'append', 'admin'] as const) {
      assert.equal(Principal.ALL.can(scope), true);
      assert.equal(Principal.ALL.can(scope, 'anything'), true);
    }
  });

  it('a plain list gives every scope; an object gives each token its own', () => {
    const plain = new AccessTokens(['a', 'b']);
    assert.equal(plain.resolve('a'), Principal.ALL);
    assert.equal(plain.resolve('nope'), undefined);
    assert.equal(plain.resolve(undefined), undefined);
    const scoped = new AccessTokens(SCOPED);
    assert.equal(scoped.size, 5);
    assert.equal(scoped.resolve(T.reader)!.can('read', 'jobs.a'), true);
    assert.equal(scoped.resolve(T.reader)!.can('append', 'jobs.a'), false);
    assert.equal(scoped.resolve(T.admin)!.can('admin'), true);
    assert.equal(scoped.resolve(T.admin)!.can('read', 'jobs'), false, 'admin does not imply read');
  });

  it('refuses a bad tokens option with a clear TypeError that never shows a token', () => {
    const cases: [unknown, RegExp][] = [
      [{ 'secret-1': ['raed:jobs'] }, /options\.tokens: token 1, scope 1: "raed:jobs" is not a scope: a scope is read, append or admin, optionally limited to journals as SCOPE:GLOB/],
      [{ ok: ['read'], 'secret-2': ['read', 'write'] }, /options\.tokens: token 2, scope 2: "write" is not a scope/],
      [{ 'secret-3': ['read:jobs/a'] }, /token 1, scope 1: "read:jobs\/a": after "read:" comes a journal name, or a glob of them/],
      [{ 'secret-4': ['read:'] }, /token 1, scope 1: "read:": after "read:"/],
      [{ 'secret-5': [] }, /token 1: a token needs at least one scope/],
      [{ 'secret-6': 'read' }, /token 1: the scopes must be an array of strings/],
      [{ 'secret 7': ['read'] }, /token 1: a token must not hold white space/],
      [['secret-8', 'secret-8'], /token 2 is listed twice/],
      [['secret-9', ''], /token 2: a token must not be empty/],
      [[], /options\.tokens must list at least one token/],
      [{}, /options\.tokens must list at least one token/],
      ['secret-10', /options\.tokens must be an array of tokens, or an object of tokens to their scopes/],
    ];
    for (const [tokens, message] of cases) {
      assert.throws(
        () => new JournalServer({ port: 0, store: new MemoryStore(), tokens: tokens as never }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /secret/, 'the message never shows a token');
          return true;
        },
      );
    }
  });
});

describe('scopes over the WebSocket', () => {
  let server: JournalServer;

  before(async () => {
    server = await startServer({ tokens: SCOPED });
    for (const journal of ['jobs', 'jobs.a', 'other']) await server.append(journal, 'seed', { journal });
  });

  after(() => server.close());

  for (const [what, token] of [
    ['no token', undefined],
    ['a bad token', 'tok-nope'],
    ['a token that merely starts with a valid one', `${T.reader}x`],
  ] as const) {
    it(`${what}: 401 at the handshake`, async () => {
      assert.equal(await RawClient.open(server.url, token), 401);
    });
  }

  it('read:jobs.* subscribes to jobs.a and is refused on other and on jobs; the connection stays open', async () => {
    const client = await openClient(server, T.reader);
    try {
      assertAllowed(await ask(client, subscribe('jobs.a')), 'subscribed', 'subscribe jobs.a');
      const refused = await ask(client, subscribe('other'));
      assertForbidden(refused, 'subscribe other');
      assert.match(String(refused['message']), /read on journal other/);
      assertForbidden(await ask(client, subscribe('jobs')), 'subscribe jobs');
      assertForbidden(await ask(client, append('jobs.a')), 'append jobs.a');
      assertForbidden(await ask(client, register()), 'register a schema');
      // Still open for its other work: another subscription, the schema list.
      assertAllowed(await ask(client, subscribe('jobs.b')), 'subscribed', 'subscribe jobs.b after the refusals');
      assertAllowed(await ask(client, { type: 'schemas', id: nextId++ }), 'schemas', 'list schemas');
      assert.equal(client.ws.readyState, WebSocket.OPEN);
    } finally {
      client.close();
    }
  });

  it('append:jobs appends to jobs only, and may not subscribe', async () => {
    const client = await openClient(server, T.appender);
    try {
      assertAllowed(await ask(client, append('jobs')), 'ack', 'append jobs');
      assertForbidden(await ask(client, append('jobs.a')), 'append jobs.a');
      assertForbidden(await ask(client, subscribe('jobs')), 'subscribe jobs');
      // The frame as a library writes it and one in another key order (the general decoder) alike.
      const id = nextId++;
      client.send(`{"journal":"other","events":[{"name":"x"}],"id":${id},"type":"append"}`);
      assertForbidden(await client.reply(id), 'append other, keys reordered');
      assertAllowed(await ask(client, append('jobs')), 'ack', 'append jobs again');
    } finally {
      client.close();
    }
  });

  it('append:jobs + read:jobs: both on jobs, neither elsewhere', async () => {
    const client = await openClient(server, T.both);
    try {
      assertAllowed(await ask(client, append('jobs')), 'ack', 'append jobs');
      assertAllowed(await ask(client, subscribe('jobs')), 'subscribed', 'subscribe jobs');
      assertForbidden(await ask(client, subscribe('jobs.a')), 'subscribe jobs.a');
      assertForbidden(await ask(client, append('other')), 'append other');
      assertForbidden(await ask(client, register()), 'register');
    } finally {
      client.close();
    }
  });

  it('admin registers schemas but neither reads nor appends; admin limited to a glob may not register', async () => {
    const admin = await openClient(server, T.admin);
    const labAdmin = await openClient(server, T.labAdmin);
    try {
      assertAllowed(await ask(admin, register()), 'registered', 'register as admin');
      assertForbidden(await ask(admin, subscribe('jobs')), 'admin subscribes');
      assertForbidden(await ask(admin, append('jobs')), 'admin appends');
      const refused = await ask(labAdmin, register());
      assertForbidden(refused, 'admin:lab.* registers');
      assert.match(String(refused['message']), /admin on every journal/);
    } finally {
      admin.close();
      labAdmin.close();
    }
  });

  it('a plain token list keeps meaning every scope', async (t) => {
    const plain = await startServer({ tokens: [T.plain] });
    t.after(() => plain.close());
    assert.equal(await RawClient.open(plain.url, undefined), 401);
    const client = await openClient(plain, T.plain);
    try {
      assertAllowed(await ask(client, append('anything')), 'ack', 'append');
      assertAllowed(await ask(client, subscribe('anything')), 'subscribed', 'subscribe');
      assertAllowed(await ask(client, register()), 'registered', 'register');
    } finally {
      client.close();
    }
  });
});

describe('scopes in the client library', () => {
  let server: JournalServer;

  before(async () => {
    server = await startServer({ tokens: SCOPED });
    await server.append('jobs.a', 'seed', {});
    await server.append('other', 'seed', {});
  });

  after(() => server.close());

  it("a consumer refused FORBIDDEN emits 'error' and stops, without retrying; its connection goes on for others", async () => {
    const connection = new JournalConnection(server.url, { token: T.reader });
    try {
      const refused = new EventLogConsumer(connection, 'other');
      const allowed = new EventLogConsumer(connection, 'jobs.a');
      const errors: Error[] = [];
      refused.on('error', (error) => errors.push(error));
      const ended = once(refused, 'end', PROMPT_MS);
      refused.start();
      allowed.start();
      await ended;
      assert.equal(await within(refused.poll(), PROMPT_MS, 'poll after the refusal'), null);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof JournalError);
      assert.equal((errors[0] as JournalError).code, ErrorCode.FORBIDDEN);
      const event = await allowed.poll(5);
      assert.equal(event?.name, 'seed');
      allowed.stop();
      // One refusal on the server: the consumer never asked again.
      const metric = await server.metrics.getSingleMetricAsString('wsjournal_frames_refused_total');
      assert.match(metric, /wsjournal_frames_refused_total\{code="FORBIDDEN"\} 1\n?/);
    } finally {
      await connection.close();
    }
  });

  it('a consumer with a URL and a token that may not read: error FORBIDDEN, then null', async () => {
    const consumer = new EventLogConsumer(server.url, 'other', { token: T.appender });
    const failed = once<[Error]>(consumer, 'error', PROMPT_MS);
    consumer.start();
    const [error] = await failed;
    assert.equal((error as JournalError).code, ErrorCode.FORBIDDEN);
    assert.equal(await within(consumer.poll(), PROMPT_MS, 'poll after the refusal'), null);
  });

  it("a producer's append outside its scopes rejects with FORBIDDEN; its others go on", async () => {
    const connection = new JournalConnection(server.url, { token: T.appender });
    const refused = new JournalProducer(connection, 'jobs.a');
    const allowed = new JournalProducer(connection, 'jobs');
    try {
      await assert.rejects(refused.append('x', {}), (error: unknown) => (error as JournalError).code === ErrorCode.FORBIDDEN);
      const ack = await allowed.append('x', {});
      assert.ok(ack.seq >= 1);
      await assert.rejects(allowed.registerSchema(SCHEMA), (error: unknown) => (error as JournalError).code === ErrorCode.FORBIDDEN);
      await assert.rejects(refused.append('y', {}), (error: unknown) => (error as JournalError).code === ErrorCode.FORBIDDEN);
    } finally {
      await refused.close();
      await allowed.close();
      await connection.close();
    }
  });

  it('JournalClient over HTTP: FORBIDDEN outside the scopes, UNAUTHORIZED with a bad token', async () => {
    const client = new JournalClient(server.url, { token: T.reader });
    assert.deepEqual(
      (await client.journals()).map((journal) => journal.name),
      ['jobs.a'],
    );
    await assert.rejects(client.event('other', 1), (error: unknown) => (error as JournalError).code === ErrorCode.FORBIDDEN);
    await assert.rejects(client.append('jobs.a', { name: 'x' }), (error: unknown) => (error as JournalError).code === ErrorCode.FORBIDDEN);
    const stranger = new JournalClient(server.url, { token: 'tok-nope' });
    await assert.rejects(stranger.journals(), (error: unknown) => (error as JournalError).code === ErrorCode.UNAUTHORIZED);
  });
});

describe('scopes over HTTP', () => {
  let server: JournalServer;
  const seqs: Record<string, number> = {};

  before(async () => {
    server = await startServer({ tokens: SCOPED });
    for (const journal of ['jobs', 'jobs.a', 'other']) seqs[journal] = (await server.append(journal, 'start', { id: 1 })).seq;
  });

  after(() => server.close());

  const call = (method: string, path: string, token: string | undefined, body?: unknown): Promise<HttpAnswer> =>
    request(server, method, path, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body }) });

  /** Each reading route of a journal. */
  const readRoutes = (journal: string): [string, string][] => [
    ['GET', `/v1/journals/${journal}`],
    ['GET', `/v1/journals/${journal}/events`],
    ['GET', `/v1/journals/${journal}/events/1`],
    ['GET', `/v1/journals/${journal}/report?period=day`],
    ['GET', `/v1/journals/${journal}/spans?start=start&stop=stop&key=context.id`],
  ];

  /** Which journals each token may read, and append to. */
  const access: [token: string, reads: string[], appends: string[]][] = [
    [T.reader, ['jobs.a'], []],
    [T.appender, [], ['jobs']],
    [T.both, ['jobs'], ['jobs']],
    [T.admin, [], []],
    [T.labAdmin, [], []],
  ];

  for (const [token, reads, appends] of access) {
    it(`${token}: reading routes need read on the journal, the append route append`, async () => {
      for (const journal of ['jobs', 'jobs.a', 'other']) {
        for (const [method, path] of readRoutes(journal)) {
          const answer = await call(method, path, token);
          if (reads.includes(journal)) assert.equal(answer.status, 200, `${method} ${path}: ${answer.text}`);
          else {
            assert.equal(answer.status, 403, `${method} ${path}: ${answer.text}`);
            assert.equal(answer.json.error.code, ErrorCode.FORBIDDEN);
          }
        }
        const appended = await call('POST', `/v1/journals/${journal}/events`, token, { name: 'x' });
        assert.equal(appended.status, appends.includes(journal) ? 200 : 403, `POST ${journal}: ${appended.text}`);
        // A token that may not append hears FORBIDDEN before anything about its body.
        if (!appends.includes(journal)) assert.equal((await call('POST', `/v1/journals/${journal}/events`, token, { nope: true })).status, 403);
      }
    });
  }

  it('the journal list shows only the journals the token may read; a token that reads none is refused', async () => {
    const names = async (token: string): Promise<string[]> => {
      const answer = await call('GET', '/v1/journals', token);
      assert.equal(answer.status, 200, answer.text);
      return (answer.json.journals as { name: string }[]).map((journal) => journal.name);
    };
    assert.deepEqual(await names(T.reader), ['jobs.a']);
    assert.deepEqual(await names(T.both), ['jobs']);
    // Pages are cut before the filter: a page may hold none of the token's journals, and still has a next.
    const first = await call('GET', '/v1/journals?limit=1', T.reader);
    assert.deepEqual(first.json, { journals: [], next: 'limit=1&after=jobs' });
    const second = await call('GET', `/v1/journals?${first.json.next}`, T.reader);
    assert.deepEqual((second.json.journals as { name: string }[]).map((journal) => journal.name), ['jobs.a']);
    for (const token of [T.appender, T.admin]) {
      const answer = await call('GET', '/v1/journals', token);
      assert.equal(answer.status, 403, answer.text);
      assert.equal(answer.json.error.code, ErrorCode.FORBIDDEN);
      assert.match(answer.json.error.message, /read on any journal/);
    }
  });

  it('without a valid token every route but /healthz answers 401; /metrics takes any valid token', async () => {
    for (const token of [undefined, 'tok-nope']) {
      for (const [method, path] of [...readRoutes('jobs'), ['GET', '/v1/journals'], ['POST', '/v1/journals/jobs/events'], ['GET', '/metrics']] as [string, string][]) {
        const answer = await call(method, path, token, method === 'POST' ? { name: 'x' } : undefined);
        assert.equal(answer.status, 401, `${method} ${path} with ${String(token)}: ${answer.text}`);
        assert.equal(answer.json.error.code, ErrorCode.UNAUTHORIZED);
      }
    }
    assert.equal((await call('GET', '/healthz', undefined)).status, 200);
    for (const token of Object.keys(SCOPED)) assert.equal((await call('GET', '/metrics', token)).status, 200);
    // ?token= works as the bearer header does.
    assert.equal((await call('GET', `/v1/journals/jobs.a/events?token=${T.reader}`, undefined)).status, 200);
    assert.equal((await call('GET', `/v1/journals/other/events?token=${T.reader}`, undefined)).status, 403);
  });

  it('a plain token list keeps meaning every scope over HTTP', async (t) => {
    const plain = await startServer({ tokens: [T.plain] });
    t.after(() => plain.close());
    await plain.append('any', 'start', { id: 1 });
    const headers = { Authorization: `Bearer ${T.plain}` };
    assert.equal((await request(plain, 'GET', '/v1/journals', { headers })).status, 200);
    assert.equal((await request(plain, 'GET', '/v1/journals/any/events', { headers })).status, 200);
    assert.equal((await request(plain, 'POST', '/v1/journals/any/events', { headers, body: { name: 'x' } })).status, 200);
  });
});
