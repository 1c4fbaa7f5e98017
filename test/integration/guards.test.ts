// The stateful guards through the API, against the real Redis: budgets under
// concurrency, windows that roll over, loops stopped, secrets redacted, and
// what happens when the counters cannot be reached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { runCli, startRedis } from '../helpers/processes.ts';

let h: Harness;
let n = 0;
const key = () => `g-${++n}`;

beforeAll(async () => {
  h = await createHarness({ workers: true });
});
afterAll(() => h.close());

async function tenantWith(guards: unknown, extra: Record<string, unknown> = {}): Promise<TenantKeys> {
  const t = await h.tenant();
  await h.setPolicy(t, { defaults: { decision: 'allow' }, guards, ...extra });
  return t;
}

const check = (t: TenantKeys, body: Record<string, unknown>) => h.call('POST', '/v1/check', t.agent, { agent_id: 'bot', params: {}, ...body });

describe('budget', () => {
  it('50 concurrent calls from two agents never overspend the tenant budget, and reports turn reservations into spend', async () => {
    const t = await tenantWith({ budget: { cost_table: { 'pay.*': 1 }, per_tenant: { day: 10 } } });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => h.call('POST', '/v1/guard', t.agent, { action: 'pay.send', agent_id: i % 2 ? 'a' : 'b', idempotency_key: key() })),
    );
    const allowed = results.filter((r) => r.body.status === 'allowed');
    expect(allowed).toHaveLength(10);
    expect(results.filter((r) => r.body.status === 'denied').every((r) => JSON.stringify(r.body.reasons).includes('budget'))).toBe(true);
    for (const r of allowed) {
      expect((await h.call('POST', '/v1/report', t.agent, { decision_id: r.body.decision_id, status: 'completed', cost_usd: 0.5 })).status).toBe(200);
    }
    const usage = await h.call('GET', '/v1/usage?agent_id=a', t.agent);
    expect(usage.body.budgets).toEqual([{ scope: 'tenant day', spent_usd: 5, limit_usd: 10 }]);
  });

  it('per_agent.session denies the call that would pass the session limit; a new session starts empty', async () => {
    const t = await tenantWith({ budget: { cost_table: { 'llm.*': 2 }, per_agent: { session: 5 } } });
    const call = (session: string) => h.call('POST', '/v1/guard', t.agent, { action: 'llm.chat', agent_id: 'bot', idempotency_key: key(), context: { session_id: session } });
    expect((await call('s-1')).body.status).toBe('allowed');
    expect((await call('s-1')).body.status).toBe('allowed');
    const third = await call('s-1');
    expect(third.body.status).toBe('denied');
    expect(JSON.stringify(third.body.reasons)).toContain('budget exceeded: agent bot session s-1 4.00 + 2.00 > 5');
    expect((await call('s-2')).body.status).toBe('allowed');
  });

  it('a rejected approval costs nothing', async () => {
    const t = await tenantWith(
      { budget: { cost_table: { 'pay.*': 4 }, per_agent: { day: 10 } } },
      { rules: [{ name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' }] },
    );
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.send', agent_id: 'bot', idempotency_key: key() });
    expect(g.status).toBe(202);
    const before = await h.call('GET', '/v1/usage?agent_id=bot', t.agent);
    expect(before.body.budgets[0].spent_usd).toBe(4); // held while a human decides
    await h.call('POST', `/v1/approvals/${g.body.approval.id}/decision`, await h.as(t, 'alice'), { decision: 'reject' });
    const after = await h.call('GET', '/v1/usage?agent_id=bot', t.agent);
    expect(after.body.budgets[0].spent_usd).toBe(0);
  });
});

describe('approved actions', () => {
  it('complete records the actual cost and duration on the audit trail and spends that cost', async () => {
    const t = await tenantWith(
      { budget: { cost_table: { 'pay.*': 3 }, per_agent: { day: 10 } } },
      { rules: [{ name: 'ask', match: { action: 'pay.*' }, decision: 'require_approval' }] },
    );
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.send', agent_id: 'bot', idempotency_key: key() });
    const id = g.body.approval.id;
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const c = await h.call('POST', `/v1/approvals/${id}/claim`, t.agent, {});
    await h.call('POST', `/v1/approvals/${id}/complete`, t.agent, { claim_token: c.body.claim_token, result: { ok: true }, cost_usd: 2.25, duration_ms: 840 });
    const ev = await h.call('GET', `/v1/approvals/${id}/events`, t.agent);
    expect(ev.body.events.at(-1)).toMatchObject({ type: 'completed', data: { result: { ok: true }, cost_usd: 2.25, duration_ms: 840 } });
    const usage = await h.call('GET', '/v1/usage?agent_id=bot', t.agent);
    expect(usage.body.budgets[0].spent_usd).toBe(2.25);
  });
});

describe('rate limits', () => {
  it('a burst is stopped, cools down, and the window rolls over', async () => {
    const t = await tenantWith({ rate_limit: { burst: { max: 2, window_seconds: 1, cooldown_seconds: 1 } } });
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push((await check(t, { action: 'read.x' })).body.decision);
    expect(decisions).toEqual(['allow', 'allow', 'deny']);
    expect((await check(t, { action: 'read.x' })).body.decision).toBe('deny'); // cooling down
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await check(t, { action: 'read.x' })).body.decision).toBe('allow');
  });

  it('an agent stuck in a loop is stopped at the identical-call limit; other params still pass', async () => {
    const t = await tenantWith({ rate_limit: { max_identical_calls: { count: 3, window_seconds: 300 } } });
    const same = [];
    for (let i = 0; i < 4; i++) same.push((await check(t, { action: 'email.send', params: { to: 'x' } })).body.decision);
    expect(same).toEqual(['allow', 'allow', 'allow', 'deny']);
    expect((await check(t, { action: 'email.send', params: { to: 'y' } })).body.decision).toBe('allow');
  });
});

describe('sensitive data', () => {
  it('redacts an email (MODIFY): the answer, the decision log and the approval never hold it', async () => {
    const t = await tenantWith(
      { sensitive_data: { on_finding: 'redact' } },
      { rules: [{ name: 'ask', match: { action: 'crm.*' }, decision: 'require_approval' }] },
    );
    const c = await check(t, { action: 'notes.save', params: { note: 'mail jane@example.com today' } });
    expect(c.body.decision).toBe('modify');
    expect(c.body.params.note).toBe('mail [REDACTED:email] today');
    expect(JSON.stringify(c.body)).not.toContain('jane@example.com');
    const g = await h.call('POST', '/v1/guard', t.agent, { action: 'crm.update', agent_id: 'bot', params: { contact: { email: 'jane@example.com' } }, idempotency_key: key() });
    expect(g.status).toBe(202);
    expect(JSON.stringify(g.body)).not.toContain('jane@example.com');
    const [row] = await h.rt.sql`SELECT params FROM approvals WHERE id = ${g.body.approval.id}`;
    expect(JSON.stringify(row)).not.toContain('jane@example.com');
    const log = await h.call('GET', '/v1/decisions?decision=modify', t.approver);
    expect(log.body.data[0].redacted_paths).toEqual(['params.note']);
  });

  it('a credit card number can be denied outright', async () => {
    const t = await tenantWith({ sensitive_data: { per_detector: { credit_card: 'deny' } } });
    const c = await check(t, { action: 'chat.send', params: { text: 'card 4111 1111 1111 1111' } });
    expect(c.body.decision).toBe('deny');
    expect(JSON.stringify(c.body)).not.toContain('4111 1111 1111 1111');
  });
});

describe('scope', () => {
  it('a read-only agent may only read', async () => {
    const t = await tenantWith({ scope: { agents: { 'support-bot': { read_only: true } } } });
    expect((await check(t, { action: 'tickets.get', agent_id: 'support-bot' })).body.decision).toBe('allow');
    expect((await check(t, { action: 'tickets.delete', agent_id: 'support-bot' })).body.decision).toBe('deny');
    expect((await check(t, { action: 'tickets.delete', agent_id: 'ops-bot' })).body.decision).toBe('allow');
  });
});

describe('the decision log', () => {
  it('lists every evaluation with filters and a cursor', async () => {
    const t = await tenantWith({});
    for (let i = 0; i < 5; i++) await check(t, { action: i % 2 ? 'a.x' : 'b.x', agent_id: 'logger' });
    const all = await h.call('GET', '/v1/decisions?agent_id=logger&limit=2', t.approver);
    expect(all.body.data).toHaveLength(2);
    const next = await h.call('GET', `/v1/decisions?agent_id=logger&limit=10&cursor=${all.body.next_cursor}`, t.approver);
    expect(next.body.data).toHaveLength(3);
    const only = await h.call('GET', '/v1/decisions?action=a.x', t.approver);
    expect(only.body.data.map((d: { action: string }) => d.action)).toEqual(['a.x', 'a.x']);
    expect((await h.call('GET', '/v1/decisions?decision=maybe', t.approver)).status).toBe(400);
    const forged = Buffer.from('2026-01-01T00:00:00.000Z|not-a-uuid').toString('base64url');
    const bad = await h.call('GET', `/v1/decisions?cursor=${forged}`, t.approver);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
  });
});

describe('counters unreachable', () => {
  it('denies when Redis is down (fail closed), and lets through saying so with fail_mode: open', async () => {
    const redis = await startRedis();
    const own = await createHarness({ env: { REDIS_URL: redis.url } });
    try {
      const guards = { rate_limit: { per_agent: { per_minute: 100 } } };
      const closed = await own.tenant();
      await own.setPolicy(closed, { defaults: { decision: 'allow' }, guards });
      const open = await own.tenant();
      await own.setPolicy(open, { defaults: { decision: 'allow' }, fail_mode: 'open', guards });
      expect((await own.call('POST', '/v1/check', closed.agent, { action: 'x' })).body.decision).toBe('allow');
      await redis.stop();
      const denied = await own.call('POST', '/v1/check', closed.agent, { action: 'x' });
      expect(denied.body.decision).toBe('deny');
      expect(JSON.stringify(denied.body.reasons)).toMatch(/fail closed/);
      const through = await own.call('POST', '/v1/check', open.agent, { action: 'x' });
      expect(through.body).toMatchObject({ decision: 'allow', failed_open: true });
    } finally {
      await own.close();
      await redis.stop();
    }
  });
});

describe('dry runs', () => {
  it('POST /v1/policy/test evaluates a draft without saving it or counting the call', async () => {
    const t = await tenantWith({ rate_limit: { per_agent: { per_minute: 1 } } });
    const draft = { defaults: { decision: 'allow' }, rules: [{ name: 'no-pay', match: { action: 'pay.*' }, decision: 'deny', reason: 'not today' }] };
    const r = await h.call('POST', '/v1/policy/test', t.admin, { policy: draft, request: { action: 'pay.send' } });
    expect(r.body).toMatchObject({ decision: 'deny', dry_run: true, policy_version: null });
    const bad = await h.call('POST', '/v1/policy/test', t.admin, { policy: { rules: [{ name: 'x', decision: 'maybe' }] }, request: { action: 'a' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.problems[0].path).toBe('rules.0.decision');
    // Against the active policy: two dry runs use none of the one call a minute.
    for (let i = 0; i < 2; i++) expect((await h.call('POST', '/v1/policy/test', t.admin, { request: { action: 'a', agent_id: 'bot' } })).body.decision).toBe('allow');
    expect((await check(t, { action: 'a' })).body.decision).toBe('allow');
    expect((await check(t, { action: 'a' })).body.decision).toBe('deny');
    expect((await h.call('GET', '/v1/policy', t.admin)).body.document.rules).toEqual([]);
  });

  it('holdpoint policy test evaluates a request against a policy file', async () => {
    const { writeFile } = await import('node:fs/promises');
    const file = `/tmp/hp-policy-${process.pid}.yaml`;
    await writeFile(file, 'defaults: { decision: allow }\nguards:\n  sensitive_data: { on_finding: redact }\n');
    const r = await runCli(['policy', 'test', file, '{"action":"notes.save","params":{"note":"call +14155552671"}}'], {});
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { decision: string; params: { note: string } };
    expect(out.decision).toBe('modify');
    expect(out.params.note).toBe('call [REDACTED:phone]');
    const bad = await runCli(['policy', 'test', file, 'not json'], {});
    expect(bad.code).toBe(2);
  });
});
