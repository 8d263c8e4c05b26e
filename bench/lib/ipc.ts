/**
 * A bench script's side of the IPC channel: read the config the orchestrator
 * passed, report messages, wait for commands. A script whose orchestrator
 * goes away exits, so no bench process outlives a run.
 */
import type { Message } from './child.js';

/** The JSON config passed as the script's one argument. */
export function config<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** Sends a message; resolves once it is handed to the channel (await it before exiting). */
export function report(message: Message): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, undefined, () => resolve());
  });
}

const inbox: Message[] = [];
let wake: (() => void) | undefined;
process.on('message', (message: Message) => {
  inbox.push(message);
  wake?.();
});
process.on('disconnect', () => process.exit(2));

/** The next command of `type` from the orchestrator. */
export async function command<T extends { type: string } = Message>(type: string): Promise<T> {
  for (;;) {
    const index = inbox.findIndex((message) => message.type === type);
    if (index >= 0) return inbox.splice(index, 1)[0] as T;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

/** Runs `main`, reports a failure as an `error` message and exits non-zero. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    async (error: unknown) => {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(message);
      await report({ type: 'error', message });
      process.exit(1);
    },
  );
}
