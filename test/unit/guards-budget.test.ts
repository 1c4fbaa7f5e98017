import { describe, expect, it } from 'vitest';
import * as budget from '../../src/policy/guards/budget.ts';
import type { EvaluationRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy, type PolicyInput } from '../../src/policy/schema.ts';

function config(b: Record<string, unknown>) {
  const r = parsePolicy({ guards: { budget: b } } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy.guards!.budget!;
}

const NOW = Date.UTC(2025, 0, 31, 18, 0, 0); // the last day of January
const DAY = 86_400_000;
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'payment.send', agent_id: 'bot', params: {}, context: {}, ...over });
const full = config({
  cost_table: { 'payment.send': 0.5, 'llm.*': 0.01, 'llm.gpt-*': 0.02 },
  per_agent: { session: 5, day: 50, month: 500 },
  per_tenant: { day: 1000, month: 10000 },
  warn_threshold: 0.8,
  reservation_ttl_seconds: 600,
});

describe('budget cost', () => {
  it('takes cost_usd when given, else the exact table entry, else the most specific matching glob, else nothing', () => {
    expect(budget.costOf(full, req({ cost_usd: 1.25 }))).toBe(1.25);
    expect(budget.costOf(full, req())).toBe(0.5);
    expect(budget.costOf(full, req({ action: 'llm.claude' }))).toBe(0.01);
    expect(budget.costOf(full, req({ action: 'llm.gpt-5' }))).toBe(0.02);
    expect(budget.costOf(full, req({ action: 'email.send' }))).toBe(0);
  });

  it('refuses a negative cost, which would otherwise refund spend', () => {
    expect(() => budget.costOf(full, req({ cost_usd: -5 }))).toThrow(/non-negative/);
    expect(() => budget.costOf(full, req({ cost_usd: Number.NaN }))).toThrow();
  });
});

describe('budget buckets and queries', () => {
  it('names UTC day and month buckets per agent and per tenant, living until the period ends plus a day', () => {
    const bs = budget.buckets(full, req(), NOW);
    expect(bs.map((b) => [b.key, b.limit, b.ttl_ms])).toEqual([
      ['bud:agent:bot:day:2025-01-31', 50, 6 * 3_600_000 + DAY],
      ['bud:agent:bot:month:2025-01', 500, 6 * 3_600_000 + DAY],
      ['bud:tenant:day:2025-01-31', 1000, 6 * 3_600_000 + DAY],
      ['bud:tenant:month:2025-01', 10000, 6 * 3_600_000 + DAY],
    ]);
  });

  it('counts the session bucket only when the context has a session_id', () => {
    expect(budget.buckets(full, req({ context: { session_id: 's-9' } }), NOW)[0]!.key).toBe('bud:agent:bot:session:s-9');
    expect(budget.buckets(full, req({ context: { session_id: '' } }), NOW).some((b) => b.key.includes(':session:'))).toBe(false);
  });

  it('asks for a total per bucket, and nothing for a call that costs nothing', () => {
    expect(budget.queries(full, req(), NOW)).toEqual(budget.buckets(full, req(), NOW).map((b) => ({ kind: 'total', key: b.key })));
    expect(budget.queries(full, req({ action: 'email.send' }), NOW)).toEqual([]);
    expect(budget.queries(full, req({ cost_usd: 0 }), NOW)).toEqual([]);
  });
});

describe('budget evaluation', () => {
  it('well under every limit: no finding, and one reserve of the cost across all buckets with their limits', () => {
    const r = budget.evaluate(full, req({ cost_usd: 1, context: { session_id: 's1' } }), {}, NOW);
    expect(r.findings).toEqual([]);
    expect(r.ops).toEqual([
      {
        kind: 'reserve',
        amount: 1,
        ttl_ms: 600_000,
        buckets: budget.buckets(full, req({ context: { session_id: 's1' } }), NOW).map(({ key, limit, ttl_ms }) => ({ key, limit, ttl_ms })),
      },
    ]);
    expect((r.ops[0] as { buckets: unknown[] }).buckets).toHaveLength(5);
  });

  it('a call that would pass a limit is denied, saying which and by how much', () => {
    const r = budget.evaluate(full, req({ cost_usd: 1 }), { 'bud:agent:bot:day:2025-01-31': 49.5 }, NOW);
    expect(r.findings).toEqual([{ guard: 'budget', decision: 'deny', message: 'budget exceeded: agent bot day 49.50 + 1.00 > 50', risk: 1 }]);
  });

  it('reaching exactly the limit is allowed (with the warning), and float dust does not deny', () => {
    const exact = budget.evaluate(full, req({ cost_usd: 0.5 }), { 'bud:agent:bot:day:2025-01-31': 49.5 }, NOW);
    expect(exact.findings.map((f) => f.decision)).toEqual(['require_approval']);
    const tiny = config({ per_tenant: { day: 0.3 } });
    expect(budget.evaluate(tiny, req({ cost_usd: 0.1 }), { 'bud:tenant:day:2025-01-31': 0.2 }, NOW).findings).toEqual([]);
  });

  it('spend at or past warn_threshold of a limit after this call requires approval', () => {
    const at = budget.evaluate(full, req({ cost_usd: 1 }), { 'bud:tenant:month:2025-01': 7999 }, NOW);
    expect(at.findings).toHaveLength(1);
    expect(at.findings[0]).toMatchObject({ guard: 'budget', decision: 'require_approval', message: 'budget nearly spent: tenant month 7999.00 + 1.00 is 80% of 10000' });
    expect(budget.evaluate(full, req({ cost_usd: 1 }), { 'bud:tenant:month:2025-01': 7998 }, NOW).findings).toEqual([]);
  });

  it('without a warn_threshold there is no warning, only the limit', () => {
    const noWarn = config({ per_agent: { day: 10 } });
    expect(budget.evaluate(noWarn, req({ cost_usd: 1 }), { 'bud:agent:bot:day:2025-01-31': 8.9 }, NOW).findings).toEqual([]);
  });

  it('a call that costs nothing reserves nothing and is never refused', () => {
    const r = budget.evaluate(full, req({ action: 'email.send' }), { 'bud:agent:bot:day:2025-01-31': 1e9 }, NOW);
    expect(r).toEqual({ findings: [], ops: [] });
  });

  it('a new month starts an empty bucket', () => {
    const next = Date.UTC(2025, 1, 1, 0, 0, 1);
    expect(budget.buckets(full, req(), next).map((b) => b.key)).toEqual([
      'bud:agent:bot:day:2025-02-01',
      'bud:agent:bot:month:2025-02',
      'bud:tenant:day:2025-02-01',
      'bud:tenant:month:2025-02',
    ]);
  });
});
