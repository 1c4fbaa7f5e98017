import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy } from '../../src/policy/schema.ts';
import { ledgerCost, ledgerParams } from '../../src/services/ledger-columns.ts';

function evaluated(doc: unknown, req: EvaluationRequest, ctx: { counters?: Record<string, number> | null; elapsed?: () => number } = {}) {
  const parsed = parsePolicy(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const evaluation = evaluateRequest(parsed.policy, req, { counters: ctx.counters === undefined ? {} : ctx.counters, now: Date.UTC(2026, 10, 30), ...(ctx.elapsed ? { elapsed: ctx.elapsed } : {}) });
  return { active: { version: 1, policy: parsed.policy }, evaluation };
}

const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'chat.send', agent_id: 'bot', params: {}, context: {}, ...over });

describe('ledger params', () => {
  it('keeps the redacted params when the sensitive_data guard found something, even on a deny', () => {
    const doc = { defaults: { decision: 'allow' }, guards: { sensitive_data: { per_detector: { credit_card: 'deny' } } } };
    const e = evaluated(doc, req({ params: { text: 'card 4111 1111 1111 1111' } }));
    expect(e.evaluation.decision).toBe('deny');
    const kept = ledgerParams(e, { text: 'card 4111 1111 1111 1111' });
    expect(JSON.stringify(kept)).not.toContain('4111');
    expect(kept).toEqual({ text: expect.stringContaining('[REDACTED:') });
  });

  it("keeps the agent's params when nothing was found, or when no sensitive_data guard is configured", () => {
    const params = { q: 'weather' };
    expect(ledgerParams(evaluated({ defaults: { decision: 'allow' }, guards: { sensitive_data: {} } }, req({ params })), params)).toBe(params);
    expect(ledgerParams(evaluated({ defaults: { decision: 'allow' } }, req({ params: { text: '4111 1111 1111 1111' } })), { text: '4111 1111 1111 1111' })).toEqual({ text: '4111 1111 1111 1111' });
  });

  it('keeps no params when the sensitive_data guard did not finish (out of time): they were never checked', () => {
    const doc = { defaults: { decision: 'allow' }, evaluation_budget_ms: 1, guards: { sensitive_data: {} } };
    let t = 0;
    // Every checkpoint sees another 5 ms pass: the budget runs out before the guard scans anything.
    const e = evaluated(doc, req({ params: { text: 'card 4111 1111 1111 1111' } }), { elapsed: () => (t += 5) });
    expect(e.evaluation.decision).toBe('deny');
    expect(ledgerParams(e, { text: 'card 4111 1111 1111 1111' })).toBeNull();
  });
});

describe('ledger cost', () => {
  const doc = { defaults: { decision: 'allow' }, guards: { budget: { cost_table: { 'llm.*': 0.25, 'llm.big': 2 }, per_agent: { day: 10 } } } };
  it('is the cost the budget guard used: the cost-table entry (exact name first, else the most specific glob), or the request cost_usd when higher', () => {
    expect(ledgerCost(evaluated(doc, req({ action: 'llm.big' })), req({ action: 'llm.big' }))).toBe(2);
    expect(ledgerCost(evaluated(doc, req({ action: 'llm.small' })), req({ action: 'llm.small' }))).toBe(0.25);
    expect(ledgerCost(evaluated(doc, req({ action: 'llm.big', cost_usd: 0.1 })), req({ action: 'llm.big', cost_usd: 0.1 }))).toBe(2);
    expect(ledgerCost(evaluated(doc, req({ action: 'llm.big', cost_usd: 3 })), req({ action: 'llm.big', cost_usd: 3 }))).toBe(3);
    expect(ledgerCost(evaluated(doc, req({ action: 'other' })), req({ action: 'other' }))).toBe(0);
  });

  it('without a budget guard it is the request cost_usd, or null', () => {
    const none = { defaults: { decision: 'allow' } };
    expect(ledgerCost(evaluated(none, req()), req())).toBeNull();
    expect(ledgerCost(evaluated(none, req({ cost_usd: 3 })), req({ cost_usd: 3 }))).toBe(3);
  });
});
