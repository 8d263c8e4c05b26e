/**
 * A worker thread of the validator pool: answers its requests with validator-core.ts, off the
 * event loop, so that no schema, however costly to compile or to validate against, can hold the
 * server: the pool gives every request a deadline and a heap limit, and replaces a worker that
 * passes either. A message holding several requests (those of one turn) gets their replies in
 * one message.
 */
import { parentPort } from 'node:worker_threads';
import { handle } from './validator-core.js';
import type { WorkerReady, WorkerRequest } from './worker-protocol.js';

const port = parentPort!;
port.on('message', (message: WorkerRequest | WorkerRequest[]) => port.postMessage(Array.isArray(message) ? message.map(handle) : handle(message)));
port.postMessage({ ready: true } satisfies WorkerReady);
