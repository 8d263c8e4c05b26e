/**
 * Worker threads that compile schemas and validate contexts (validation-worker.ts), so that
 * neither ever runs on the event loop. Each request gets a deadline, each worker a heap limit:
 * a worker that passes either is replaced, the request it was running is refused, and the
 * requests queued behind it go to the new worker. Workers start with the first request, so a
 * server whose events name no schema runs none.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, JournalError } from '../../src/errors.js';
import { MAX_ERROR_DETAILS } from '../error-bounds.js';
import type { SchemaSource, WorkerDetail, WorkerReady, WorkerReply, WorkerRequest } from './worker-protocol.js';

export interface ValidatorPoolOptions {
  /** Worker threads at most. */
  readonly threads: number;
  /** Milliseconds a validation may take once its schemas are compiled. */
  readonly validateMs: number;
  /** Milliseconds compiling a schema may take. */
  readonly compileMs: number;
  /** Each worker's old-generation heap, MiB. */
  readonly heapMb: number;
}

/** Validations sent to a worker as one job, under one deadline, at most. */
const MAX_GROUP = 16;

type Request =
  | { op: 'compile'; schema: SchemaSource }
  | { op: 'validate'; schemas: readonly SchemaSource[]; contexts: string; events: readonly number[] };

/** One request and its caller. */
interface Part {
  readonly request: Request;
  readonly resolve: (reply: WorkerReply) => void;
  readonly reject: (error: Error) => void;
}

/**
 * What a worker runs at once, under one deadline: one request, or the validations asked for in
 * one turn, sent in one message and answered in one (so that the appends they let through are
 * stored together). A group that fails is split: each of its requests runs again alone.
 */
interface Job {
  readonly parts: readonly Part[];
}

const WORKER_URL = new URL('./validation-worker.js', import.meta.url);

/** One worker, its queue (the head is running), and the validators it holds compiled. */
class Thread {
  readonly worker: Worker;
  readonly queue: Job[] = [];
  readonly compiled = new Set<string>();
  ready = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  #seq = 0;

  constructor(
    heapMb: number,
    readonly onReply: (thread: Thread, replies: readonly WorkerReply[]) => void,
    readonly onReady: (thread: Thread) => void,
    readonly onFailure: (thread: Thread, why: string) => void,
  ) {
    this.worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 } });
    // An idle pool does not keep the process alive; the server terminates its workers on close.
    this.worker.unref();
    this.worker.on('message', (message: WorkerReply | WorkerReply[] | WorkerReady) => {
      if (Array.isArray(message)) onReply(this, message);
      else if ('ready' in message) onReady(this);
      else onReply(this, [message]);
    });
    this.worker.on('error', (error) => onFailure(this, (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'ran out of memory' : `failed: ${error.message}`));
    this.worker.on('exit', () => onFailure(this, 'stopped'));
  }

  post(job: Job): void {
    const messages = job.parts.map(({ request }): WorkerRequest => {
      const seq = ++this.#seq;
      return request.op === 'compile'
        ? { op: 'compile', seq, schema: request.schema }
        : { op: 'validate', seq, schemas: request.schemas, contexts: request.contexts, events: request.events, maxDetails: MAX_ERROR_DETAILS + 1 };
    });
    this.worker.postMessage(messages.length === 1 ? messages[0] : messages);
  }
}

export class ValidatorPool {
  readonly #options: ValidatorPoolOptions;
  readonly #threads: Thread[] = [];
  /** Validations asked for in this turn, sent as one job once its ticks have run. */
  #gathered: Part[] = [];
  #closed = false;

  constructor(options: ValidatorPoolOptions) {
    this.#options = options;
  }

  /** Compiles a schema; rejects with `INVALID_SCHEMA` saying why the validator refused it or that it took too long. */
  async compile(schema: SchemaSource): Promise<void> {
    const reply = await this.#run({ op: 'compile', schema });
    if (reply.error !== undefined) throw new JournalError(ErrorCode.INVALID_SCHEMA, `the validator refuses the schema: ${reply.error}`);
  }

  /**
   * Validates contexts against their schemas: `contexts` is a JSON array of them, `events` two
   * numbers per context (its schema's index in `schemas`, the event's index in its append); resolves with at most MAX_ERROR_DETAILS + 1 details (one more tells the caller there were more), none when all pass. Rejects with
   * `INVALID_SCHEMA` when a schema cannot be compiled, and with `SCHEMA_VIOLATION` when the
   * validation takes longer than its deadline or more memory than the worker has.
   */
  async validate(schemas: readonly SchemaSource[], contexts: string, events: readonly number[]): Promise<WorkerDetail[]> {
    const reply = await this.#run({ op: 'validate', schemas, contexts, events });
    if (reply.error !== undefined) throw new JournalError(ErrorCode.INVALID_SCHEMA, `a schema cannot be compiled: ${reply.error}`);
    return [...(reply.details ?? [])];
  }

  /** Stops every worker; requests not answered reject with `SHUTTING_DOWN`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = (): JournalError => new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closing');
    for (const part of this.#gathered.splice(0)) part.reject(closing());
    const threads = this.#threads.splice(0);
    await Promise.all(
      threads.map((thread) => {
        clearTimeout(thread.timer);
        for (const job of thread.queue.splice(0)) for (const part of job.parts) part.reject(closing());
        return thread.worker.terminate();
      }),
    );
  }

  #run(request: Request): Promise<WorkerReply> {
    if (this.#closed) return Promise.reject(new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is closing'));
    return new Promise((resolve, reject) => {
      const part: Part = { request, resolve, reject };
      if (request.op === 'compile') {
        this.#queue({ parts: [part] });
        return;
      }
      if (this.#gathered.push(part) === 1) process.nextTick(this.#dispatch);
    });
  }

  readonly #dispatch = (): void => {
    const parts = this.#gathered;
    this.#gathered = [];
    if (this.#closed) return;
    // A job of many validations would rarely fit one deadline: at most MAX_GROUP share one.
    for (let start = 0; start < parts.length; start += MAX_GROUP) this.#queue({ parts: parts.slice(start, start + MAX_GROUP) });
  };

  #queue(job: Job, thread = this.#pick()): void {
    thread.queue.push(job);
    if (thread.ready) thread.post(job);
    if (thread.queue.length === 1) this.#arm(thread);
  }

  /** The thread with the shortest queue, starting a new one while there is room and none is idle. */
  #pick(): Thread {
    let best: Thread | undefined;
    for (const thread of this.#threads) if (best === undefined || thread.queue.length < best.queue.length) best = thread;
    if (best !== undefined && (best.queue.length === 0 || this.#threads.length >= this.#options.threads)) return best;
    const thread = this.#start();
    this.#threads.push(thread);
    return thread;
  }

  #start(): Thread {
    return new Thread(this.#options.heapMb, this.#onReply, this.#onReady, this.#onFailure);
  }

  /** Starts the deadline of the thread's head request, once the worker runs: longer when it may have to compile. */
  #arm(thread: Thread): void {
    clearTimeout(thread.timer);
    thread.timer = undefined;
    const head = thread.queue[0];
    if (head === undefined || !thread.ready) return;
    const { validateMs, compileMs } = this.#options;
    const requests = head.parts.map(({ request }) => request);
    const sources = requests.flatMap((request) => (request.op === 'compile' ? [request.schema] : request.schemas));
    const compiling = sources.some(([key]) => !thread.compiled.has(key));
    const ms = requests[0]!.op === 'compile' ? compileMs : compiling ? compileMs + validateMs : validateMs;
    thread.timer = setTimeout(() => this.#onFailure(thread, `took longer than ${ms} ms`), ms);
  }

  readonly #onReady = (thread: Thread): void => {
    thread.ready = true;
    for (const job of thread.queue) thread.post(job);
    this.#arm(thread);
  };

  readonly #onReply = (thread: Thread, replies: readonly WorkerReply[]): void => {
    for (const reply of replies) {
      for (const key of reply.compiled) thread.compiled.add(key);
      for (const key of reply.evicted) thread.compiled.delete(key);
    }
    const job = thread.queue.shift();
    this.#arm(thread);
    if (job === undefined) return;
    for (let i = 0; i < job.parts.length; i++) job.parts[i]!.resolve(replies[i]!);
  };

  /**
   * The thread's worker passed its deadline, its heap, or stopped: the request it was running
   * is refused, the worker goes, and the requests behind it move to a new one.
   */
  readonly #onFailure = (thread: Thread, why: string): void => {
    const index = this.#threads.indexOf(thread);
    if (index < 0) return;
    clearTimeout(thread.timer);
    thread.timer = undefined;
    void thread.worker.terminate();
    const [head, ...rest] = thread.queue.splice(0);
    const replacement = this.#start();
    this.#threads[index] = replacement;
    // A group's requests run again one by one, so that only those that fail alone are refused.
    if (head !== undefined && head.parts.length > 1) for (const part of head.parts) replacement.queue.push({ parts: [part] });
    for (const job of rest) replacement.queue.push(job);
    if (head?.parts.length === 1) {
      const [part] = head.parts;
      const compiling = part!.request.op === 'compile';
      const code = compiling ? ErrorCode.INVALID_SCHEMA : ErrorCode.SCHEMA_VIOLATION;
      const what = compiling ? 'compiling the schema' : 'validating the batch';
      part!.reject(new JournalError(code, `${what} ${why}`));
    }
  };
}
