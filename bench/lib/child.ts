/**
 * The orchestrator's side of a bench process: fork a script of bench/ with a
 * JSON config, await the messages it reports over IPC, stop it politely (so a
 * `--cpu-prof` profile gets written) or kill it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Every IPC message, both ways, is `{ type, ...fields }`. */
export interface Message {
  type: string;
  [field: string]: unknown;
}

export interface StartOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  execArgv?: string[];
}

/** A forked bench script. `name` shows in errors. */
export class BenchProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #inbox: Message[] = [];
  #waiter: (() => void) | undefined;
  readonly #exit: Promise<number | null>;
  #exited = false;
  /** How the child exited: `code N` or the signal's name. */
  #exitStatus = '';

  /** Forks `bench/<script>.js` (next to this file's parent) with `config` as its one argument. */
  constructor(script: string, config: object, options: StartOptions = {}) {
    this.name = script;
    const path = fileURLToPath(new URL(`../${script}.js`, import.meta.url));
    // The child's stdout goes to our stderr: our stdout carries only result lines.
    this.#child = fork(path, [JSON.stringify(config)], {
      execArgv: options.execArgv ?? [],
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    // A send racing the child's exit fails with EPIPE; the exit is reported by next().
    this.#child.on('error', () => {});
    this.#child.on('message', (message: Message) => {
      this.#inbox.push(message);
      this.#waiter?.();
    });
    this.#exit = new Promise((resolve) => {
      this.#child.on('exit', (code, signal) => {
        this.#exited = true;
        this.#exitStatus = signal ?? `code ${code}`;
        this.#waiter?.();
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The next message of `type` (others stay queued); rejects on an `error` message, at exit, or when time runs out. */
  async next<T extends { type: string } = Message>(type: string, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#inbox.findIndex((message) => message.type === type || message.type === 'error');
      if (index >= 0) {
        const [message] = this.#inbox.splice(index, 1);
        if (message!.type === 'error') throw new Error(`${this.name}: ${String(message!['message'])}`);
        return message as T;
      }
      if (this.#exited) throw new Error(`${this.name} exited (${this.#exitStatus}) before sending "${type}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  send(message: Message): void {
    if (!this.#exited && this.#child.connected) this.#child.send(message, undefined, undefined, () => {});
  }

  /** Asks the process to finish (`{type:"close"}`) and waits for it to exit; kills it after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.#exited) return;
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exit;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}

/** Stops every process, even if some fail. */
export async function stopAll(processes: readonly (BenchProcess | undefined)[]): Promise<void> {
  await Promise.allSettled(processes.map((child) => child?.stop()));
}
