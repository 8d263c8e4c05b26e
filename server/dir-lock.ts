/**
 * A directory's lock for one owner: a `LOCK` file in it holding the owner's
 * pid. Another live process, or a second taker in this one, is refused with
 * an error whose code is `ELOCKED`; a lock whose process is gone (after
 * `kill -9`) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The directories this process holds, so a second taker here is refused as well. */
const HELD = new Set<string>();

/** Takes `dir`'s LOCK file for this process; a lock left by a process that is gone is taken over. */
export function lock(dir: string): void {
  const path = join(dir, 'LOCK');
  for (;;) {
    if (HELD.has(dir)) throw lockedError(dir, 'this process');
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      HELD.add(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(path, 'utf8'));
    } catch (error) {
      // Its owner deleted it meanwhile: try again.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    // A pid equal to ours is a previous process's (a restarted container's pid 1, say): HELD knows our own.
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) throw lockedError(dir, `process ${owner}`);
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Releases `dir`'s lock, taken by `lock`. */
export function unlock(dir: string): void {
  HELD.delete(dir);
  try {
    unlinkSync(join(dir, 'LOCK'));
  } catch {
    // Already gone: nothing to release.
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
