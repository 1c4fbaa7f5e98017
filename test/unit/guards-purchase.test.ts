// The purchase guard (issue 13): each option, and the agent-shaped inputs it must refuse.
import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { counterQueries } from '../../src/policy/guards/index.ts';
import * as purchase from '../../src/policy/guards/purchase.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';

function policy(rules: unknown[]): Policy {
  const r = parsePolicy({ defaults: { decision: 'allow' }, guards: { purchase: rules } } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}
const config = (rules: unknown[]) => policy(rules).guards!.purchase!;

const NOW = Date.UTC(2025, 3, 15, 12);
const DAY = 86_400_000;
const TTL = 12 * 3_600_000 + DAY;
const req = (params: Record<string, unknown>, over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'purchase.order', agent_id: 'bot', params, context: {}, ...over });
const base = { actions: ['purchase.*', 'buy_*'], amount_path: 'params.amount' };
const full = config([
  {
    ...base,
    category_path: 'params.category',
    vendor_path: 'params.vendor',
    currency_path: 'params.currency',
    currency: 'USD',
    max_single: 100,
    require_approval_above: 50,
    blocked_categories: ['luxury', 'gambling'],
    vendors: { allow: ['amazon*', 'staples'], deny: ['*casino*'] },
    daily_total: 500,
    daily_count: 10,
  },
]);
const TOTAL = 'pur:purchase.*|buy_*:agent:bot:total:2025-04-15';
const COUNT = 'pur:purchase.*|buy_*:agent:bot:count:2025-04-15';
const ok = { amount: 20, category: 'office', vendor: 'amazon.com', currency: 'USD' };
const run = (params: Record<string, unknown>, counters: Record<string, number> = {}, over: Partial<EvaluationRequest> = {}) => purchase.evaluate(full, req(params, over), counters, NOW);
const messages = (r: { findings: { message: string }[] }) => r.findings.map((f) => f.message);

describe('purchase: which calls', () => {
  it('applies only to the actions its globs name', () => {
    expect(run(ok, {}, { action: 'search.web' })).toEqual({ findings: [], ops: [] });
    expect(run({}, {}, { action: 'buy_gift' }).findings.map((f) => f.decision)).toEqual(['deny']);
  });

  it('asks for the day total and count of the agent, per rule', () => {
    expect(purchase.queries(full, req(ok), NOW)).toEqual([{ kind: 'total', key: TOTAL }, { kind: 'total', key: COUNT }]);
  });
});

describe('purchase: amount', () => {
  it('a fine purchase has no finding and holds its amount and one count for the whole day, settled at what it holds', () => {
    const r = run(ok);
    expect(r.findings).toEqual([]);
    expect(r.ops).toEqual([
      { kind: 'reserve', amount: 20, ttl_ms: TTL, buckets: [{ key: TOTAL, limit: 500, ttl_ms: TTL }], fixed: true },
      { kind: 'reserve', amount: 1, ttl_ms: TTL, buckets: [{ key: COUNT, limit: 10, ttl_ms: TTL }], fixed: true },
    ]);
  });

  it('an amount above max_single is denied; at it, approval is needed (above require_approval_above)', () => {
    expect(run({ ...ok, amount: 100.01 }).findings).toEqual([{ guard: 'purchase', decision: 'deny', message: 'purchase: the amount at params.amount is above max_single 100', risk: 1 }]);
    expect(run({ ...ok, amount: 100 }).findings).toEqual([
      { guard: 'purchase', decision: 'require_approval', message: 'purchase: the amount at params.amount is above 50, which needs approval', risk: 0.6 },
    ]);
    expect(run({ ...ok, amount: 50 }).findings).toEqual([]);
  });

  it('a plain numeric string is an amount', () => {
    expect(run({ ...ok, amount: ' 75.5 ' }).findings.map((f) => f.decision)).toEqual(['require_approval']);
  });

  it('fails closed on an absent amount or one that is not a plain number, naming the path and not the value', () => {
    const cases: unknown[] = ['5,000', '$5000', '5000 USD', [5000], { value: 5000 }, '５０００', null, true, Number.NaN, 'Infinity', '0x10'];
    for (const amount of cases) {
      const r = run({ ...ok, amount });
      expect(r.findings, JSON.stringify(amount)).toEqual([{ guard: 'purchase', decision: 'deny', message: 'purchase: params.amount is not a plain number', risk: 1 }]);
      expect(r.ops).toEqual([]);
    }
    const { amount: _, ...none } = ok;
    expect(messages(run(none))).toEqual(['purchase: params.amount is absent']);
  });

  it('a negative amount, which would lower the day total, is denied', () => {
    expect(messages(run({ ...ok, amount: -400 }))).toEqual(['purchase: params.amount is negative']);
  });

  it('reads a nested amount path', () => {
    const nested = config([{ actions: ['pay'], amount_path: 'params.order.total', max_single: 10 }]);
    expect(purchase.evaluate(nested, req({ order: { total: 11 } }, { action: 'pay' }), {}, NOW).findings.map((f) => f.decision)).toEqual(['deny']);
    expect(purchase.evaluate(nested, req({ order: { total: 9 } }, { action: 'pay' }), {}, NOW).findings).toEqual([]);
  });
});

describe('purchase: category, vendor, currency', () => {
  it('a blocked category is denied, compared normalised', () => {
    for (const category of ['luxury', 'LUXURY', ' Luxury\u200B', 'ｌｕｘｕｒｙ']) {
      expect(messages(run({ ...ok, category }))).toEqual(['purchase: the category at params.category is blocked (luxury)']);
    }
    expect(run({ ...ok, category: 'luxuryish' }).findings).toEqual([]);
  });

  it('a category that is not a string is denied (it could hide a blocked one); an absent one is not', () => {
    expect(messages(run({ ...ok, category: ['office', 'gambling'] }))).toEqual(['purchase: params.category is not a string']);
    expect(messages(run({ ...ok, category: { name: 'luxury' } }))).toEqual(['purchase: params.category is not a string']);
    const { category: _, ...none } = ok;
    expect(run(none).findings).toEqual([]);
  });

  it('with an allow list, the vendor must match one of its globs; an absent or non-string vendor is denied', () => {
    expect(run({ ...ok, vendor: 'Amazon.co.uk' }).findings).toEqual([]);
    expect(run({ ...ok, vendor: 'STAPLES' }).findings).toEqual([]);
    expect(messages(run({ ...ok, vendor: 'ebay' }))).toEqual(['purchase: the vendor at params.vendor is not on the allow list']);
    const { vendor: _, ...none } = ok;
    expect(messages(run(none))).toEqual(['purchase: params.vendor is absent, and only listed vendors may be paid']);
    expect(messages(run({ ...ok, vendor: ['amazon'] }))).toEqual(['purchase: params.vendor is not a string']);
  });

  it('a vendor matching a deny glob is denied even when it is allowed', () => {
    expect(messages(run({ ...ok, vendor: 'amazon-casino-store' }))).toEqual(['purchase: the vendor at params.vendor matches a denied pattern (*casino*)']);
    const denyOnly = config([{ ...base, vendor_path: 'params.vendor', vendors: { deny: ['*casino*'] } }]);
    expect(purchase.evaluate(denyOnly, req({ amount: 1 }), {}, NOW).findings).toEqual([]);
    expect(purchase.evaluate(denyOnly, req({ amount: 1, vendor: 'ebay' }), {}, NOW).findings).toEqual([]);
  });

  it('another currency needs approval; so does one that is not a string; an absent one is taken as the policy currency', () => {
    expect(run({ ...ok, currency: 'usd ' }).findings).toEqual([]);
    expect(run({ ...ok, currency: 'EUR' }).findings).toEqual([
      { guard: 'purchase', decision: 'require_approval', message: 'purchase: the currency at params.currency is not USD', risk: 0.5 },
    ]);
    expect(run({ ...ok, currency: ['USD', 'EUR'] }).findings.map((f) => f.decision)).toEqual(['require_approval']);
    const { currency: _, ...none } = ok;
    expect(run(none).findings).toEqual([]);
  });

  it('refuses a policy with currency but no currency_path, blocked categories without category_path, or vendors without vendor_path', () => {
    for (const extra of [{ currency: 'USD' }, { blocked_categories: ['x'] }, { vendors: { deny: ['x'] } }]) {
      expect(parsePolicy({ guards: { purchase: [{ ...base, ...extra }] } }).ok, JSON.stringify(extra)).toBe(false);
    }
    expect(parsePolicy({ guards: { purchase: [{ actions: ['x'] }] } }).ok).toBe(false); // amount_path is required
    expect(parsePolicy({ guards: { purchase: [{ ...base, actions: [] }] } }).ok).toBe(false);
  });
});

describe('purchase: daily_total and daily_count', () => {
  it('a purchase that would take the day total past daily_total is denied; reaching it exactly is not', () => {
    expect(messages(run(ok, { [TOTAL]: 480.01 }))).toEqual(["purchase: agent bot's purchases today would pass daily_total 500"]);
    expect(run(ok, { [TOTAL]: 480 }).findings).toEqual([]);
  });

  it('the purchase past daily_count is denied', () => {
    expect(messages(run(ok, { [COUNT]: 10 }))).toEqual(['purchase: agent bot has made 10 purchases today (daily_count 10)']);
    expect(run(ok, { [COUNT]: 9 }).findings).toEqual([]);
  });

  it('two rules with the same globs keep separate counters', () => {
    const two = config([{ ...base, daily_count: 1 }, { ...base, daily_count: 5 }]);
    expect(purchase.queries(two, req(ok), NOW).map((q) => q.key)).toEqual([COUNT, 'pur:purchase.*|buy_*#2:agent:bot:count:2025-04-15']);
  });
});

describe('purchase in the engine', () => {
  it('the strongest finding decides, every finding is a reason, and risk combines', () => {
    const p = policy([{ ...base, max_single: 100, require_approval_above: 50 }]);
    const e = evaluateRequest(p, req({ amount: 70 }), { counters: {}, now: NOW });
    expect(e.decision).toBe('require_approval');
    expect(e.reasons[0]).toMatchObject({ source: 'guard', guard: 'purchase', decision: 'require_approval' });
    expect(e.risk_score).toBeCloseTo(0.6);
    expect(e.ops).toHaveLength(0);
  });

  it('a denied purchase leaves no reservation to apply', () => {
    const p = policy([{ ...base, daily_total: 10, max_single: 5 }]);
    expect(evaluateRequest(p, req({ amount: 6 }), { counters: {}, now: NOW }).ops).toEqual([]);
  });

  it('counters unavailable: a purchase with daily limits fails closed', () => {
    const p = policy([{ ...base, daily_total: 10 }]);
    const e = evaluateRequest(p, req({ amount: 1 }), { counters: null, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]!.message).toContain('purchase');
    expect(counterQueries(p, req({ amount: 1 }), NOW)).toEqual([{ kind: 'total', key: 'pur:purchase.*|buy_*:agent:bot:total:2025-04-15' }]);
  });
});
