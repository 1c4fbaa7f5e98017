// The deletion guard (issue 13): each option, and the agent-shaped inputs it must refuse.
import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import * as deletion from '../../src/policy/guards/deletion.ts';
import { EvaluationBudgetExceeded } from '../../src/policy/time-budget.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';

function policy(rules: unknown[], extra: Record<string, unknown> = {}): Policy {
  const r = parsePolicy({ defaults: { decision: 'allow' }, guards: { deletion: rules }, ...extra } as PolicyInput);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}
const config = (rules: unknown[]) => policy(rules).guards!.deletion!;

const NOW = Date.UTC(2025, 6, 4, 18);
const DAY = 86_400_000;
const TTL = 6 * 3_600_000 + DAY;
const req = (params: Record<string, unknown>, over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'file.delete', agent_id: 'bot', params, context: {}, ...over });
const base = { actions: ['*.delete', 'delete_*'], resource_path: 'params.id' };
const run = (rules: unknown[], params: Record<string, unknown>, counters: Record<string, number> = {}, over: Partial<EvaluationRequest> = {}) =>
  deletion.evaluate(config(rules), req(params, over), counters, NOW);
const messages = (r: { findings: { message: string }[] }) => r.findings.map((f) => f.message);
const DAYKEY = 'del:*.delete|delete_*:agent:bot:day:2025-07-04';
const GAPKEY = 'del:*.delete|delete_*:gap:bot:file.delete';

describe('deletion: which calls and which resources', () => {
  it('applies only to the actions its globs name', () => {
    expect(run([base], {}, {}, { action: 'file.read' })).toEqual({ findings: [], ops: [] });
    expect(messages(run([base], {}, {}, { action: 'delete_email' }))).toEqual(['deletion: params.id is absent']);
  });

  it('a string or an array of strings is the resources; anything else denies, naming the path', () => {
    expect(run([base], { id: 'temp_1' }).findings).toEqual([]);
    expect(run([base], { id: ['temp_1', 'temp_2'] }).findings).toEqual([]);
    for (const id of [42, null, { name: 'inbox' }, true]) {
      expect(run([base], { id }).findings, JSON.stringify(id)).toEqual([{ guard: 'deletion', decision: 'deny', message: 'deletion: params.id is not a string or an array of strings', risk: 1 }]);
    }
    for (const id of [['temp_1', 7], ['temp_1', ['inbox']], [null]]) {
      expect(messages(run([base], { id }))).toEqual(['deletion: params.id holds something other than strings']);
    }
  });
});

describe('deletion: protected, deny_patterns, allow_patterns', () => {
  const rules = [{ ...base, allow_patterns: ['temp_*', 'draft_*'], deny_patterns: ['*_production', '*_backup'], protected: ['inbox', 'sent'] }];

  it('a protected name is denied, compared normalised, naming the policy entry and not the resource', () => {
    for (const id of ['inbox', 'INBOX', ' Inbox\u200B', 'ｉｎｂｏｘ']) {
      const r = run([{ ...base, protected: ['inbox', 'sent'] }], { id });
      expect(r.findings, id).toEqual([{ guard: 'deletion', decision: 'deny', message: 'deletion: the resource at params.id is protected (inbox)', risk: 1 }]);
    }
    expect(run([{ ...base, protected: ['inbox'] }], { id: 'inbox2' }).findings).toEqual([]);
  });

  it('a resource matching a deny pattern is denied', () => {
    expect(messages(run([{ ...base, deny_patterns: ['*_production'] }], { id: 'DB_Production' }))).toEqual(['deletion: the resource at params.id matches a denied pattern (*_production)']);
  });

  it('with allow_patterns, every resource must match one', () => {
    expect(run(rules, { id: ['temp_a', 'draft_b'] }).findings).toEqual([]);
    expect(messages(run(rules, { id: ['temp_a', 'report', 'notes'] }))).toEqual(['deletion: 2 of 3 resources at params.id match no allowed pattern']);
  });

  it('one bad resource in a bulk delete denies the whole call, with counts', () => {
    const r = run(rules, { id: ['temp_a', 'temp_production', 'inbox', 'sent'] });
    expect(messages(r)).toEqual([
      'deletion: 2 of 4 resources at params.id are protected (inbox, sent)',
      'deletion: 1 of 4 resources at params.id matches a denied pattern (*_production)',
      'deletion: 2 of 4 resources at params.id match no allowed pattern',
    ]);
    expect(r.findings.every((f) => f.decision === 'deny' && f.risk === 1)).toBe(true);
  });

  it('an empty list deletes nothing and is not refused', () => {
    expect(run(rules, { id: [] }).findings).toEqual([]);
  });

  it('a 100,000-element list is judged in one pass, and asks the time budget as it goes', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => (i === 99_999 ? 'inbox' : `temp_${i}`));
    expect(messages(run(rules, { id: ids }))).toEqual([
      'deletion: 1 of 100000 resources at params.id is protected (inbox)',
      'deletion: 1 of 100000 resources at params.id matches no allowed pattern',
    ]);
    let asked = 0;
    const stop = () => {
      if (++asked > 10) throw new EvaluationBudgetExceeded(1);
    };
    expect(() => deletion.evaluate(config(rules), req({ id: ids }), {}, NOW, stop)).toThrow(EvaluationBudgetExceeded);
    expect(asked).toBe(11);
  });
});

describe('deletion: bulk, soft delete, approval', () => {
  it('more resources than max_bulk_delete in one call is denied', () => {
    expect(messages(run([{ ...base, max_bulk_delete: 2 }], { id: ['a', 'b', 'c'] }))).toEqual(['deletion: 3 resources at params.id in one call (max_bulk_delete 2)']);
    expect(run([{ ...base, max_bulk_delete: 2 }], { id: ['a', 'b'] }).findings).toEqual([]);
  });

  it('soft_delete_only denies a call whose hard_delete_path holds anything but false or nothing', () => {
    const soft = [{ ...base, soft_delete_only: true }];
    expect(run(soft, { id: 'a' }).findings).toEqual([]);
    expect(run(soft, { id: 'a', permanent: false }).findings).toEqual([]);
    for (const permanent of [true, 'false', 0, 'no', null, {}]) {
      expect(messages(run(soft, { id: 'a', permanent })), JSON.stringify(permanent)).toEqual(['deletion: only soft deletes are allowed, and params.permanent is set']);
    }
    const custom = [{ ...base, soft_delete_only: true, hard_delete_path: 'params.options.hard' }];
    expect(messages(run(custom, { id: 'a', options: { hard: true } }))).toEqual(['deletion: only soft deletes are allowed, and params.options.hard is set']);
    expect(run(custom, { id: 'a', permanent: true }).findings).toEqual([]);
  });

  it('require_approval_always sends every matching deletion for approval', () => {
    expect(run([{ ...base, require_approval_always: true }], { id: 'a' }).findings).toEqual([
      { guard: 'deletion', decision: 'require_approval', message: 'deletion: every deletion here needs approval', risk: 0.6 },
    ]);
  });
});

describe('deletion: max_per_day and cooldown_seconds', () => {
  it('holds the number of resources for the day, settled at what it holds', () => {
    const r = run([{ ...base, max_per_day: 20 }], { id: ['a', 'b', 'c'] });
    expect(r.ops).toEqual([{ kind: 'reserve', amount: 3, ttl_ms: TTL, buckets: [{ key: DAYKEY, limit: 20, ttl_ms: TTL }], fixed: true }]);
    expect(deletion.queries(config([{ ...base, max_per_day: 20 }]), req({ id: 'a' }), NOW)).toEqual([{ kind: 'total', key: DAYKEY }]);
  });

  it('a call that would take the day past max_per_day is denied', () => {
    expect(messages(run([{ ...base, max_per_day: 20 }], { id: ['a', 'b'] }, { [DAYKEY]: 19 }))).toEqual([
      'deletion: agent bot has deleted 19 resources today; 2 more would pass max_per_day 20',
    ]);
    expect(run([{ ...base, max_per_day: 20 }], { id: 'a' }, { [DAYKEY]: 19 }).findings).toEqual([]);
  });

  it('a second deletion by the same agent and action inside cooldown_seconds is denied', () => {
    const rules = [{ ...base, cooldown_seconds: 5 }];
    expect(run(rules, { id: 'a' }).ops).toEqual([{ kind: 'gap', key: GAPKEY, ttl_ms: 5000 }]);
    const r = run(rules, { id: 'a' }, { [GAPKEY]: 1 });
    expect(messages(r)).toEqual(['deletion: agent bot ran file.delete less than 5s ago (cooldown_seconds)']);
    expect(r.ops).toEqual([]);
  });

  it('refuses a rule without resource_path, and a bad hard_delete_path', () => {
    expect(parsePolicy({ guards: { deletion: [{ actions: ['x'] }] } }).ok).toBe(false);
    expect(parsePolicy({ guards: { deletion: [{ ...base, hard_delete_path: 'params..x' }] } }).ok).toBe(false);
  });
});

describe('deletion in the engine', () => {
  it('a denied deletion leaves neither its day count nor its cooldown for the edge to apply', () => {
    const p = policy([{ ...base, protected: ['inbox'], max_per_day: 5, cooldown_seconds: 5 }]);
    const e = evaluateRequest(p, req({ id: 'inbox' }), { counters: {}, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.ops).toEqual([]);
    expect(e.reasons[0]).toMatchObject({ source: 'guard', guard: 'deletion' });
  });

  it('a long resource list under a tiny time budget is cut short and fails closed', () => {
    const p = policy([{ ...base, allow_patterns: ['temp_*'] }], { evaluation_budget_ms: 1 });
    const ids = Array.from({ length: 50_000 }, (_, i) => `temp_${i}`);
    let t = 0;
    // A clock that moves 1 ms every time it is read: the budget runs out part-way.
    const e = evaluateRequest(p, req({ id: ids }), { counters: {}, now: NOW, elapsed: () => (t += 1) });
    expect(e.decision).toBe('deny');
    expect(e.reasons.some((r) => r.source === 'engine' && r.message.includes('time budget'))).toBe(true);
  });
});
