import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';
import { conditionHolds, evaluate, lookup, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { globMatch } from '../../src/policy/glob.ts';

function policy(doc: PolicyInput): Policy {
  const r = parsePolicy(doc);
  if (!r.ok) throw new Error(`policy did not parse: ${JSON.stringify(r.problems)}`);
  return r.policy;
}

function req(over: Partial<EvaluationRequest> = {}): EvaluationRequest {
  return { action: 'payment.send', agent_id: 'billing-bot', params: {}, context: {}, ...over };
}

function problems(doc: unknown) {
  const r = parsePolicy(doc);
  if (r.ok) throw new Error('expected the policy to be refused');
  return r.problems;
}

describe('parsePolicy', () => {
  it('reports a bad decision with the path to it', () => {
    const ps = problems({ rules: [{ name: 'a', decision: 'maybe' }] });
    expect(ps.map((p) => p.path)).toEqual(['rules.0.decision']);
  });

  it('reports the path of a problem deep inside a rule', () => {
    const ps = problems({ rules: [{ name: 'ok', decision: 'allow' }, { name: 'b', decision: 'deny', approval: { required_approvals: 0 } }] });
    expect(ps.map((p) => p.path)).toEqual(['rules.1.approval.required_approvals']);
  });

  it('refuses two rules with the same name and points at the second', () => {
    const ps = problems({ rules: [{ name: 'dup', decision: 'allow' }, { name: 'dup', decision: 'deny' }] });
    expect(ps).toHaveLength(1);
    expect(ps[0]!.path).toBe('rules.1.name');
    expect(ps[0]!.message).toContain('dup');
  });

  it('refuses a `matches` that is not a valid regular expression', () => {
    const ps = problems({ rules: [{ name: 'r', decision: 'deny', match: { when: { 'params.to': { matches: '([a-z' } } } }] });
    expect(ps).toHaveLength(1);
    expect(ps[0]!.path).toMatch(/^rules\.0\.match\.when\..*matches$/);
    expect(ps[0]!.message).toMatch(/regular expression/);
  });

  it('refuses unknown fields at the top level, in rules and in conditions', () => {
    expect(problems({ rulez: [] })[0]).toEqual({ path: 'rulez', message: 'unknown field "rulez"' });
    expect(problems({ rules: [{ name: 'r', decision: 'allow', priority: 1 }] })[0]!.path).toBe('rules.0.priority');
    expect(problems({ rules: [{ name: 'r', decision: 'allow', match: { when: { 'params.a': { greater: 1 } } } }] })).not.toHaveLength(0);
  });

  it('refuses a condition with no operator', () => {
    const ps = problems({ rules: [{ name: 'r', decision: 'allow', match: { when: { amount: {} } } }] });
    expect(ps[0]!.path).toBe('rules.0.match.when.amount');
  });

  it('refuses things that are not a policy object at all', () => {
    expect(parsePolicy(null).ok).toBe(false);
    expect(parsePolicy('allow everything').ok).toBe(false);
    expect(parsePolicy({ rules: 'none' }).ok).toBe(false);
  });

  it('fills in safe defaults: fail closed, approval required, one approver, 15 minutes, reject on timeout', () => {
    const p = policy({});
    expect(p.fail_mode).toBe('closed');
    expect(p.defaults).toEqual({ decision: 'require_approval', timeout_seconds: 900, on_timeout: 'reject', required_approvals: 1, min_timeout_seconds: 60, agent_may_route_to: [] });
    expect(p.rules).toEqual([]);
    expect(policy({ defaults: { slack_channel: '#ops' } }).defaults).toMatchObject({ decision: 'require_approval', slack_channel: '#ops' });
  });
});

describe('DEFAULT_POLICY', () => {
  it('requires a human approval for any action', () => {
    const e = evaluate(DEFAULT_POLICY, req({ action: 'anything.at.all' }));
    expect(e.decision).toBe('require_approval');
    expect(e.reasons).toEqual([{ source: 'default', decision: 'require_approval', message: expect.any(String) }]);
    expect(e.matched_rules).toEqual([]);
    expect(e.routing).toMatchObject({ required_approvals: 1, timeout_seconds: 900, on_timeout: 'reject' });
  });

  it('fails closed', () => {
    expect(DEFAULT_POLICY.fail_mode).toBe('closed');
  });
});

describe('globs', () => {
  it('`payment.*` matches every payment action, dots included, and nothing else', () => {
    expect(globMatch('payment.*', 'payment.send')).toBe(true);
    expect(globMatch('payment.*', 'payment.refund.partial')).toBe(true);
    expect(globMatch('payment.*', 'payments.send')).toBe(false);
    expect(globMatch('payment.*', 'xpayment.send')).toBe(false);
    expect(globMatch('payment.*', 'payment')).toBe(false);
  });

  it('treats the dot literally rather than as "any character"', () => {
    expect(globMatch('payment.send', 'paymentXsend')).toBe(false);
  });

  it('`database.drop*` matches drop and drop-prefixed actions', () => {
    expect(globMatch('database.drop*', 'database.drop')).toBe(true);
    expect(globMatch('database.drop*', 'database.drop_table')).toBe(true);
    expect(globMatch('database.drop*', 'database.select')).toBe(false);
  });

  it('`?` matches exactly one character', () => {
    expect(globMatch('v?.deploy', 'v1.deploy')).toBe(true);
    expect(globMatch('v?.deploy', 'v.deploy')).toBe(false);
    expect(globMatch('v?.deploy', 'v12.deploy')).toBe(false);
  });

  it('an array of globs matches if any of them does', () => {
    expect(globMatch(['email.*', 'sms.*'], 'sms.send')).toBe(true);
    expect(globMatch(['email.*', 'sms.*'], 'push.send')).toBe(false);
  });

  it('an absent pattern matches everything', () => {
    expect(globMatch(undefined, 'whatever')).toBe(true);
  });

  it('treats regex metacharacters in a glob as literals', () => {
    expect(globMatch('a+b(c)', 'a+b(c)')).toBe(true);
    expect(globMatch('a+b(c)', 'aab(c)')).toBe(false);
    expect(globMatch('[x]', 'x')).toBe(false);
    expect(globMatch('$^|', '$^|')).toBe(true);
  });
});

describe('evaluate: decisions', () => {
  const p = policy({
    defaults: { decision: 'allow', timeout_seconds: 600, slack_channel: '#approvals', approvers: { identities: ['ops@x'] } },
    rules: [
      { name: 'small-payments', match: { action: 'payment.*' }, decision: 'allow', reason: 'payments are fine' },
      {
        name: 'big-payments',
        match: { action: 'payment.*', when: { 'params.amount': { gt: 1000 } } },
        decision: 'require_approval',
        reason: 'big payment',
        approval: { slack_channel: '#finance', required_approvals: 2 },
      },
      {
        name: 'huge-payments-too',
        match: { action: 'payment.*', when: { 'params.amount': { gt: 5000 } } },
        decision: 'require_approval',
        reason: 'huge payment',
        approval: { slack_channel: '#cfo' },
      },
      { name: 'sanctioned', match: { action: 'payment.*', when: { 'params.country': { in: ['XX', 'YY'] } } }, decision: 'deny', reason: 'sanctioned country' },
      { name: 'no-drops', match: { action: 'database.drop*' }, decision: 'deny' },
    ],
  });

  it('falls back to the default decision when no rule matches, with no routing for allow', () => {
    const e = evaluate(p, req({ action: 'email.send' }));
    expect(e.decision).toBe('allow');
    expect(e.matched_rules).toEqual([]);
    expect(e.reasons).toEqual([{ source: 'default', decision: 'allow', message: 'no rule matched; default is allow' }]);
    expect(e.routing).toBeNull();
  });

  it('uses the defaults reason when no rule matches and one is set', () => {
    const q = policy({ defaults: { decision: 'deny', reason: 'closed for business' } });
    expect(evaluate(q, req()).reasons[0]!.message).toBe('closed for business');
  });

  it('allows when only an allow rule matches', () => {
    const e = evaluate(p, req({ params: { amount: 10 } }));
    expect(e.decision).toBe('allow');
    expect(e.matched_rules).toEqual(['small-payments']);
    expect(e.reasons).toEqual([{ source: 'rule', rule: 'small-payments', decision: 'allow', message: 'payments are fine' }]);
    expect(e.routing).toBeNull();
  });

  it('require_approval beats allow, and the reasons come only from the rules that asked for approval', () => {
    const e = evaluate(p, req({ params: { amount: 2000 } }));
    expect(e.decision).toBe('require_approval');
    expect(e.matched_rules).toEqual(['small-payments', 'big-payments']);
    expect(e.reasons.map((r) => r.rule)).toEqual(['big-payments']);
  });

  it('deny beats require_approval and allow, and only deny reasons are given', () => {
    const e = evaluate(p, req({ params: { amount: 9000, country: 'XX' } }));
    expect(e.decision).toBe('deny');
    expect(e.matched_rules).toEqual(['small-payments', 'big-payments', 'huge-payments-too', 'sanctioned']);
    expect(e.reasons).toEqual([{ source: 'rule', rule: 'sanctioned', decision: 'deny', message: 'sanctioned country' }]);
    expect(e.routing).toBeNull();
  });

  it('names the rule in the reason when the rule gives none', () => {
    const e = evaluate(p, req({ action: 'database.drop_table' }));
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]!.message).toBe('rule no-drops matched');
  });

  it('routes by the first matching require_approval rule, filling gaps from the defaults', () => {
    const e = evaluate(p, req({ params: { amount: 9000 } }));
    expect(e.reasons.map((r) => r.rule)).toEqual(['big-payments', 'huge-payments-too']);
    expect(e.routing).toEqual({
      slack_channel: '#finance',
      approvers: { slack_user_ids: [], identities: ['ops@x'] },
      required_approvals: 2,
      timeout_seconds: 600,
      on_timeout: 'reject',
      min_timeout_seconds: 60,
      agent_may_route_to: [],
    });
  });

  it('routes entirely by the defaults when the approving rule has no approval block', () => {
    const q = policy({
      defaults: { decision: 'allow', slack_channel: '#default', required_approvals: 3, timeout_seconds: 120, on_timeout: 'approve' },
      rules: [{ name: 'ask', match: { action: 'deploy.*' }, decision: 'require_approval' }],
    });
    expect(evaluate(q, req({ action: 'deploy.prod' })).routing).toEqual({
      slack_channel: '#default',
      approvers: { slack_user_ids: [], identities: [] },
      required_approvals: 3,
      timeout_seconds: 120,
      on_timeout: 'approve',
      min_timeout_seconds: 60,
      agent_may_route_to: [],
    });
  });

  it('a rule with no slack channel anywhere routes to a null channel', () => {
    const q = policy({ rules: [{ name: 'ask', decision: 'require_approval' }] });
    expect(evaluate(q, req()).routing!.slack_channel).toBeNull();
  });

  it('matches on agent globs', () => {
    const q = policy({
      defaults: { decision: 'allow' },
      rules: [{ name: 'interns', match: { agent: ['intern-*', 'temp-?'] }, decision: 'deny' }],
    });
    expect(evaluate(q, req({ agent_id: 'intern-7' })).decision).toBe('deny');
    expect(evaluate(q, req({ agent_id: 'temp-1' })).decision).toBe('deny');
    expect(evaluate(q, req({ agent_id: 'billing-bot' })).decision).toBe('allow');
  });

  it('a rule with no match block matches every request', () => {
    const q = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'all', decision: 'deny' }] });
    expect(evaluate(q, req({ action: 'x', agent_id: 'y' })).matched_rules).toEqual(['all']);
  });

  it('gives the same answer for the same input', () => {
    const r = req({ params: { amount: 2000 } });
    expect(evaluate(p, r)).toEqual(evaluate(p, r));
  });
});

describe('evaluate: conditions', () => {
  function decides(when: Record<string, unknown>, r: Partial<EvaluationRequest>): boolean {
    const q = policy({
      defaults: { decision: 'allow' },
      rules: [{ name: 'r', match: { when: when as never }, decision: 'deny' }],
    });
    return evaluate(q, req(r)).decision === 'deny';
  }

  it('eq and ne compare values, treating numeric strings as numbers', () => {
    expect(decides({ 'params.currency': { eq: 'EUR' } }, { params: { currency: 'EUR' } })).toBe(true);
    expect(decides({ 'params.currency': { eq: 'EUR' } }, { params: { currency: 'USD' } })).toBe(false);
    expect(decides({ 'params.n': { eq: 5 } }, { params: { n: '5' } })).toBe(true);
    expect(decides({ 'params.currency': { ne: 'EUR' } }, { params: { currency: 'USD' } })).toBe(true);
    expect(decides({ 'params.currency': { ne: 'EUR' } }, { params: { currency: 'EUR' } })).toBe(false);
  });

  it('gt, gte, lt and lte compare at the boundary correctly', () => {
    const amount = (n: unknown) => ({ params: { amount: n } });
    expect(decides({ 'params.amount': { gt: 1000 } }, amount(1000))).toBe(false);
    expect(decides({ 'params.amount': { gt: 1000 } }, amount(1001))).toBe(true);
    expect(decides({ 'params.amount': { gte: 1000 } }, amount(1000))).toBe(true);
    expect(decides({ 'params.amount': { gte: 1000 } }, amount(999))).toBe(false);
    expect(decides({ 'params.amount': { lt: 10 } }, amount(9))).toBe(true);
    expect(decides({ 'params.amount': { lt: 10 } }, amount(10))).toBe(false);
    expect(decides({ 'params.amount': { lte: 10 } }, amount(10))).toBe(true);
    expect(decides({ 'params.amount': { lte: 10 } }, amount(11))).toBe(false);
  });

  it('a numeric string cannot dodge a numeric limit: "5000" is greater than 1000', () => {
    expect(decides({ 'params.amount': { gt: 1000 } }, { params: { amount: '5000' } })).toBe(true);
    expect(decides({ 'params.amount': { gt: 1000 } }, { params: { amount: ' 5000 ' } })).toBe(true);
  });

  it('a missing value never satisfies a numeric comparison; a non-numeric one does not satisfy it on an allow rule', () => {
    expect(decides({ 'params.amount': { gt: 1000 } }, { params: {} })).toBe(false);
    expect(decides({ 'params.amount': { lt: 1000 } }, { params: {} })).toBe(false);
    for (const amount of ['lots', '', true, null]) {
      expect(conditionHolds(amount, { gt: 1000 })).toBe(false);
      expect(conditionHolds(amount, { lt: 1000 }, 'allow')).toBe(false);
    }
  });

  it('in and not_in test membership, numbers and numeric strings alike', () => {
    expect(decides({ 'params.country': { in: ['XX', 'YY'] } }, { params: { country: 'YY' } })).toBe(true);
    expect(decides({ 'params.country': { in: ['XX', 'YY'] } }, { params: { country: 'ZZ' } })).toBe(false);
    expect(decides({ 'params.code': { in: [1, 2] } }, { params: { code: '2' } })).toBe(true);
    expect(decides({ 'params.country': { not_in: ['XX'] } }, { params: { country: 'ZZ' } })).toBe(true);
    expect(decides({ 'params.country': { not_in: ['XX'] } }, { params: { country: 'XX' } })).toBe(false);
  });

  it('matches tests strings against a regular expression; an allow rule refuses non-scalars, a deny rule looks inside them', () => {
    expect(decides({ 'params.to': { matches: '@evil\\.com$' } }, { params: { to: 'a@evil.com' } })).toBe(true);
    expect(decides({ 'params.to': { matches: '@evil\\.com$' } }, { params: { to: 'a@good.com' } })).toBe(false);
    expect(decides({ 'params.n': { matches: '^4\\d+$' } }, { params: { n: 4242 } })).toBe(true);
    expect(decides({ 'params.to': { matches: '@evil\\.com$' } }, { params: { to: ['a@evil.com'] } })).toBe(true);
    expect(conditionHolds(['a@evil.com'], { matches: '.*' }, 'allow')).toBe(false);
    expect(decides({ 'params.to': { matches: '.*' } }, { params: {} })).toBe(false);
  });

  it('exists tells present from absent values, and null counts as present', () => {
    expect(decides({ 'params.dry_run': { exists: true } }, { params: { dry_run: false } })).toBe(true);
    expect(decides({ 'params.dry_run': { exists: true } }, { params: { dry_run: null } })).toBe(true);
    expect(decides({ 'params.dry_run': { exists: true } }, { params: {} })).toBe(false);
    expect(decides({ 'params.dry_run': { exists: false } }, { params: {} })).toBe(true);
    expect(decides({ 'params.dry_run': { exists: false } }, { params: { dry_run: 1 } })).toBe(false);
  });

  it('reads nested paths in params and context, and top-level fields', () => {
    expect(decides({ 'params.a.b': { eq: 'deep' } }, { params: { a: { b: 'deep' } } })).toBe(true);
    expect(decides({ 'params.a.b': { eq: 'deep' } }, { params: { a: 'flat' } })).toBe(false);
    expect(decides({ 'context.x': { eq: 'prod' } }, { context: { x: 'prod' } })).toBe(true);
    expect(decides({ 'context.user.role': { in: ['admin'] } }, { context: { user: { role: 'admin' } } })).toBe(true);
    expect(decides({ agent_id: { eq: 'billing-bot' } }, {})).toBe(true);
    expect(decides({ action: { matches: '^payment\\.' } }, {})).toBe(true);
  });

  it('every condition of a rule must hold', () => {
    const when = { 'params.amount': { gt: 100 }, 'params.currency': { eq: 'EUR' } };
    expect(decides(when, { params: { amount: 200, currency: 'EUR' } })).toBe(true);
    expect(decides(when, { params: { amount: 200, currency: 'USD' } })).toBe(false);
    expect(decides(when, { params: { amount: 50, currency: 'EUR' } })).toBe(false);
  });

  it('several operators in one condition must all hold', () => {
    expect(conditionHolds(50, { gt: 10, lt: 100 })).toBe(true);
    expect(conditionHolds(150, { gt: 10, lt: 100 })).toBe(false);
  });

  it('lookup does not walk into inherited properties', () => {
    const r = req({ params: {} });
    expect(lookup(r, 'params.constructor')).toBeUndefined();
    expect(lookup(r, 'params.__proto__')).toBeUndefined();
    expect(lookup(r, 'params.toString')).toBeUndefined();
  });
});

describe('evaluate: when evaluation itself fails', () => {
  // Built by hand to get past parsePolicy, which would refuse the bad regex.
  function brokenPolicy(fail_mode: 'open' | 'closed'): Policy {
    return {
      fail_mode,
      defaults: { decision: 'allow', timeout_seconds: 900, on_timeout: 'reject', required_approvals: 1, min_timeout_seconds: 60, agent_may_route_to: [] },
      rules: [{ name: 'bad-regex', match: { when: { 'params.to': { matches: '([a-z' } } }, decision: 'allow' }],
      slack_users: {},
    };
  }

  it('denies, fail closed, and says the engine failed', () => {
    const e = evaluate(brokenPolicy('closed'), req({ params: { to: 'x' } }));
    expect(e.decision).toBe('deny');
    expect(e.reasons).toHaveLength(1);
    expect(e.reasons[0]).toMatchObject({ source: 'engine', decision: 'deny' });
    expect(e.reasons[0]!.message).toMatch(/fail closed/);
    expect(e.reasons[0]!.message).toMatch(/regexp/i);
    expect(e.matched_rules).toEqual([]);
    expect(e.routing).toBeNull();
  });

  it('allows with fail_mode open, and the reason says it was allowed because evaluation failed', () => {
    const e = evaluate(brokenPolicy('open'), req({ params: { to: 'x' } }));
    expect(e.decision).toBe('allow');
    expect(e.reasons[0]).toMatchObject({ source: 'engine', decision: 'allow' });
    expect(e.reasons[0]!.message).toMatch(/evaluation failed \(fail_mode: open\)/);
    expect(e.routing).toBeNull();
  });

  it('a broken rule whose other conditions do not match is never reached and does not deny', () => {
    const p = brokenPolicy('closed');
    p.rules[0]!.match.action = 'email.*';
    expect(evaluate(p, req({ action: 'payment.send', params: { to: 'x' } })).decision).toBe('allow');
  });
});
