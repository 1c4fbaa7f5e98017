// Issue 13's guards through the API against the real Postgres and Redis:
// daily counts, cooldowns, purchases and deletions under concurrency, what a
// rejected approval and a report do to a purchase's day, what a failed
// request takes back, and GET /v1/usage beside the new budget buckets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let n = 0;
const key = () => `i13-${++n}`;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

async function tenantWith(guards: unknown, extra: Record<string, unknown> = {}): Promise<TenantKeys> {
  const t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, guards, ...extra });
  return t;
}

const guard = (t: TenantKeys, body: Record<string, unknown>) => h.call('POST', '/v1/guard', t.agent, { agent_id: 'bot', params: {}, idempotency_key: key(), ...body });
const check = (t: TenantKeys, body: Record<string, unknown>) => h.call('POST', '/v1/check', t.agent, { agent_id: 'bot', params: {}, ...body });
const statuses = (rs: { body: { status: string } }[]) => rs.map((r) => r.body.status).sort();
const count = (xs: string[], x: string) => xs.filter((s) => s === x).length;

describe('purchases', () => {
  it('20 concurrent purchases with daily_count 10: exactly 10 go ahead, the rest are denied by the purchase guard', async () => {
    const t = await tenantWith({ purchase: [{ actions: ['purchase.*'], amount_path: 'params.amount', daily_count: 10 }] });
    const rs = await Promise.all(Array.from({ length: 20 }, () => guard(t, { action: 'purchase.order', params: { amount: 1 } })));
    const s = statuses(rs);
    expect(count(s, 'allowed')).toBe(10);
    expect(count(s, 'denied')).toBe(10);
    for (const r of rs.filter((x) => x.body.status === 'denied')) expect(r.body.reasons.some((x: { guard?: string }) => x.guard === 'purchase')).toBe(true);
    // The day is full for this agent; another agent has its own count.
    expect((await guard(t, { action: 'purchase.order', params: { amount: 1 } })).body.status).toBe('denied');
    expect((await guard(t, { action: 'purchase.order', agent_id: 'other', params: { amount: 1 } })).body.status).toBe('allowed');
  });

  it('20 concurrent purchases of 10 against daily_total 55: exactly 5 go ahead', async () => {
    const t = await tenantWith({ purchase: [{ actions: ['buy_*'], amount_path: 'params.amount', daily_total: 55 }] });
    const rs = await Promise.all(Array.from({ length: 20 }, () => guard(t, { action: 'buy_item', params: { amount: '10' } })));
    expect(count(statuses(rs), 'allowed')).toBe(5);
  });

  it('a rejected approval releases its amount from the day total; a completed purchase counts its amount, not the reported cost', async () => {
    const t = await tenantWith({
      purchase: [{ actions: ['purchase.*'], amount_path: 'params.amount', require_approval_above: 50, daily_total: 100 }],
    });
    const big = await guard(t, { action: 'purchase.order', params: { amount: 80 } });
    expect(big.status).toBe(202);
    // Held while a human decides: 80 + 30 would pass 100.
    const blocked = await guard(t, { action: 'purchase.order', params: { amount: 30 } });
    expect(blocked.body.status).toBe('denied');
    expect(JSON.stringify(blocked.body.reasons)).toContain('daily_total 100');
    await h.call('POST', `/v1/approvals/${big.body.approval.id}/decision`, await h.as(t, 'alice'), { decision: 'reject' });
    const after = await guard(t, { action: 'purchase.order', params: { amount: 30 } });
    expect(after.body.status).toBe('allowed');
    // Reported done with a tiny cost: the purchase still counts its 30.
    expect((await h.call('POST', '/v1/report', t.agent, { decision_id: after.body.decision_id, status: 'completed', cost_usd: 0.01 })).status).toBe(200);
    expect((await guard(t, { action: 'purchase.order', params: { amount: 71 } })).body.status).toBe('denied');
    expect((await guard(t, { action: 'purchase.order', params: { amount: 50 } })).body.status).toBe('allowed');
  });

  it('a purchase reported failed frees its amount', async () => {
    const t = await tenantWith({ purchase: [{ actions: ['purchase.*'], amount_path: 'params.amount', daily_total: 10 }] });
    const a = await guard(t, { action: 'purchase.order', params: { amount: 10 } });
    expect(a.body.status).toBe('allowed');
    expect((await guard(t, { action: 'purchase.order', params: { amount: 1 } })).body.status).toBe('denied');
    await h.call('POST', '/v1/report', t.agent, { decision_id: a.body.decision_id, status: 'failed' });
    expect((await guard(t, { action: 'purchase.order', params: { amount: 10 } })).body.status).toBe('allowed');
  });

  it('an amount that is not a plain number is denied through /v1/check, naming the path and not the value', async () => {
    const t = await tenantWith({ purchase: [{ actions: ['purchase.*'], amount_path: 'params.amount', max_single: 100 }] });
    const r = await check(t, { action: 'purchase.order', params: { amount: '5,000,000' } });
    expect(r.body.decision).toBe('deny');
    expect(r.body.reasons).toContainEqual(expect.objectContaining({ source: 'guard', guard: 'purchase', message: 'purchase: params.amount is not a plain number' }));
    expect(JSON.stringify(r.body.reasons)).not.toContain('5,000,000');
  });
});

describe('rate_limit counts and cooldowns', () => {
  it('20 concurrent calls with daily max 10: exactly 10 go ahead; with on_limit require_approval the other 10 wait for a human', async () => {
    const deny = await tenantWith({ rate_limit: { daily: [{ action: 'sms.*', max: 10 }] } });
    const a = await Promise.all(Array.from({ length: 20 }, () => guard(deny, { action: 'sms.send' })));
    expect(count(statuses(a), 'allowed')).toBe(10);
    expect(count(statuses(a), 'denied')).toBe(10);

    const ask = await tenantWith({ rate_limit: { daily: [{ action: 'sms.*', max: 10 }], on_limit: 'require_approval' } });
    const b = await Promise.all(Array.from({ length: 20 }, () => guard(ask, { action: 'sms.send' })));
    expect(count(statuses(b), 'allowed')).toBe(10);
    expect(count(statuses(b), 'pending')).toBe(10);
  });

  it('per_session counts every action of a session, and another session starts again', async () => {
    const t = await tenantWith({ rate_limit: { per_session: { max: 2 } } });
    const s1 = { session_id: 's1' };
    expect((await check(t, { action: 'a.x', context: s1 })).body.decision).toBe('allow');
    expect((await check(t, { action: 'b.y', context: s1 })).body.decision).toBe('allow');
    const third = await check(t, { action: 'c.z', context: s1 });
    expect(third.body.decision).toBe('deny');
    expect(third.body.reasons[0]).toMatchObject({ guard: 'rate_limit' });
    expect((await check(t, { action: 'c.z', context: { session_id: 's2' } })).body.decision).toBe('allow');
  });

  it('of 10 concurrent calls inside one cooldown exactly one goes ahead', async () => {
    const t = await tenantWith({ rate_limit: { cooldowns: [{ action: 'email.send', seconds: 600 }] } });
    const rs = await Promise.all(Array.from({ length: 10 }, () => guard(t, { action: 'email.send' })));
    expect(count(statuses(rs), 'allowed')).toBe(1);
    // Another action has its own cooldown.
    expect((await guard(t, { action: 'email.draft' })).body.status).toBe('allowed');
  });

  it('a request refused after evaluation takes back its count and its cooldown', async () => {
    const t = await tenantWith({ rate_limit: { daily: [{ action: '*', max: 1, per: 'tenant' }], cooldowns: [{ action: 'x.run', seconds: 600, per: 'tenant' }] } });
    await h.as(t, 'alice');
    // An agent named like an approver is refused once evaluated (409/422): it leaves no decision.
    for (let i = 0; i < 3; i++) expect((await guard(t, { action: 'x.run', agent_id: 'alice' })).status).toBeGreaterThanOrEqual(400);
    expect((await guard(t, { action: 'x.run' })).body.status).toBe('allowed');
    expect((await guard(t, { action: 'x.run' })).body.status).toBe('denied');
  });
});

describe('deletions', () => {
  const del = { actions: ['*.delete'], resource_path: 'params.id', protected: ['inbox'], deny_patterns: ['*_production'], max_bulk_delete: 5, max_per_day: 6 };

  it('protected names, denied patterns and oversized bulk deletes are denied; max_per_day counts resources', async () => {
    const t = await tenantWith({ deletion: [del] });
    expect((await check(t, { action: 'mail.delete', params: { id: 'INBOX' } })).body.reasons[0]).toMatchObject({ guard: 'deletion', decision: 'deny' });
    expect((await check(t, { action: 'db.delete', params: { id: 'users_production' } })).body.decision).toBe('deny');
    expect((await check(t, { action: 'db.delete', params: { id: ['a', 'b', 'c', 'd', 'e', 'f'] } })).body.decision).toBe('deny');
    expect((await check(t, { action: 'db.delete', params: { id: { $in: ['inbox'] } } })).body.decision).toBe('deny');
    expect((await check(t, { action: 'db.delete', params: { id: ['a', 'b', 'c', 'd', 'e'] } })).body.decision).toBe('allow');
    expect((await check(t, { action: 'db.delete', params: { id: ['f', 'g'] } })).body.decision).toBe('deny');
    expect((await check(t, { action: 'db.delete', params: { id: 'f' } })).body.decision).toBe('allow');
  });

  it('10 concurrent deletions of 2 with max_per_day 10: exactly 5 go ahead', async () => {
    const t = await tenantWith({ deletion: [{ actions: ['*.delete'], resource_path: 'params.id', max_per_day: 10 }] });
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => guard(t, { action: 'file.delete', params: { id: [`a${i}`, `b${i}`] } })));
    expect(count(statuses(rs), 'allowed')).toBe(5);
  });

  it('require_approval_always parks the deletion; rejecting it gives its day count back', async () => {
    const t = await tenantWith({ deletion: [{ actions: ['*.delete'], resource_path: 'params.id', require_approval_always: true, max_per_day: 1 }] });
    const g = await guard(t, { action: 'file.delete', params: { id: 'x' } });
    expect(g.status).toBe(202);
    expect((await guard(t, { action: 'file.delete', params: { id: 'y' } })).body.status).toBe('denied');
    await h.call('POST', `/v1/approvals/${g.body.approval.id}/decision`, await h.as(t, 'alice'), { decision: 'reject' });
    expect((await guard(t, { action: 'file.delete', params: { id: 'y' } })).status).toBe(202);
  });
});

describe('budget additions and usage', () => {
  it('per_action and run buckets hold under concurrency, max_call_cost denies, and GET /v1/usage still answers', async () => {
    const t = await tenantWith({
      budget: { cost_table: { 'llm.*': 1 }, max_call_cost: 5, per_agent: { day: 100, run: 50 }, per_action: { 'llm.*': { day: 4 } } },
    });
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => guard(t, { action: 'llm.chat', agent_id: i % 2 ? 'a' : 'b', context: { run_id: 'r1' } })));
    expect(count(statuses(rs), 'allowed')).toBe(4);
    const big = await check(t, { action: 'pay.x', cost_usd: 6 });
    expect(big.body.decision).toBe('deny');
    expect(big.body.reasons[0]).toMatchObject({ guard: 'budget', message: 'budget: one call may cost at most 5; this one costs 6.00' });
    const usage = await h.call('GET', '/v1/usage?agent_id=a', t.agent);
    expect(usage.status).toBe(200);
    expect(usage.body.budgets).toEqual([{ scope: 'agent a day', spent_usd: expect.any(Number), limit_usd: 100 }]);
  });
});
