/**
 * Admission: whether a WebSocket handshake or an HTTP request may go on. Both pass here, and
 * both hold a slot while they last (a connection until its socket closes, a request until it is
 * answered):
 *
 * - the origin (`origins`; 403 `FORBIDDEN`) and the token (`tokens`; 401 `UNAUTHORIZED`);
 * - the server-wide slots (`maxConnections`; 503 `OVERLOADED`);
 * - the slots of one client address (`maxConnectionsPerAddress`) and, when tokens are used, of
 *   one token (`maxConnectionsPerToken`); 429 `TOO_MANY_CONNECTIONS`, so that one client cannot
 *   take every slot.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../../src/errors.js';
import type { AccessTokens } from '../auth/access-tokens.js';
import { bearerToken } from '../auth/bearer-token.js';
import { Principal } from '../auth/principal.js';

/** Why the server refuses a request or handshake. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** A slot held by an admitted connection or request, and who it acts as; `release()` gives the slot back (idempotent). */
export interface Ticket {
  /** What the request's token may do (every scope when the server has no tokens). */
  readonly principal: Principal;
  release(): void;
}

export interface AdmissionOptions {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly maxConnectionsPerToken: number;
  /** If set, only these tokens are admitted, each with its scopes. */
  readonly tokens: AccessTokens | undefined;
  /** If set, browsers from other origins (than these and the server's own) are refused. */
  readonly origins: ReadonlySet<string> | undefined;
}

export class Admission {
  readonly #options: AdmissionOptions;
  #total = 0;
  readonly #byAddress = new Map<string, number>();
  readonly #byToken = new Map<string, number>();

  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  /** Slots held now (connections and requests). */
  get held(): number {
    return this.#total;
  }

  /** A ticket for `req`, or why it is refused. */
  admit(req: IncomingMessage): Refusal | Ticket {
    const { maxConnections, maxConnectionsPerAddress, maxConnectionsPerToken, tokens, origins } = this.#options;
    if (this.#total >= maxConnections) return { status: 503, code: ErrorCode.OVERLOADED, message: 'Too many connections' };
    const origin = req.headers.origin ?? req.headers['sec-websocket-origin'];
    // The server's own origin (the viewer it serves) is always allowed.
    if (origins && typeof origin === 'string' && !origins.has(origin) && !sameOrigin(origin, req.headers.host)) {
      return { status: 403, code: ErrorCode.FORBIDDEN, message: 'Origin not allowed' };
    }
    let token: string | undefined;
    let principal = Principal.ALL;
    if (tokens) {
      token = bearerToken(req);
      const resolved = tokens.resolve(token);
      if (token === undefined || resolved === undefined) return { status: 401, code: ErrorCode.UNAUTHORIZED, message: 'Unauthorized' };
      principal = resolved;
      if ((this.#byToken.get(token) ?? 0) >= maxConnectionsPerToken) {
        return { status: 429, code: ErrorCode.TOO_MANY_CONNECTIONS, message: `at most ${maxConnectionsPerToken} connections per token` };
      }
    }
    const address = req.socket.remoteAddress ?? '';
    if ((this.#byAddress.get(address) ?? 0) >= maxConnectionsPerAddress) {
      return { status: 429, code: ErrorCode.TOO_MANY_CONNECTIONS, message: `at most ${maxConnectionsPerAddress} connections per client address` };
    }
    this.#total++;
    increment(this.#byAddress, address);
    if (token !== undefined) increment(this.#byToken, token);
    let held = true;
    return {
      principal,
      release: () => {
        if (!held) return;
        held = false;
        this.#total--;
        decrement(this.#byAddress, address);
        if (token !== undefined) decrement(this.#byToken, token);
      },
    };
  }
}

/** True when `result` is a refusal. */
export function isRefusal(result: Refusal | Ticket): result is Refusal {
  return 'status' in result;
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 1) - 1;
  if (count <= 0) counts.delete(key);
  else counts.set(key, count);
}

/** True when `origin` names this very server: a page it served itself. Browsers cannot forge Origin. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    return false;
  }
}
