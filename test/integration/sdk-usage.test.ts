// hp.usage() against the real app on a loopback port: what guarded calls cost
// shows up for their session and their run — spent once reported, held while
// not — both in the ledger's totals and in the budget buckets the guard counts
// against (AgentSentinel's CostTracker session / run totals, kept by the server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Holdpoint, InvalidRequest } from '../../src/sdk/index.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let base: string;
let n = 0;
const key = () => `usage-${++n}`;

beforeAll(async () => {
  h = await createHarness({ workers: true });
  t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, guards: { budget: { cost_table: { 'llm.*': 1 }, per_agent: { session: 10, run: 20 } } } });
  base = await h.listen();
});
afterAll(() => h.close());

describe('usage', () => {
  it('spend from guarded calls shows up for their run and their session, reported as spent and unreported as held', async () => {
    const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, agentId: 'bot', retryDelayMs: 10 });
    const ctx = (session: string) => ({ context: { session_id: session, run_id: 'R1' } });
    // Session S1: one call at the table's $1, one declared at $2 that really cost $1.50, one let through and not reported yet.
    expect(await hp.withGuard('llm.chat', { idempotencyKey: key(), ...ctx('S1') }, () => 'hi')).toBe('hi');
    const p = await hp.guard('llm.chat', { idempotencyKey: key(), costUsd: 2, ...ctx('S1') });
    await p.complete({ ok: true }, { costUsd: 1.5 });
    await hp.guard('llm.chat', { idempotencyKey: key(), ...ctx('S1') });
    // Session S2, same run: $1, reported.
    await hp.withGuard('llm.chat', { idempotencyKey: key(), ...ctx('S2') }, () => 'again');

    const u = await hp.usage({ agentId: 'bot', sessionId: 'S1', runId: 'R1' });
    expect(u.agent_id).toBe('bot');
    expect(u.session).toMatchObject({ session_id: 'S1', calls: 3, allowed: 3, denied: 0, spent_usd: 2.5, held_usd: 1 });
    expect(u.run).toMatchObject({ run_id: 'R1', calls: 4, allowed: 4, spent_usd: 3.5, held_usd: 1 });
    expect(u.session!.first_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The guard's counters: what was spent plus what is still reserved.
    expect(u.budgets).toEqual([
      { scope: 'agent bot session S1', spent_usd: 3.5, limit_usd: 10 },
      { scope: 'agent bot run R1', spent_usd: 4.5, limit_usd: 20 },
    ]);
    expect(u.actions.by_action).toEqual([{ action: 'llm.chat', calls: 4, allowed: 4, denied: 0, approvals: 0, spent_usd: 3.5, held_usd: 1 }]);

    const other = await hp.usage({ agentId: 'bot', sessionId: 'S2' });
    expect(other.session).toMatchObject({ session_id: 'S2', calls: 1, spent_usd: 1, held_usd: 0 });
    expect(other.run).toBeUndefined();
  });

  it('a period with nothing in it sums to nothing, and since/until accept Dates', async () => {
    const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, retryDelayMs: 10 });
    const u = await hp.usage({ since: new Date('2020-01-01T00:00:00Z'), until: '2020-01-02T00:00:00Z' });
    expect(u.agent_id).toBeNull();
    expect(u.rate).toBeNull();
    expect(u.actions).toMatchObject({ since: '2020-01-01T00:00:00.000Z', until: '2020-01-02T00:00:00.000Z', calls: 0, spent_usd: 0, by_action: [], truncated: false });
  });

  it('an option the server would refuse is InvalidRequest before anything is sent', async () => {
    let sent = 0;
    const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, fetch: (i, init) => (sent++, fetch(i, init)) });
    await expect(hp.usage({ since: 'yesterday' })).rejects.toBeInstanceOf(InvalidRequest);
    await expect(hp.usage({ sessionId: '' })).rejects.toBeInstanceOf(InvalidRequest);
    await expect(hp.usage({ session: 'S1' } as never)).rejects.toThrow(/no option session/);
    expect(sent).toBe(0);
  });

  it("answers the server's own refusal of a period past 366 days", async () => {
    const hp = new Holdpoint({ baseUrl: base, apiKey: t.agent, retryDelayMs: 10 });
    await expect(hp.usage({ since: '2020-01-01T00:00:00Z', until: '2022-01-01T00:00:00Z' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
