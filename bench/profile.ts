/**
 * Reads the `.cpuprofile` files a `--profile` run wrote (one folder per role)
 * and prints, per role, where the CPU time went: the top functions by self
 * time, and self time by file.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './lib/results.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A fresh folder under bench/results/profiles/ for this run's profiles. */
export function profileDir(): string {
  const dir = join(RESULTS_DIR, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Self time in µs per function (`name file:line`) and per file, over every profile in `dir`. */
export function selfTimes(dir: string): { byFunction: Map<string, number>; byFile: Map<string, number>; total: number } {
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, index) => {
      const node = nodes.get(id)!;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') return;
      const micros = profile.timeDeltas[index] ?? 0;
      const where = shortUrl(url);
      const name = `${functionName || '(anonymous)'}${where ? ` ${where}:${lineNumber + 1}` : ''}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
      byFile.set(where || functionName, (byFile.get(where || functionName) ?? 0) + micros);
      total += micros;
    });
  }
  return { byFunction, byFile, total };
}

/** Prints each role's top functions and files, by share of the busy (non-idle) time, to stderr. */
export function summarizeProfiles(dir: string, top = 15): void {
  for (const role of readdirSync(dir)) {
    const { byFunction, byFile, total } = selfTimes(join(dir, role));
    const table = (map: Map<string, number>): string =>
      [...map.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, micros]) => `  ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`)
        .join('\n');
    console.error(`\n== ${role}: ${(total / 1000).toFixed(0)} ms busy; top functions by self time ==\n${table(byFunction)}`);
    console.error(`-- ${role}: self time by file --\n${table(byFile)}`);
  }
  console.error(`\nprofiles in ${dir} (open them in Chrome DevTools > Performance)`);
}

/** `node_modules/ws/lib/receiver.js` or `src/protocol.js` instead of a long file URL. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 6);
  return url.replace(/^file:\/\//, '');
}
