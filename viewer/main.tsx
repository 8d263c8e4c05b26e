/**
 * The viewer's entry: takes the token from the address, connects the HTTP
 * routes and the WebSocket of the server that serves the page, and draws it.
 */
import { render } from 'preact';
import { Api } from './api.js';
import { App } from './app.js';
import { SchemaLookup } from './schema-lookup.js';
import { ServerSource } from './server-source.js';
import { TokenStore } from './token.js';

function sessionStore(): Storage | undefined {
  try {
    return sessionStorage;
  } catch {
    return undefined;
  }
}

const tokens = new TokenStore(sessionStore());
const cleaned = tokens.adoptFromUrl(location.href);
if (cleaned !== undefined) history.replaceState(history.state, '', cleaned);

const token = () => tokens.get();
const api = new Api(location.origin, token);
const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
const source = new ServerSource(api, wsUrl, token);
const schemas = new SchemaLookup(wsUrl, token);

render(<App services={{ api, source, tokens, schemas }} />, document.getElementById('app')!);
