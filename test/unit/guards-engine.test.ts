import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECISION_RANK, evaluate, evaluateRequest, ruleMatches, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { COUNTERS_UNAVAILABLE, combineRisk, counterQueries, evaluateGuards } from '../../src/policy/guards/index.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';

function policy(doc: PolicyInput): Policy {
  const r = parsePolicy(doc);
  if (!r.ok) throw new Error(`policy did not parse: ${JSON.stringify(r.problems)}`);
  return r.policy;
}
function problems(doc: unknown) {
  const r = parsePolicy(doc);
  if (r.ok) throw new Error('expected the policy to be refused');
  return r.problems;
}

const NOW = Date.UTC(2025, 2, 10, 9);
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'payment.send', agent_id: 'bot', params: {}, context: {}, ...over });
const ctx = { counters: {}, now: NOW };

describe('guards in the policy schema', () => {
  it('reports a bad guard value with its full path', () => {
    expect(problems({ guards: { budget: { per_agent: { day: -1 } } } }).map((p) => p.path)).toEqual(['guards.budget.per_agent.day']);
    expect(problems({ guards: { rate_limit: { burst: { max: 0, window_seconds: 10 } } } }).map((p) => p.path)).toEqual(['guards.rate_limit.burst.max']);
    expect(problems({ guards: { budget: { warn_threshold: 1.5 } } }).map((p) => p.path)).toEqual(['guards.budget.warn_threshold']);
    expect(problems({ guards: { scope: { otherwise: 'allow' } } }).map((p) => p.path)).toEqual(['guards.scope.otherwise']);
    expect(problems({ guards: { sensitive_data: { detectors: ['credit_card', 'dna'] } } }).map((p) => p.path)).toEqual(['guards.sensitive_data.detectors.1']);
  });

  it('refuses unknown fields at every level of the guards', () => {
    expect(problems({ guards: { budgets: {} } })[0]).toEqual({ path: 'guards.budgets', message: 'unknown field "budgets"' });
    expect(problems({ guards: { budget: { per_agent: { week: 5 } } } })[0]!.path).toBe('guards.budget.per_agent.week');
    expect(problems({ guards: { rate_limit: { per_agent: { per_minute: 5, per_hour: 5 } } } })[0]!.path).toBe('guards.rate_limit.per_agent.per_hour');
    expect(problems({ guards: { scope: { agents: { x: { readonly: true } } } } })[0]!.path).toBe('guards.scope.agents.x.readonly');
  });

  it('refuses a custom detector with an invalid regex, a clashing name, and per_detector for an unknown detector', () => {
    const bad = problems({ guards: { sensitive_data: { custom: [{ name: 'emp', pattern: '([a-z' }] } } });
    expect(bad).toEqual([{ path: 'guards.sensitive_data.custom.0.pattern', message: 'not a valid RE2 regular expression: missing closing ]: `[a-z`' }]);
    expect(problems({ guards: { sensitive_data: { custom: [{ name: 'email', pattern: 'x' }] } } })[0]!.path).toBe('guards.sensitive_data.custom.0.name');
    expect(problems({ guards: { sensitive_data: { per_detector: { dna: 'deny' } } } })[0]!.path).toBe('guards.sensitive_data.per_detector.dna');
    expect(parsePolicy({ guards: { sensitive_data: { custom: [{ name: 'emp', pattern: 'EMP-\\d{6}' }], per_detector: { emp: 'deny', field: 'redact' } } } }).ok).toBe(true);
  });

  it('fills in defaults: every detector, redact, deny on limit, deny outside scope, an hour of reservation', () => {
    const p = policy({ guards: { budget: {}, rate_limit: {}, sensitive_data: {}, scope: {} } });
    expect(p.guards!.sensitive_data!.detectors).toHaveLength(8);
    expect(p.guards!.sensitive_data!.on_finding).toBe('redact');
    expect(p.guards!.rate_limit!.on_limit).toBe('deny');
    expect(p.guards!.budget!.reservation_ttl_seconds).toBe(3600);
    expect(p.guards!.scope!.read_patterns).toContain('*.list');
  });
});

describe('evaluateRequest', () => {
  it('without guards gives the same decision, reasons and routing as evaluate', () => {
    const p = policy({ rules: [{ name: 'ask', match: { action: 'payment.*' }, decision: 'require_approval' }, { name: 'ok', decision: 'allow' }] });
    const e = evaluateRequest(p, req(), ctx);
    const old = evaluate(p, req());
    expect(e.decision).toBe(old.decision);
    expect(e.reasons).toEqual(old.reasons);
    expect(e.routing).toEqual(old.routing);
    expect(e.matched_rules).toEqual(['ask', 'ok']);
    expect(e.risk_score).toBe(0.5);
    expect(e).toMatchObject({ ops: [], redacted_paths: [], findings: [] });
    expect(e.params).toBeUndefined();
    expect(e.failed_open).toBeUndefined();
  });

  it('DENY > REQUIRE_APPROVAL > MODIFY > ALLOW across rules and guards, with every contributing reason and its source', () => {
    const p = policy({
      defaults: { decision: 'allow' },
      rules: [{ name: 'fine', decision: 'allow' }],
      guards: { sensitive_data: {}, scope: { require_approval: ['payment.*'], deny: ['admin.*'] } },
    });
    const modify = evaluateRequest(p, req({ action: 'email.send', params: { to: 'a@example.com' } }), ctx);
    expect(modify.decision).toBe('modify');
    expect(modify.reasons).toEqual([{ source: 'guard', guard: 'sensitive_data', decision: 'modify', message: 'email at params.to (redacted)' }]);

    const ask = evaluateRequest(p, req({ params: { to: 'a@example.com' } }), ctx);
    expect(ask.decision).toBe('require_approval');
    expect(ask.reasons.map((r) => [r.source, r.guard, r.decision])).toEqual([
      ['guard', 'scope', 'require_approval'],
      ['guard', 'sensitive_data', 'modify'],
    ]);
    expect(ask.params).toEqual({ to: '[REDACTED:email]' }); // the approval carries the redacted params
    expect(ask.routing).toMatchObject({ required_approvals: 1 });

    const deny = evaluateRequest(p, req({ action: 'admin.drop' }), ctx);
    expect(deny.decision).toBe('deny');
    expect(deny.reasons).toEqual([{ source: 'guard', guard: 'scope', decision: 'deny', message: 'admin.drop is in the scope deny list' }]);
    expect(deny.routing).toBeNull();

    const allow = evaluateRequest(p, req({ action: 'email.send' }), ctx);
    expect(allow.decision).toBe('allow');
    expect(allow.reasons).toEqual([{ source: 'rule', rule: 'fine', decision: 'allow', message: 'rule fine matched' }]);
  });

  it('a guard asking for approval routes by the first approving rule, else by the defaults', () => {
    const p = policy({
      defaults: { decision: 'allow', slack_channel: '#default' },
      rules: [{ name: 'pay', match: { action: 'payment.*' }, decision: 'require_approval', approval: { slack_channel: '#payments' } }],
      guards: { scope: { require_approval: ['*'] } },
    });
    expect(evaluateRequest(p, req(), ctx).routing!.slack_channel).toBe('#payments');
    expect(evaluateRequest(p, req({ action: 'deploy.prod' }), ctx).routing!.slack_channel).toBe('#default');
  });

  it('risk_score is 1 − Π(1 − risk) over guard findings and matched rules, in [0, 1]', () => {
    expect(combineRisk([0.5, 0.5])).toBe(0.75);
    expect(combineRisk([])).toBe(0);
    expect(combineRisk([2, -1])).toBe(1);
    const p = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'ask', decision: 'require_approval' }], guards: { sensitive_data: {} } });
    const e = evaluateRequest(p, req({ params: { to: 'a@example.com' } }), ctx);
    expect(e.risk_score).toBeCloseTo(1 - 0.5 * 0.8, 10); // rule 0.5, email 0.2
    expect(evaluateRequest(policy({ rules: [{ name: 'no', decision: 'deny' }] }), req(), ctx).risk_score).toBe(1);
  });

  it('returns every op when the call goes ahead, and only cooldown flags when it is denied', () => {
    const p = policy({
      defaults: { decision: 'allow' },
      guards: { budget: { per_agent: { day: 10 } }, rate_limit: { burst: { max: 2, window_seconds: 10, cooldown_seconds: 30 } } },
    });
    const ok = evaluateRequest(p, req({ cost_usd: 1 }), ctx);
    expect(ok.ops.map((o) => o.kind)).toEqual(['hit', 'reserve']);
    const burst = evaluateRequest(p, req({ cost_usd: 1 }), { counters: { 'rl:burst:bot': 2 }, now: NOW });
    expect(burst.decision).toBe('deny');
    expect(burst.ops).toEqual([{ kind: 'flag', key: 'rl:cool:bot', ttl_ms: 30_000 }]);
    const broke = evaluateRequest(p, req({ cost_usd: 11 }), ctx);
    expect(broke.decision).toBe('deny');
    expect(broke.ops).toEqual([]);
  });

  it('budget over the warn threshold asks for approval and still reserves', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { budget: { per_agent: { day: 10 }, warn_threshold: 0.8 } } });
    const e = evaluateRequest(p, req({ cost_usd: 1 }), { counters: { 'bud:agent:bot:day:2025-03-10': 7.5 }, now: NOW });
    expect(e.decision).toBe('require_approval');
    expect(e.reasons[0]).toMatchObject({ source: 'guard', guard: 'budget', decision: 'require_approval' });
    expect(e.ops).toEqual([{ kind: 'reserve', amount: 1, ttl_ms: 3_600_000, buckets: [{ key: 'bud:agent:bot:day:2025-03-10', limit: 10, ttl_ms: expect.any(Number) }] }]);
  });
});

describe('counterQueries', () => {
  it('collects the stateful guards’ queries, none for a policy without guards', () => {
    const p = policy({ guards: { budget: { per_tenant: { day: 5 } }, rate_limit: { per_agent: { per_minute: 5 } }, scope: {}, sensitive_data: {} } });
    expect(counterQueries(p, req({ cost_usd: 1 }), NOW)).toEqual([
      { kind: 'window', key: 'rl:agent:bot', window_ms: 60_000 },
      { kind: 'total', key: 'bud:tenant:day:2025-03-10' },
    ]);
    expect(counterQueries(policy({}), req(), NOW)).toEqual([]);
  });

  it('does not throw for a request a guard cannot handle; evaluation reports it', () => {
    const p = policy({ guards: { budget: { per_tenant: { day: 5 } } } });
    expect(counterQueries(p, req({ cost_usd: -1 }), NOW)).toEqual([]);
    expect(evaluateGuards(p, req({ cost_usd: -1 }), ctx).failures).toEqual([{ guard: 'budget', message: 'cost_usd must be a non-negative number' }]);
  });
});

describe('failure handling', () => {
  const guarded = (fail_mode: 'open' | 'closed') =>
    policy({
      fail_mode,
      defaults: { decision: 'allow' },
      guards: { budget: { per_agent: { day: 10 } }, rate_limit: { per_agent: { per_minute: 5 } }, sensitive_data: {}, scope: { deny: ['admin.*'] } },
    });

  it('a guard that throws denies, saying which guard failed (fail closed)', () => {
    const e = evaluateRequest(guarded('closed'), req({ cost_usd: -1 }), ctx);
    expect(e.decision).toBe('deny');
    expect(e.reasons).toContainEqual({ source: 'engine', guard: 'budget', decision: 'deny', message: 'denied because the budget guard failed (fail closed): cost_usd must be a non-negative number' });
    expect(e.failed_open).toBeUndefined();
  });

  it('with fail_mode: open a throwing guard lets the call through and says so', () => {
    const e = evaluateRequest(guarded('open'), req({ cost_usd: -1 }), ctx);
    expect(e.decision).toBe('allow');
    expect(e.failed_open).toBe(true);
    expect(e.reasons).toContainEqual({ source: 'engine', guard: 'budget', decision: 'allow', message: expect.stringMatching(/^the budget guard failed; let through because fail_mode is open/) });
  });

  it('counters unavailable: the stateful guards fail closed while scope and sensitive_data still run', () => {
    const e = evaluateRequest(guarded('closed'), req({ cost_usd: 1, params: { to: 'a@example.com' } }), { counters: COUNTERS_UNAVAILABLE, now: NOW });
    expect(e.decision).toBe('deny');
    expect(e.reasons.filter((r) => r.source === 'engine').map((r) => r.guard)).toEqual(['rate_limit', 'budget']);
    expect(e.params).toEqual({ to: '[REDACTED:email]' });
    expect(e.ops).toEqual([]);
  });

  it('counters unavailable with fail_mode: open: allowed (or modified) with failed_open, and a scope deny still denies', () => {
    const open = guarded('open');
    const e = evaluateRequest(open, req({ cost_usd: 1, params: { to: 'a@example.com' } }), { counters: null, now: NOW });
    expect(e.decision).toBe('modify');
    expect(e.failed_open).toBe(true);
    expect(e.reasons.filter((r) => r.source === 'engine')).toHaveLength(2);
    const admin = evaluateRequest(open, req({ action: 'admin.x' }), { counters: null, now: NOW });
    expect(admin.decision).toBe('deny');
    expect(admin.failed_open).toBeUndefined();
  });

  it('a policy with only stateless guards does not care that counters are unavailable', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { scope: { deny: ['admin.*'] } } });
    expect(evaluateRequest(p, req(), { counters: null, now: NOW }).decision).toBe('allow');
  });

  it('a rule that fails to evaluate denies (closed) or is let through (open)', () => {
    const broken = (mode: 'open' | 'closed'): Policy => ({
      ...policy({ fail_mode: mode, defaults: { decision: 'allow' } }),
      rules: [{ name: 'bad', match: { when: { 'params.x': { matches: '([a-z' } } }, decision: 'allow' }],
    });
    const closed = evaluateRequest(broken('closed'), req({ params: { x: 'y' } }), ctx);
    expect(closed.decision).toBe('deny');
    expect(closed.reasons[0]!.message).toMatch(/^denied because rule evaluation failed \(fail closed\)/);
    const open = evaluateRequest(broken('open'), req({ params: { x: 'y' } }), ctx);
    expect(open).toMatchObject({ decision: 'allow', failed_open: true });
  });
});

// ---------------------------------------------------------------------------
// Property: priority is monotone.

const ACTIONS = ['payment.send', 'payment.refund', 'email.send', 'admin.drop', 'kb.get', 'search.web'];
const AGENTS = ['bot', 'support-bot', 'intern-1'];
const decision = fc.constantFrom('allow', 'deny', 'require_approval') as fc.Arbitrary<'allow' | 'deny' | 'require_approval'>;
const actionGlob = fc.constantFrom('*', 'payment.*', 'email.*', 'admin.*', '*.get', 'search.web', 'kb.*');
const rule = (name: string) =>
  fc.record({
    name: fc.constant(name),
    match: fc.record({ action: fc.option(actionGlob, { nil: undefined }), agent: fc.option(fc.constantFrom('*', 'bot', 'intern-*'), { nil: undefined }) }, { requiredKeys: [] }),
    decision,
  });
const guards = fc.record(
  {
    scope: fc.record({ allow: fc.array(actionGlob, { maxLength: 2 }), deny: fc.array(actionGlob, { maxLength: 1 }), require_approval: fc.array(actionGlob, { maxLength: 1 }), read_only: fc.boolean() }, { requiredKeys: [] }),
    sensitive_data: fc.record({ on_finding: fc.constantFrom('redact', 'deny', 'require_approval') }, { requiredKeys: [] }),
    rate_limit: fc.record({ per_agent: fc.record({ per_minute: fc.integer({ min: 1, max: 5 }) }), on_limit: fc.constantFrom('deny', 'require_approval') }, { requiredKeys: [] }),
    budget: fc.record({ per_agent: fc.record({ day: fc.integer({ min: 1, max: 10 }) }), warn_threshold: fc.constantFrom(0.5, 0.9) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const policyDoc = fc.record({
  fail_mode: fc.constantFrom('open', 'closed') as fc.Arbitrary<'open' | 'closed'>,
  defaults: fc.record({ decision }),
  rules: fc.integer({ min: 0, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => rule(`r${i}`)))),
  guards,
});
const request = fc.record({
  action: fc.constantFrom(...ACTIONS),
  agent_id: fc.constantFrom(...AGENTS),
  params: fc.constantFrom({}, { to: 'a@example.com' }, { n: 1 }),
  context: fc.constant({}),
  cost_usd: fc.constantFrom(0, 1, 4),
});
const counters = fc.option(fc.dictionary(fc.constantFrom('rl:agent:bot', 'rl:agent:intern-1', 'bud:agent:bot:day:2025-03-10'), fc.integer({ min: 0, max: 12 })), { nil: null });
const rank = (p: PolicyInput, r: EvaluationRequest, c: Record<string, number> | null) => DECISION_RANK[evaluateRequest(policy(p), r, { counters: c, now: NOW }).decision];

describe('priority is monotone', () => {
  it('adding a deny rule that matches always gives deny', () => {
    fc.assert(
      fc.property(policyDoc, request, counters, (doc, r, c) => {
        const withDeny = { ...doc, rules: [...doc.rules, { name: 'stop', match: { action: r.action }, decision: 'deny' as const }] };
        expect(evaluateRequest(policy(withDeny), r, { counters: c, now: NOW }).decision).toBe('deny');
      }),
      { numRuns: 300 },
    );
  });

  it('adding a guard config that denies the action always gives deny', () => {
    fc.assert(
      fc.property(policyDoc, request, counters, (doc, r, c) => {
        const withScope = { ...doc, guards: { ...doc.guards, scope: { ...doc.guards.scope, deny: [r.action] } } };
        expect(evaluateRequest(policy(withScope), r, { counters: c, now: NOW }).decision).toBe('deny');
      }),
      { numRuns: 300 },
    );
  });

  it('adding any rule never lowers the decision, once some rule matched (before that the default is a fallback that any rule replaces)', () => {
    fc.assert(
      fc.property(policyDoc, request, counters, rule('extra'), (doc, r, c, extra) => {
        const before = policy(doc);
        const anyMatched = before.rules.some((x) => ruleMatches(x, r));
        fc.pre(anyMatched || before.defaults.decision === 'allow');
        expect(rank({ ...doc, rules: [...doc.rules, extra] }, r, c)).toBeGreaterThanOrEqual(rank(doc, r, c));
      }),
      { numRuns: 300 },
    );
  });

  it('a deny never turns into anything else when rules are added', () => {
    fc.assert(
      fc.property(policyDoc, request, counters, fc.array(rule('x'), { maxLength: 3 }), (doc, r, c, extras) => {
        fc.pre(rank(doc, r, c) === DECISION_RANK.deny && policy(doc).rules.some((x) => ruleMatches(x, r)));
        const more = { ...doc, rules: [...doc.rules, ...extras.map((e, i) => ({ ...e, name: `x${i}` }))] };
        expect(rank(more, r, c)).toBe(DECISION_RANK.deny);
      }),
      { numRuns: 200 },
    );
  });

  it('the first matching rule replaces the default, as defaults are meant to', () => {
    const p = policy({ defaults: { decision: 'deny' }, rules: [{ name: 'ok', match: { action: 'kb.*' }, decision: 'allow' }] });
    expect(evaluateRequest(p, req({ action: 'kb.get' }), ctx).decision).toBe('allow');
    expect(evaluateRequest(p, req({ action: 'email.send' }), ctx).decision).toBe('deny');
  });
});
