/**
 * The live baseline: a raw `ws` relay with no store. Each frame a client of
 * `/pub` sends goes, as is, to every client of `/sub`.
 */
import { run } from './lib/ipc.js';
import { relay } from './lib/relay.js';

run(() => relay());
