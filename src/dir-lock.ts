/**
 * A directory's lock for one owner: a `LOCK` file in it holding the owner's
 * pid and, where `/proc` tells them (Linux), the boot's id and the process's
 * start time. Another live process, or a second taker in this one, is refused
 * with an error whose code is `ELOCKED`; a lock whose process is gone (after
 * `kill -9`) is taken over. So is a lock whose pid now names another process:
 * after a reboot or a restart, a pid is often reused, and a pid alone would
 * keep the store closed until someone deleted the file. The embedded store's
 * write-ahead log and a JournalLogger's spool each take their directory's.
 */
import type * as Fs from 'node:fs';

/**
 * node:fs, got when first needed rather than imported: the client library takes this lock for
 * a logger's spool, and a browser bundle of the client must not need node:fs.
 */
function fs(): typeof Fs {
  const found = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:fs');
  if (found === undefined) throw new TypeError('a directory lock needs Node.js (node:fs)');
  return found as typeof Fs;
}

const join = (dir: string, name: string): string => `${dir.replace(/[\\/]+$/, '')}/${name}`;

/** The directories this process holds, so a second taker here is refused as well. */
const HELD = new Set<string>();

/** The boot's id once read (null where `/proc` has none). */
let knownBootId: string | null | undefined;

/** The boot's id, or undefined where `/proc` has none; read once, when a lock is first taken. */
function bootId(): string | undefined {
  knownBootId ??= readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
  return knownBootId ?? undefined;
}

/** Takes `dir`'s LOCK file for this process; a lock left by a process that is gone is taken over. */
export function lock(dir: string): void {
  const path = join(dir, 'LOCK');
  for (;;) {
    if (HELD.has(dir)) throw lockedError(dir, 'this process');
    try {
      const fd = fs().openSync(path, 'wx');
      try {
        fs().writeSync(fd, ownerLine(process.pid));
      } finally {
        fs().closeSync(fd);
      }
      HELD.add(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let line: string;
    try {
      line = fs().readFileSync(path, 'utf8');
    } catch (error) {
      // Its owner deleted it meanwhile: try again.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const owner = Number(line.split(' ')[0]);
    // A pid equal to ours is a previous process's (a restarted container's pid 1, say): HELD knows our own.
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isOwnerAlive(owner, line)) throw lockedError(dir, `process ${owner}`);
    try {
      fs().unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Releases `dir`'s lock, taken by `lock`. */
export function unlock(dir: string): void {
  HELD.delete(dir);
  try {
    fs().unlinkSync(join(dir, 'LOCK'));
  } catch {
    // Already gone: nothing to release.
  }
}

/** What the LOCK file says of process `pid`: `<pid>`, or `<pid> <boot id> <start time>` where `/proc` tells them. */
function ownerLine(pid: number): string {
  const started = startTime(pid);
  return bootId() === undefined || started === undefined ? String(pid) : `${pid} ${bootId()} ${started}`;
}

/**
 * True when the process the LOCK file names still runs: its pid is alive and, where the file
 * and `/proc` tell them, it runs in the same boot and started when the owner did.
 */
function isOwnerAlive(pid: number, line: string): boolean {
  if (!isAlive(pid)) return false;
  const [, boot, started] = line.trim().split(' ');
  if (boot === undefined || started === undefined || bootId() === undefined) return true;
  if (boot !== bootId()) return false;
  const now = startTime(pid);
  return now === undefined || now === started;
}

/** The start time of process `pid` (clock ticks since boot, `/proc/<pid>/stat` field 22), or undefined. */
function startTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function readProc(path: string): string | undefined {
  try {
    return fs().readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockedError(dir: string, owner: string): Error {
  return Object.assign(new Error(`${dir} is in use by ${owner}`), { code: 'ELOCKED' });
}
