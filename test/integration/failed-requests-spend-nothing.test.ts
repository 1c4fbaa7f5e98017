// A request that fails after the policy was evaluated — the insert raised, or
// the request was refused (422) once evaluated — leaves no decision behind, so
// it must not count against a rate limit or hold budget. Each case runs ten
// times and reads GET /v1/usage before and after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let n = 0;
const key = () => `spend-${++n}-${Date.now()}`;

const POLICY = {
  defaults: { decision: 'allow' },
  rules: [{ name: 'review', match: { action: 'pay.review*' }, decision: 'require_approval', reason: 'a human looks' }],
  guards: {
    rate_limit: { per_agent: { per_minute: 1000 } },
    budget: { cost_table: { 'pay.*': 1 }, per_agent: { day: 1000 } },
  },
};

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
  // An honest database failure for chosen actions: the decision insert raises
  // (as a full disk, a constraint added later or a lost connection would).
  await h.rt.sql.unsafe(`
    CREATE FUNCTION test_refuse_broken() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.action LIKE '%.broken' THEN RAISE EXCEPTION 'test: insert refused for %', NEW.action; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_refuse_broken BEFORE INSERT ON decisions FOR EACH ROW EXECUTE FUNCTION test_refuse_broken();
  `);
});

afterAll(async () => {
  await h.close();
});

async function usage() {
  const r = await h.call('GET', '/v1/usage?agent_id=bot', t.agent);
  expect(r.status).toBe(200);
  return { calls: r.body.rate.calls_last_minute as number, spent: r.body.budgets[0].spent_usd as number };
}

describe('failed requests spend nothing', () => {
  it('a guard that would be allowed counts one call and one dollar (the baseline the other cases compare with)', async () => {
    const before = await usage();
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.ok', agent_id: 'bot', idempotency_key: key() });
    expect(r.status).toBe(200);
    expect(await usage()).toEqual({ calls: before.calls + 1, spent: before.spent + 1 });
  });

  it('ten guards whose decision insert fails (500) leave the rate-limit window and the budget unchanged', async () => {
    const before = await usage();
    for (let i = 0; i < 10; i++) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.broken', agent_id: 'bot', idempotency_key: key() });
      expect(r.status).toBe(500);
    }
    expect(await usage()).toEqual(before);
  });

  it('ten guards whose approval insert fails leave them unchanged too', async () => {
    const before = await usage();
    for (let i = 0; i < 10; i++) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.review.broken', agent_id: 'bot', idempotency_key: key() });
      expect(r.status).toBe(500);
    }
    expect(await usage()).toEqual(before);
    expect((await h.call('GET', '/v1/approvals?agent_id=bot', t.admin)).body.data).toEqual([]);
  });

  it('ten checks whose insert fails leave them unchanged', async () => {
    const before = await usage();
    for (let i = 0; i < 10; i++) {
      const r = await h.call('POST', '/v1/check', t.agent, { action: 'pay.broken', agent_id: 'bot' });
      expect(r.status).toBe(500);
    }
    expect(await usage()).toEqual(before);
  });

  it('ten guards refused after evaluation (422 timeout_not_allowed) count no calls and hold nothing', async () => {
    const before = await usage();
    for (let i = 0; i < 10; i++) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.review', agent_id: 'bot', idempotency_key: key(), timeout_seconds: 1 });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('timeout_not_allowed');
    }
    expect(await usage()).toEqual(before);
  });

  it('ten retries of one guard count it once (a replay is not a new call)', async () => {
    const before = await usage();
    const k = key();
    for (let i = 0; i < 10; i++) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action: 'pay.ok', agent_id: 'bot', idempotency_key: k });
      expect(r.status).toBe(200);
    }
    expect(await usage()).toEqual({ calls: before.calls + 1, spent: before.spent + 1 });
  });
});
