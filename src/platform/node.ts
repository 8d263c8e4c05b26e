/**
 * The file system and standard output, under Node.js. The client library reaches them only
 * through the `#platform` import (package.json `imports`), which a browser bundler resolves
 * to `browser.ts` instead, so that the library still bundles for browsers; each function
 * here has a twin there that says it needs Node.js.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFileSync, statSync } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

/** What `run.attach()` records of a file. */
export interface FileDigest {
  /** The file's name. */
  readonly name: string;
  /** Its absolute path. */
  readonly path: string;
  /** Its size in bytes. */
  readonly size: number;
  /** The SHA-1 of its content, in hex. */
  readonly sha1: string;
}

/** Name, absolute path, size and SHA-1 of the file at `path`, read as a stream (any size, bounded memory). */
export async function fileDigest(path: string): Promise<FileDigest> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  if (!info.isFile()) throw new TypeError(`${path} is not a regular file`);
  const hash = createHash('sha1');
  let size = 0;
  for await (const chunk of createReadStream(absolute)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { name: basename(absolute), path: absolute, size, sha1: hash.digest('hex') };
}

/**
 * A file that lines are appended to and never truncated. If the file's last line is
 * incomplete (a crash during a write), a newline is written first, so that the torn
 * fragment stays a line of its own and the next line starts whole.
 */
export class AppendOnlyFile {
  readonly path: string;
  #handle: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;

  constructor(path: string) {
    this.path = resolve(path);
  }

  /** Appends `text` (one or more whole lines) with one write. */
  async append(text: string): Promise<void> {
    const handle = await this.#open();
    const bytes = Buffer.from(text);
    let written = 0;
    while (written < bytes.length) written += (await handle.write(bytes, written)).bytesWritten;
  }

  /** Resolves once everything appended is on disk (fdatasync). */
  async sync(): Promise<void> {
    if (this.#handle !== undefined) await this.#handle.datasync();
  }

  /** Closes the file; a later append opens it again. */
  async close(): Promise<void> {
    const opening = this.#opening;
    this.#opening = undefined;
    this.#handle = undefined;
    const handle = await opening?.catch(() => undefined);
    await handle?.close();
  }

  #open(): Promise<FileHandle> {
    this.#opening ??= (async () => {
      const handle = await open(this.path, 'a+');
      try {
        const { size } = await handle.stat();
        if (size > 0) {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) await handle.write('\n');
        }
      } catch (error) {
        await handle.close();
        throw error;
      }
      this.#handle = handle;
      return handle;
    })();
    // A failed open is tried again by the next append.
    this.#opening.catch(() => (this.#opening = undefined));
    return this.#opening;
  }
}

/**
 * Replaces the file at `path` with `text` atomically: written to a temporary file beside it,
 * fsync'd, renamed over it, and the directory fsync'd. After a crash the file holds either
 * the old text or the new one, whole.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const target = resolve(path);
  const temporary = `${target}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  const directory = await open(dirname(target), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** The text of the file at `path`, or undefined when there is none; a file over `maxBytes` is refused. */
export function readTextFileSync(path: string, maxBytes: number): string | undefined {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (size > maxBytes) throw new RangeError(`${path} is ${size} bytes, more than the ${maxBytes} expected`);
  return readFileSync(path, 'utf8');
}

/** Writes `text` to standard output; resolves once the stream can take more (its 'drain'). */
export function writeStdout(text: string): Promise<void> {
  const stdout = process.stdout;
  if (stdout.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stdout.off('drain', done);
      stdout.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    stdout.once('drain', done);
    stdout.once('error', done);
  });
}

/** The environment variable `name`, or undefined. */
export function environment(name: string): string | undefined {
  return process.env[name];
}

/** Sets the environment variable `name` for this process and the processes it starts. */
export function setEnvironment(name: string, value: string): void {
  process.env[name] = value;
}
