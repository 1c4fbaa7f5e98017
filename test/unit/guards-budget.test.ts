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

  it('an agent may declare a higher cost than the table, never a lower one: cost_usd 0 does not slip past the table or max_call_cost', () => {
    expect(budget.costOf(full, req({ cost_usd: 0 }))).toBe(0.5);
    expect(budget.costOf(full, req({ action: 'llm.claude', cost_usd: 0.001 }))).toBe(0.01);
    expect(budget.costOf(full, req({ action: 'email.send', cost_usd: 0.3 }))).toBe(0.3);
    const r = budget.evaluate({ ...full, max_call_cost: 0.1 }, req({ cost_usd: 0 }), {}, NOW);
    expect(r.findings.map((f) => f.decision)).toContain('deny');
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
    expect(budget.queries(full, req({ action: 'email.send', cost_usd: 0 }), NOW)).toEqual([]);
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

  it('per_agent.session denies the call that would pass the session limit, while another session of the same agent goes on', () => {
    const inS9 = (cost: number) => req({ cost_usd: cost, context: { session_id: 's-9' } });
    const spent = { 'bud:agent:bot:session:s-9': 4.5 };
    expect(budget.evaluate(full, inS9(0.75), spent, NOW).findings).toEqual([
      { guard: 'budget', decision: 'deny', message: 'budget exceeded: agent bot session s-9 4.50 + 0.75 > 5', risk: 1 },
    ]);
    // exactly the limit is not past it (the warn_threshold asks a human instead)
    expect(budget.evaluate(full, inS9(0.5), spent, NOW).findings.map((f) => f.decision)).toEqual(['require_approval']);
    const other = budget.evaluate(full, req({ cost_usd: 0.75, context: { session_id: 's-10' } }), spent, NOW);
    expect(other.findings).toEqual([]);
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

describe('budget: max_call_cost, per run, per action (issue 13)', () => {
  const b = config({
    cost_table: { 'llm.*': 0.4 },
    max_call_cost: 1,
    per_agent: { run: 1 },
    per_action: { 'llm.*': { day: 20, month: 300, session: 5, run: 2 }, 'llm.gpt-*': { day: 3, per: 'agent' } },
    warn_threshold: 0.8,
  });
  const llm = (over: Partial<EvaluationRequest> = {}) => req({ action: 'llm.gpt-5', ...over });

  it('a single call costing more than max_call_cost is denied, one costing exactly that is not', () => {
    const over = budget.evaluate(b, llm({ cost_usd: 1.01 }), {}, NOW);
    expect(over.findings).toContainEqual({ guard: 'budget', decision: 'deny', message: 'budget: one call may cost at most 1; this one costs 1.01', risk: 1 });
    const at = budget.evaluate(b, llm({ cost_usd: 1 }), {}, NOW);
    expect(at.findings.filter((f) => f.message.includes('one call'))).toEqual([]);
  });

  it('max_call_cost applies to the cost table too, and without any bucket configured', () => {
    const only = config({ cost_table: { 'pay.*': 5 }, max_call_cost: 2 });
    expect(budget.evaluate(only, req({ action: 'pay.send' }), {}, NOW).findings.map((f) => f.decision)).toEqual(['deny']);
    expect(budget.evaluate(only, req({ action: 'read.x' }), {}, NOW).findings).toEqual([]);
  });

  it('per_agent.run is a bucket per agent per context.run_id, only when the context names a run', () => {
    const keys = budget.buckets(b, req({ action: 'x', context: { run_id: 'r-7' } }), NOW).map((k) => [k.key, k.limit]);
    expect(keys).toEqual([['bud:agent:bot:run:r-7', 1]]);
    expect(budget.buckets(b, req({ action: 'x', context: { run_id: 42 } }), NOW)[0]!.key).toBe('bud:agent:bot:run:42');
    expect(budget.buckets(b, req({ action: 'x' }), NOW)).toEqual([]);
    expect(budget.buckets(b, req({ action: 'x', context: { run_id: { id: 'r' } } }), NOW)).toEqual([]);
  });

  it('a run past its limit is denied', () => {
    const r = budget.evaluate(b, req({ action: 'x', cost_usd: 0.5, context: { run_id: 'r-7' } }), { 'bud:agent:bot:run:r-7': 0.6 }, NOW);
    expect(r.findings).toEqual([{ guard: 'budget', decision: 'deny', message: 'budget exceeded: agent bot run r-7 0.60 + 0.50 > 1', risk: 1 }]);
  });

  it('per_action: every matching glob is its own bucket, tenant-wide by default or per agent, by day, month, session and run', () => {
    const keys = budget.buckets(b, llm({ context: { session_id: 's', run_id: 'r' } }), NOW).map((k) => [k.key, k.limit, k.label]);
    expect(keys).toEqual([
      ['bud:agent:bot:run:r', 1, 'agent bot run r'],
      ['bud:action:llm.*:tenant:session:s', 5, 'action llm.* tenant session s'],
      ['bud:action:llm.*:tenant:run:r', 2, 'action llm.* tenant run r'],
      ['bud:action:llm.*:tenant:day:2025-01-31', 20, 'action llm.* tenant day'],
      ['bud:action:llm.*:tenant:month:2025-01', 300, 'action llm.* tenant month'],
      ['bud:action:llm.gpt-*:agent:bot:day:2025-01-31', 3, 'action llm.gpt-* agent bot day'],
    ]);
    // An action the glob does not match counts against none of it.
    expect(budget.buckets(b, req({ action: 'pay.send' }), NOW)).toEqual([]);
  });

  it('per_action buckets are one reserve with the others, and deny when they would pass their limit', () => {
    const r = budget.evaluate(b, llm(), {}, NOW);
    expect(r.ops).toHaveLength(1);
    expect((r.ops[0] as { buckets: { key: string }[] }).buckets.map((x) => x.key)).toEqual(['bud:action:llm.*:tenant:day:2025-01-31', 'bud:action:llm.*:tenant:month:2025-01', 'bud:action:llm.gpt-*:agent:bot:day:2025-01-31']);
    const full = budget.evaluate(b, llm(), { 'bud:action:llm.gpt-*:agent:bot:day:2025-01-31': 2.8 }, NOW);
    expect(full.findings).toEqual([{ guard: 'budget', decision: 'deny', message: 'budget exceeded: action llm.gpt-* agent bot day 2.80 + 0.40 > 3', risk: 1 }]);
  });

  it('warn_threshold applies to the run and per_action buckets too', () => {
    const run = budget.evaluate(b, req({ action: 'x', cost_usd: 0.3, context: { run_id: 'r' } }), { 'bud:agent:bot:run:r': 0.5 }, NOW);
    expect(run.findings).toEqual([expect.objectContaining({ guard: 'budget', decision: 'require_approval', message: 'budget nearly spent: agent bot run r 0.50 + 0.30 is 80% of 1' })]);
    const act = budget.evaluate(b, llm(), { 'bud:action:llm.*:tenant:day:2025-01-31': 15.6 }, NOW);
    expect(act.findings).toEqual([expect.objectContaining({ decision: 'require_approval', message: 'budget nearly spent: action llm.* tenant day 15.60 + 0.40 is 80% of 20' })]);
    expect(act.findings[0]!.risk).toBeGreaterThanOrEqual(0.5);
    expect(act.findings[0]!.risk).toBeLessThanOrEqual(0.9);
  });

  it('refuses a per_action entry with no limit, and an unknown per', () => {
    expect(parsePolicy({ guards: { budget: { per_action: { 'llm.*': { per: 'agent' } } } } }).ok).toBe(false);
    expect(parsePolicy({ guards: { budget: { per_action: { 'llm.*': { day: 1, per: 'team' } } } } }).ok).toBe(false);
    expect(parsePolicy({ guards: { budget: { max_call_cost: -1 } } }).ok).toBe(false);
  });
});
