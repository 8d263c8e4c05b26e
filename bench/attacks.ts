/**
 * The attacks scenario (`--only attacks`): each attack of the adversarial suite
 * (test/fixtures/attack-kit.ts) against a fresh server started from a build's CLI
 * (`node <cli> serve`, default options, the embedded store), once per build: this build, and
 * the build given with `--before-cli` when there is one, in the same run. Each line records the
 * server's anonymous memory idle and at its peak, the worst round trip of a bystander's appends
 * (one at a time, from another client address) during the attack, whether a canary consumer
 * lost or duplicated anything, and whether the server survived; and the bars: survived, growth
 * ≤ 256 MB over idle, worst append ≤ 100 ms.
 */
import { fileURLToPath } from 'node:url';
import { ATTACKS, measureAttack, ServerProcess } from '../test/fixtures/attack-kit.js';
import { log, type ScenarioContext } from './lib/scenario.js';

/** This build's CLI (this file runs from dist/bench/). */
const THIS_CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const GROWTH_BAR_MB = 256;
const APPEND_BAR_MS = 100;

export interface AttacksOptions {
  /** The CLI of the build to compare with (`--before-cli`), if any. */
  readonly beforeCli?: string | undefined;
  /** The CLI of the build under test. @default this build's */
  readonly afterCli?: string | undefined;
  /** Only these attacks (names), if given. */
  readonly only?: readonly string[] | undefined;
}

export async function attacks(context: ScenarioContext, options: AttacksOptions = {}): Promise<void> {
  const builds: [label: string, cli: string][] = [];
  if (options.beforeCli !== undefined) builds.push(['before', options.beforeCli]);
  builds.push([options.beforeCli === undefined ? 'this' : 'after', options.afterCli ?? THIS_CLI]);
  const chosen = ATTACKS.filter((attack) => options.only === undefined || options.only.includes(attack.name));
  for (const attack of chosen) {
    for (const [build, cli] of builds) {
      log(`attacks: ${attack.title} — ${build} (${cli})`);
      const server = await ServerProcess.start(cli);
      try {
        const result = await measureAttack(server, attack, {
          scale: context.quick ? attack.everyday : attack.full,
          holdMs: context.quick ? 2000 : 10_000,
          minAppends: 20,
          appendTimeoutMs: 30_000,
        });
        context.recorder.record({
          scenario: `attacks/${attack.name}/${build}`,
          cli,
          scale: context.quick ? attack.everyday : attack.full,
          ...result,
          worstAppendMs: Number.isFinite(result.worstAppendMs) ? result.worstAppendMs : null,
          pass: {
            survived: result.survived,
            growth: result.growthMB <= GROWTH_BAR_MB,
            append: result.failure === undefined && result.worstAppendMs <= APPEND_BAR_MS,
            // Attacks 6 and 7: every bad frame was answered with an error (not stored).
            ...(Object.keys(result.notes).some((key) => key.startsWith('reply'))
              ? { refused: Object.entries(result.notes).every(([key, reply]) => !key.startsWith('reply') || (reply as { type?: string }).type === 'error') }
              : {}),
          },
        });
      } finally {
        await server.stop();
      }
    }
  }
}
