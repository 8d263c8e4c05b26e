/**
 * The browser twin of `node.ts` (chosen by the `browser` condition of package.json's
 * `#platform` import): what needs a file system or a process says so when it is used,
 * instead of keeping the library from bundling for browsers.
 */
import type { FileDigest } from './node.js';

export type { FileDigest } from './node.js';

function unsupported(what: string): TypeError {
  return new TypeError(`${what} needs Node.js (a file system); it is not available in a browser`);
}

export function fileDigest(_path: string): Promise<FileDigest> {
  return Promise.reject(unsupported('run.attach()'));
}

export class AppendOnlyFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    throw unsupported('the file handler');
  }

  append(_text: string): Promise<void> {
    return Promise.reject(unsupported('the file handler'));
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function writeFileAtomic(_path: string, _text: string): Promise<void> {
  return Promise.reject(unsupported('a forwarder checkpoint'));
}

export function readTextFileSync(_path: string, _maxBytes: number): string | undefined {
  throw unsupported('a forwarder checkpoint');
}

/** In a browser, standard output is the console. */
export function writeStdout(text: string): Promise<void> {
  console.log(text.endsWith('\n') ? text.slice(0, -1) : text);
  return Promise.resolve();
}

export function environment(_name: string): string | undefined {
  return undefined;
}

export function setEnvironment(_name: string, _value: string): void {
  throw unsupported('handlerConfigAsEnv()');
}
