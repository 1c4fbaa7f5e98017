import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { fromAgentHalt } from '../../src/policy/import/agenthalt.ts';
import { fromAgentSentinel } from '../../src/policy/import/agentsentinel.ts';
import type { ImportResult } from '../../src/policy/import/index.ts';
import { parsePolicy, type Policy } from '../../src/policy/schema.ts';

const fixture = (name: string) => parse(readFileSync(path.join(__dirname, '../fixtures/seeds', name), 'utf8')) as unknown;

function valid(r: ImportResult): Policy {
  const p = parsePolicy(r.document);
  if (!p.ok) throw new Error(`the imported policy does not validate: ${JSON.stringify(p.problems)}`);
  return p.policy;
}

const note = (r: ImportResult, key: string) => r.notes.find((n) => n.key === key);
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'search_web', agent_id: 'bot', params: {}, context: {}, ...over });
const decide = (p: Policy, r: EvaluationRequest) => evaluateRequest(p, r, { counters: {}, now: Date.UTC(2026, 10, 27, 12) }).decision;

describe('import from AgentSentinel', () => {
  it("translates the README's callguard.yaml into a valid policy with its budgets and deny list", () => {
    const r = fromAgentSentinel(fixture('agentsentinel-callguard.yaml'));
    const p = valid(r);
    expect(r.document.guards).toEqual({
      budget: { per_agent: { session: 5, run: 1 }, per_action: { expensive_llm: { session: 0.5, per: 'agent' } } },
      scope: { deny: ['delete_database', 'dangerous_operation'] },
    });
    expect(p.defaults.decision).toBe('allow');
    expect(p.fail_mode).toBe('closed');
    expect(decide(p, req({ action: 'delete_database' }))).toBe('deny');
    expect(decide(p, req({ action: 'search_web' }))).toBe('allow');
  });

  it('says how session, run and per-action budgets are counted here, and what strict_mode became', () => {
    const r = fromAgentSentinel(fixture('agentsentinel-callguard.yaml'));
    expect(note(r, 'budgets.session')).toMatchObject({ kind: 'approximate', why: expect.stringContaining('context.session_id') });
    expect(note(r, 'budgets.run')).toMatchObject({ kind: 'approximate', why: expect.stringContaining('context.run_id') });
    expect(note(r, 'budgets.actions')).toMatchObject({ kind: 'approximate' });
    expect(note(r, 'strict_mode')).toMatchObject({ kind: 'approximate', why: expect.stringContaining('fail_mode: closed') });
    expect(r.notes.filter((n) => n.kind === 'unmapped')).toEqual([]);
  });

  it("translates PolicyEngine.configure(...)'s keyword arguments the same way (allowed_actions=None is no allow list)", () => {
    const r = fromAgentSentinel(fixture('agentsentinel-configure.yaml'));
    valid(r);
    expect(r.document.guards).toEqual({
      budget: { per_agent: { session: 10, run: 1 }, per_action: { expensive_action: { session: 0.5, per: 'agent' } } },
      scope: { deny: ['dangerous_op'] },
    });
    expect(r.notes.filter((n) => n.kind === 'unmapped')).toEqual([]);
  });

  it('an allow list denies every other action', () => {
    const p = valid(fromAgentSentinel(fixture('agentsentinel-allowlist.yaml')));
    expect(decide(p, req({ action: 'read_file' }))).toBe('allow');
    expect(decide(p, req({ action: 'send_money' }))).toBe('deny');
  });

  it('reports unknown keys, wrong types, strict_mode: false and a budget given twice, never dropping them silently', () => {
    const r = fromAgentSentinel({ budgets: { session: 'five', run: 1, daily: 3 }, run_budget: 2, strict_mode: false, remote_sync: true });
    valid(r);
    expect(r.notes.filter((n) => n.kind === 'unmapped').map((n) => n.key).sort()).toEqual(['budgets.daily', 'budgets.session', 'remote_sync', 'run_budget', 'strict_mode']);
    expect(note(r, 'budgets.session')!.why).toContain('expected a number');
    expect(note(r, 'strict_mode')!.why).toContain('no warn-only mode');
    expect(note(r, 'run_budget')!.why).toContain('budgets.run is set too');
  });
});

describe('import from AgentHalt', () => {
  it("translates the README's agenthalt.yaml into a valid policy", () => {
    const r = fromAgentHalt(fixture('agenthalt.yaml'));
    const p = valid(r);
    const g = p.guards!;
    expect(g.budget).toMatchObject({ per_tenant: { day: 10 }, warn_threshold: 0.8, cost_table: { gpt4_call: 0.03, web_search: 0.01 } });
    expect(g.deletion).toEqual([expect.objectContaining({ allow_patterns: ['temp_*', 'draft_*'], protected: ['inbox', 'sent'], require_approval_always: true, resource_path: 'params.id' })]);
    expect(g.purchase).toEqual([expect.objectContaining({ max_single: 100, require_approval_above: 50, blocked_categories: ['luxury', 'gambling'], amount_path: 'params.amount', category_path: 'params.category' })]);
    expect(g.rate_limit).toMatchObject({ per_agent: { per_minute: 30 }, max_identical_calls: { count: 3, window_seconds: 300 } });
    expect(g.scope).toMatchObject({ deny: ['drop_*', 'format_*'] });
    expect(g.sensitive_data).toMatchObject({ detectors: ['us_ssn', 'credit_card'], on_finding: 'deny' });
    expect(decide(p, req({ action: 'drop_table' }))).toBe('deny');
  });

  it('says which defaults it chose for deletion and purchase, and that api_key has no detector', () => {
    const r = fromAgentHalt(fixture('agenthalt.yaml'));
    expect(note(r, 'guards.deletion')).toMatchObject({ kind: 'default', why: expect.stringContaining('resource_path params.id') });
    expect(note(r, 'guards.purchase')).toMatchObject({ kind: 'default', why: expect.stringContaining('amount_path params.amount') });
    expect(note(r, 'guards.sensitive_data.blocked_patterns.api_key')).toMatchObject({ kind: 'approximate' });
    expect(note(r, 'guards.rate_limit.max_identical_calls')).toMatchObject({ kind: 'default', why: expect.stringContaining('300 s') });
    expect(r.notes.filter((n) => n.kind === 'unmapped')).toEqual([]);
  });

  it("translates every *Config(...) example of the README's Built-in Guards into a valid policy", () => {
    const r = fromAgentHalt(fixture('agenthalt-configs.yaml'));
    const g = valid(r).guards!;
    expect(g.budget).toMatchObject({ max_call_cost: 1, per_agent: { session: 5 }, per_tenant: { day: 50, month: 500 } });
    expect(g.purchase![0]).toMatchObject({ daily_total: 500, daily_count: 10 });
    expect(g.deletion![0]).toMatchObject({ deny_patterns: ['*_production', '*_backup'], max_bulk_delete: 5, max_per_day: 20, soft_delete_only: true, cooldown_seconds: 5, hard_delete_path: 'params.permanent' });
    expect(g.rate_limit).toMatchObject({ per_agent_action: { per_minute: 10 }, per_session: { max: 200 }, burst: { max: 15, window_seconds: 5, cooldown_seconds: 30 } });
    expect(g.scope).toMatchObject({ require_approval: ['send_email', 'post_*'], agents: { untrusted_agent: { deny: ['send_*', 'delete_*'] } }, read_only: false });
    expect(g.sensitive_data).toMatchObject({
      detectors: ['us_ssn', 'credit_card', 'aws_access_key', 'jwt'],
      field_names: ['password', 'secret', 'token', 'api_key'],
      custom: [{ name: 'employee_id', pattern: 'EMP-\\d{6}' }],
      on_finding: 'redact',
    });
    expect(r.notes.filter((n) => n.kind === 'unmapped')).toEqual([]);
  });

  it('the translated guards act: the inbox is protected, a gambling purchase is denied, the untrusted agent is stopped', () => {
    const p = valid(fromAgentHalt(fixture('agenthalt-configs.yaml')));
    expect(decide(p, req({ action: 'delete_email', params: { id: 'inbox' } }))).toBe('deny');
    expect(decide(p, req({ action: 'purchase_item', params: { amount: 20, category: 'gambling' } }))).toBe('deny');
    expect(decide(p, req({ action: 'purchase_item', params: { amount: 20, category: 'books' } }))).toBe('allow');
    expect(decide(p, req({ action: 'send_report', agent_id: 'untrusted_agent' }))).toBe('deny');
    expect(decide(p, req({ action: 'send_report', agent_id: 'bot' }))).toBe('allow');
  });

  it('reports a lookaround pattern (not RE2), unknown guards and keys, and a cooldown without a burst', () => {
    const r = fromAgentHalt({
      guards: {
        sensitive_data: { custom_patterns: { 'Badge ID': 'B-\\d{4}', pw: '(?=.*\\d)secret' } },
        rate_limit: { cooldown_seconds: 30, max_calls_per_hour: 5 },
        business_hours: { start: 9 },
      },
      version: 2,
    });
    const g = valid(r).guards!;
    expect(g.sensitive_data!.custom).toEqual([{ name: 'badge_id', pattern: 'B-\\d{4}' }]);
    expect(note(r, 'guards.sensitive_data.custom_patterns.Badge ID')).toMatchObject({ kind: 'approximate', why: expect.stringContaining('renamed to "badge_id"') });
    expect(note(r, 'guards.sensitive_data.custom_patterns.pw')).toMatchObject({ kind: 'unmapped', why: expect.stringContaining('lookahead') });
    expect(note(r, 'guards.rate_limit.cooldown_seconds')).toMatchObject({ kind: 'unmapped', why: expect.stringContaining('no burst_threshold') });
    expect(note(r, 'guards.rate_limit.max_calls_per_hour')).toMatchObject({ kind: 'unmapped' });
    expect(note(r, 'guards.business_hours')).toMatchObject({ kind: 'unmapped', why: expect.stringContaining('custom CEL guards') });
    expect(note(r, 'version')).toMatchObject({ kind: 'unmapped' });
  });

  it('a file that is not a mapping imports nothing and says so', () => {
    const r = fromAgentHalt(['not', 'a', 'mapping']);
    valid(r);
    expect(note(r, '(root)')).toMatchObject({ kind: 'unmapped' });
    expect(r.document.guards).toBeUndefined();
  });
});
