/**
 * Adversarial clients against a server in a child process (this build's CLI, default options,
 * the embedded store): one test per attack. Each asserts that the server is alive afterwards,
 * that its anonymous memory grew by at most 256 MB over idle, that a bystander on another
 * client address kept having its appends acknowledged (each within 10 s: a liveness check; the
 * 100 ms bar is the benchmark's, bench/attacks.ts), and that a canary consumer of the
 * bystander's journal got every event once, in order, with no end or error.
 *
 * `npm test` runs each attack at its everyday counts, `npm run test:stress` at the counts of
 * the reports it reproduces (test/stress-level.ts).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ATTACKS, measureAttack, ServerProcess, type Attack, type AttackResult } from './fixtures/attack-kit.js';
import { STRESS } from './stress-level.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const GROWTH_BAR_MB = 256;
const APPEND_TIMEOUT_MS = 10_000;
const LIMIT = { timeout: STRESS ? 600_000 : 120_000 };

function attack(name: string): Attack {
  const found = ATTACKS.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no attack ${name}`);
  return found;
}

describe('attacks: the server stays up, bounded and responsive', () => {
  let server: ServerProcess | undefined;

  async function run(name: string): Promise<AttackResult> {
    const chosen = attack(name);
    server = await ServerProcess.start(CLI);
    const result = await measureAttack(server, chosen, {
      scale: STRESS ? chosen.full : chosen.everyday,
      holdMs: STRESS ? 5000 : 1000,
      minAppends: 20,
      appendTimeoutMs: APPEND_TIMEOUT_MS,
    });
    console.log(`# [attacks] ${JSON.stringify(result)}`);
    assert.equal(result.survived, true, `the server survived: ${result.failure ?? ''}`);
    assert.equal(result.failure, undefined, 'the bystander and the canary saw nothing wrong');
    assert.ok(result.appends >= 20, `the bystander's appends kept completing (${result.appends})`);
    assert.ok(result.growthMB <= GROWTH_BAR_MB, `anonymous memory grew by ${result.growthMB} MB over idle (bar ${GROWTH_BAR_MB} MB)`);
    return result;
  }

  before(() => {
    if (process.platform !== 'linux') console.log('# [attacks] /proc/<pid>/status is Linux only: memory reads as NaN elsewhere');
  });

  after(async () => {
    await server?.stop();
  });

  const stopServer = async (): Promise<void> => {
    await server?.stop();
    server = undefined;
  };

  it('1. history amplification: stalled connections subscribing hundreds of times to 60 KiB events', LIMIT, async (t) => {
    t.after(stopServer);
    await run('history-amplification');
  });

  it('2. replies to a client that never reads: invalid frames, cancels, appends and echo bait', LIMIT, async (t) => {
    t.after(stopServer);
    await run('unread-replies');
  });

  it('3. a filter that matches nothing on a big journal does not hold the event loop', LIMIT, async (t) => {
    t.after(stopServer);
    await run('filter-nothing');
  });

  it('4. live fan-out to stalled subscriptions past the limit', LIMIT, async (t) => {
    t.after(stopServer);
    await run('live-fanout');
  });

  it('5. one client address cannot take every slot: past 256 it gets 429, others still connect', LIMIT, async (t) => {
    t.after(stopServer);
    const result = await run('every-slot');
    const refused = result.notes['refused'] as Record<string, number>;
    assert.equal(result.notes['accepted'], 256, 'one address holds at most 256 connections');
    assert.equal(refused['429'], attack('every-slot')[STRESS ? 'full' : 'everyday'].perConnection - 256, `the rest were refused 429: ${JSON.stringify(refused)}`);
  });

  it('6. lone surrogates in a name, a key and a filter are refused, naming the field', LIMIT, async (t) => {
    t.after(stopServer);
    const result = await run('lone-surrogates');
    const [name, key, filter] = [1, 2, 3].map((id) => result.notes[`reply${id}`] as Record<string, unknown>);
    assert.equal(name!['code'], 'INVALID_EVENT', JSON.stringify(name));
    assert.match(String(name!['message']), /events\.0\.name.*surrogate/);
    assert.equal(key!['code'], 'BAD_FRAME', JSON.stringify(key));
    assert.match(String(key!['message']), /key.*surrogate/);
    assert.equal(filter!['code'], 'INVALID_PAYLOAD', JSON.stringify(filter));
    assert.match(String(filter!['message']), /payload\.names\.0.*surrogate/);
  });

  it('7. a number JSON cannot hold (1e309) is refused, naming where it is', LIMIT, async (t) => {
    t.after(stopServer);
    const result = await run('non-finite');
    const reply = result.notes['reply1'] as Record<string, unknown>;
    assert.equal(reply['code'], 'INVALID_EVENT', JSON.stringify(reply));
    assert.match(String(reply['message']), /events\.0\.context\.x.*not finite/);
  });
});
