// The decision ledger through the API, on the real Postgres and Redis: what
// each evaluation stores (params as redacted, context, tags, the cost the
// budget used), the report filled once, and the spend the log sums to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let n = 0;
const key = () => `l-${++n}`;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

async function tenantWith(policy: Record<string, unknown>): Promise<TenantKeys> {
  const t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, ...policy });
  return t;
}

async function row(id: string) {
  const [r] = await h.rt.sql`SELECT * FROM decisions WHERE id = ${id}`;
  return r!;
}

describe('what each evaluation stores', () => {
  it('allow, modify, deny and require_approval keep params (redacted when anything was found), context, tags and the session and run', async () => {
    const t = await tenantWith({
      guards: { sensitive_data: { on_finding: 'redact', per_detector: { credit_card: 'deny' } } },
      rules: [{ name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' }],
    });
    const context = { session_id: 's-1', run_id: 7, user: 'u' };
    const allow = await h.call('POST', '/v1/check', t.agent, { action: 'read.x', agent_id: 'bot', params: { q: 'weather' }, context, tags: ['search', 'team:growth'] });
    const modify = await h.call('POST', '/v1/guard', t.agent, { action: 'notes.save', agent_id: 'bot', params: { note: 'mail jane@example.com' }, context, idempotency_key: key(), tags: ['notes'] });
    const deny = await h.call('POST', '/v1/check', t.agent, { action: 'chat.send', agent_id: 'bot', params: { text: 'card 4111 1111 1111 1111' }, context });
    const ask = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.send', agent_id: 'bot', params: { amount: 5 }, context, idempotency_key: key(), tags: ['pay'] });
    expect([allow.body.decision, modify.body.status, deny.body.decision, ask.status]).toEqual(['allow', 'allowed', 'deny', 202]);

    const a = await row(allow.body.decision_id);
    expect(a).toMatchObject({ decision: 'allow', params: { q: 'weather' }, context, tags: ['search', 'team:growth'], session_id: 's-1', run_id: '7' });
    const m = await row(modify.body.decision_id);
    expect(m).toMatchObject({ decision: 'modify', params: { note: 'mail [REDACTED:email]' }, tags: ['notes'] });
    const d = await row(deny.body.decision_id);
    expect(d.decision).toBe('deny');
    expect(d.redacted_paths).toEqual(['params.text']);
    // A deny on a card number never stores the card number.
    expect(JSON.stringify(d)).not.toContain('4111');
    expect(d.params).toEqual({ text: expect.stringContaining('[REDACTED:') });
    const q = await row(ask.body.decision_id);
    expect(q).toMatchObject({ decision: 'require_approval', approval_id: ask.body.approval.id, params: { amount: 5 }, tags: ['pay'] });
    expect(q.tags).toEqual(['pay']);

    // The log shows the same columns to an approver.
    const log = await h.call('GET', '/v1/decisions?tag=team:growth', t.approver);
    expect(log.body.data).toHaveLength(1);
    expect(log.body.data[0]).toMatchObject({ id: allow.body.decision_id, params: { q: 'weather' }, context, tags: ['search', 'team:growth'], session_id: 's-1', run_id: '7' });
  });

  it('tags are bounded labels: at most 20, each 1–64 safe characters, duplicates dropped', async () => {
    const t = await tenantWith({});
    const body = (tags: unknown) => ({ action: 'read.x', agent_id: 'bot', tags });
    for (const bad of [Array.from({ length: 21 }, (_, i) => `t${i}`), [''], ['x'.repeat(65)], ['=cmd()'], ['a b'], ['é'], [3]]) {
      const r = await h.call('POST', '/v1/check', t.agent, body(bad));
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    const ok = await h.call('POST', '/v1/check', t.agent, body(['a', 'a', 'x'.repeat(64), 'k:v/w.z-1_']));
    expect(ok.status).toBe(200);
    expect((await row(ok.body.decision_id)).tags).toEqual(['a', 'x'.repeat(64), 'k:v/w.z-1_']);
  });

  it('tags are never a policy input: a rule on tags matches nothing', async () => {
    const t = await tenantWith({
      defaults: { decision: 'deny' },
      rules: [{ name: 'trusted-tag', match: { action: '*', when: { 'tags.0': { eq: 'trusted' } } }, decision: 'allow' }],
    });
    const r = await h.call('POST', '/v1/check', t.agent, { action: 'pay.send', agent_id: 'bot', tags: ['trusted'] });
    expect(r.body.decision).toBe('deny');
  });

  it('a session or run id longer than 200 characters is stored hashed, and usage finds it by the full id', async () => {
    const t = await tenantWith({});
    const long = 's'.repeat(5_000);
    const r = await h.call('POST', '/v1/check', t.agent, { action: 'read.x', agent_id: 'bot', context: { session_id: long } });
    expect(r.status).toBe(200);
    expect((await row(r.body.decision_id)).session_id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const u = await h.call('GET', `/v1/usage?agent_id=bot&session_id=${long}`, t.agent);
    expect(u.body.session).toMatchObject({ calls: 1 });
  });
});

describe('cost and reports', () => {
  it('stores the cost-table cost the budget guard used, and the log sums to the spend counters', async () => {
    const t = await tenantWith({ guards: { budget: { cost_table: { 'llm.*': 0.25, 'llm.big': 2 }, per_agent: { day: 100 } } } });
    const ids: string[] = [];
    for (const action of ['llm.small', 'llm.big', 'llm.small']) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot', idempotency_key: key() });
      ids.push(r.body.decision_id);
    }
    const explicit = await h.call('POST', '/v1/guard', t.agent, { action: 'llm.small', agent_id: 'bot', idempotency_key: key(), cost_usd: 0.4 });
    ids.push(explicit.body.decision_id);
    const costs = await Promise.all(ids.map(async (id) => Number((await row(id)).cost_usd)));
    expect(costs).toEqual([0.25, 2, 0.25, 0.4]); // a declared cost above the table's is the cost
    // Two reported (one at its actual cost), two still held.
    await h.call('POST', '/v1/report', t.agent, { decision_id: ids[0], status: 'completed' });
    await h.call('POST', '/v1/report', t.agent, { decision_id: ids[1], status: 'completed', cost_usd: 1.5 });
    const usage = await h.call('GET', '/v1/usage?agent_id=bot', t.agent);
    const counters = usage.body.budgets[0].spent_usd;
    expect(counters).toBeCloseTo(0.25 + 1.5 + 0.25 + 0.4, 9);
    const [sum] = await h.rt.sql`SELECT sum(COALESCE(report_cost_usd, cost_usd))::float8 AS total FROM decisions WHERE tenant_id = ${t.tenant_id}`;
    expect(sum!.total).toBeCloseTo(counters, 9);
    const agg = usage.body.actions;
    expect(agg.spent_usd + agg.held_usd).toBeCloseTo(counters, 9);
  });

  it('a report fills result, cost and duration once; a second is refused and the row is unchanged', async () => {
    const t = await tenantWith({});
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'read.x', agent_id: 'bot', idempotency_key: key() });
    const first = await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'completed', result: { rows: 3 }, duration_ms: 120, cost_usd: 0.02 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ report_status: 'completed', report_result: { rows: 3 }, report_duration_ms: 120, report_cost_usd: 0.02 });
    const again = await h.call('POST', '/v1/report', t.agent, { decision_id: g.body.decision_id, status: 'failed', duration_ms: 1 });
    expect(again.status).toBe(409);
    expect(await row(g.body.decision_id)).toMatchObject({ report_status: 'completed', report_duration_ms: 120 });
    // The table itself refuses a rewrite of the ledger columns.
    await expect(h.rt.sql`UPDATE decisions SET tags = '{forged}' WHERE id = ${g.body.decision_id}`).rejects.toThrow(/append-only/);
  });

  it("an approval's complete fills its decision's report: result, cost and duration", async () => {
    const t = await tenantWith({ rules: [{ name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' }] });
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.send', agent_id: 'bot', idempotency_key: key() });
    const id = g.body.approval.id;
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const c = await h.call('POST', `/v1/approvals/${id}/claim`, t.agent, {});
    await h.call('POST', `/v1/approvals/${id}/complete`, t.agent, { claim_token: c.body.claim_token, result: { paid: true }, cost_usd: 3, duration_ms: 900 });
    expect(await row(g.body.decision_id)).toMatchObject({ report_status: 'completed', report_result: { paid: true }, report_duration_ms: 900 });
    expect(Number((await row(g.body.decision_id)).report_cost_usd)).toBe(3);
  });
});

describe('GET /v1/usage from the ledger', () => {
  it('sums a session and a run: calls, outcomes, spent and held cost; the budgets include the session bucket', async () => {
    const t = await tenantWith({
      guards: { budget: { cost_table: { 'llm.*': 1 }, per_agent: { session: 50, day: 100 } } },
      rules: [
        { name: 'no-drop', match: { action: 'db.drop' }, decision: 'deny' },
        { name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' },
      ],
    });
    const call = (action: string, context: Record<string, unknown>) =>
      h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot', context, idempotency_key: key() });
    const a = await call('llm.chat', { session_id: 'S', run_id: 'R1' });
    await call('llm.chat', { session_id: 'S', run_id: 'R1' });
    await call('db.drop', { session_id: 'S', run_id: 'R1' });
    await call('pay.send', { session_id: 'S', run_id: 'R2' });
    await call('llm.chat', { session_id: 'other', run_id: 'R2' });
    await h.call('POST', '/v1/report', t.agent, { decision_id: a.body.decision_id, status: 'completed', cost_usd: 0.4 });

    const s = await h.call('GET', '/v1/usage?agent_id=bot&session_id=S', t.agent);
    expect(s.status).toBe(200);
    expect(s.body.session).toMatchObject({ session_id: 'S', calls: 4, allowed: 2, denied: 1, approvals: 1, spent_usd: 0.4, held_usd: 1 });
    // The Redis counters agree: the session bucket holds the reported 0.4 and the held 1.
    expect(s.body.budgets.find((b: { scope: string }) => b.scope === 'agent bot session S')).toEqual({ scope: 'agent bot session S', spent_usd: 1.4, limit_usd: 50 });

    const r1 = await h.call('GET', '/v1/usage?run_id=R1', t.approver);
    expect(r1.body.run).toMatchObject({ run_id: 'R1', calls: 3, allowed: 2, denied: 1, approvals: 0, spent_usd: 0.4, held_usd: 1 });
    const r2 = await h.call('GET', '/v1/usage?run_id=R2', t.approver);
    expect(r2.body.run).toMatchObject({ calls: 2, approvals: 1, held_usd: 1 });
    expect(r2.body.session).toBeUndefined();
  });

  it('per-action totals over a period: calls, allowed / denied / approval counts and cost; a rejected approval costs nothing', async () => {
    const t = await tenantWith({
      guards: { budget: { cost_table: { 'pay.*': 2, 'llm.*': 0.5 }, per_tenant: { day: 1000 } } },
      rules: [
        { name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' },
        { name: 'no-big', match: { action: 'llm.*', when: { 'params.tokens': { gt: 1000 } } }, decision: 'deny' },
      ],
    });
    const g = (action: string, params: Record<string, unknown> = {}) => h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot', params, idempotency_key: key() });
    await g('llm.chat');
    await g('llm.chat');
    await g('llm.chat', { tokens: 5000 });
    const p1 = await g('pay.send');
    const p2 = await g('pay.send');
    await h.call('POST', `/v1/approvals/${p2.body.approval.id}/decision`, await h.as(t, 'alice'), { decision: 'reject' });
    const u = await h.call('GET', '/v1/usage', t.approver);
    expect(u.status).toBe(200);
    expect(u.body.actions.by_action).toEqual([
      { action: 'llm.chat', calls: 3, allowed: 2, denied: 1, approvals: 0, spent_usd: 0, held_usd: 1 },
      { action: 'pay.send', calls: 2, allowed: 0, denied: 0, approvals: 2, spent_usd: 0, held_usd: 2 },
    ]);
    expect(u.body.actions).toMatchObject({ calls: 5, allowed: 2, denied: 1, approvals: 2, held_usd: 3, truncated: false });
    expect(p1.status).toBe(202);
    // A period that excludes today has nothing; a backwards one is refused.
    const past = await h.call('GET', '/v1/usage?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z', t.approver);
    expect(past.body.actions).toMatchObject({ calls: 0, by_action: [] });
    expect((await h.call('GET', '/v1/usage?since=2020-01-02T00:00:00Z&until=2020-01-01T00:00:00Z', t.approver)).status).toBe(400);
    expect((await h.call('GET', '/v1/usage?since=2020-01-01T00:00:00Z&until=2022-01-01T00:00:00Z', t.approver)).status).toBe(400);
  });

  it('with only until, the period is the UTC day before it', async () => {
    const t = await tenantWith({});
    const day = new Date(Date.UTC(2026, 5, 10));
    for (const at of ['2026-06-09T23:59:59Z', '2026-06-10T08:00:00Z', '2026-06-10T23:59:59Z', '2026-06-11T00:00:00Z']) {
      await h.rt.sql`INSERT INTO decisions (id, tenant_id, kind, action, agent_id, decision, reasons, created_at)
                     VALUES (gen_random_uuid(), ${t.tenant_id}, 'check', 'old.x', 'bot', 'allow', '[]'::jsonb, ${new Date(at)})`;
    }
    const u = await h.call('GET', '/v1/usage?until=2026-06-11T00:00:00Z', t.approver);
    expect(u.body.actions).toMatchObject({ since: day.toISOString(), until: '2026-06-11T00:00:00.000Z', calls: 2 });
  });

  it('usage is per tenant: another tenant sees none of it', async () => {
    const t = await tenantWith({});
    await h.call('POST', '/v1/check', t.agent, { action: 'secret.x', agent_id: 'bot', context: { session_id: 'shared' } });
    const other = await tenantWith({});
    const u = await h.call('GET', '/v1/usage?session_id=shared', other.approver);
    expect(u.body.session).toMatchObject({ calls: 0 });
    expect(u.body.actions.by_action).toEqual([]);
  });
});
