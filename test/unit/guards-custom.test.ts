import { describe, expect, it } from 'vitest';
import { evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { counterQueries, COUNTERS_UNAVAILABLE } from '../../src/policy/guards/index.ts';
import { compile, MAX_VALUE_DEPTH, toCelValue } from '../../src/policy/guards/cel.ts';
import { parsePolicy, type Policy } from '../../src/policy/schema.ts';

// Friday 2026-11-27 07:30 in Berlin (CET, UTC+1).
const NOW = Date.UTC(2026, 10, 27, 6, 30);

function policy(custom: unknown[], extra: Record<string, unknown> = {}): Policy {
  const r = parsePolicy({ defaults: { decision: 'allow' }, guards: { custom }, ...extra });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}

const guard = (expression: string, over: Record<string, unknown> = {}) => ({ name: 'g', expression, decision: 'deny', ...over });
const req = (over: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'refund.issue', agent_id: 'bot', params: { amount: 150 }, context: {}, ...over });
const decide = (p: Policy, r: EvaluationRequest = req(), counters: Record<string, number> | null = {}, now = NOW) => evaluateRequest(p, r, { counters, now });

function problems(custom: unknown[]) {
  const r = parsePolicy({ guards: { custom } });
  if (r.ok) throw new Error('expected the policy to be refused');
  return r.problems;
}

describe('custom guard: the issue example', () => {
  const p = policy([
    {
      name: 'no-night-refunds',
      expression: 'action.startsWith("refund.") && params.amount > 100 && time.hour < 8',
      decision: 'deny',
      reason: 'Refunds over $100 wait for office hours',
      tz: 'Europe/Berlin',
    },
  ]);

  it('denies a large refund at 07:30 Berlin time with its reason', () => {
    const r = decide(p);
    expect(r.decision).toBe('deny');
    expect(r.reasons).toContainEqual({ source: 'guard', guard: 'custom', decision: 'deny', message: 'Refunds over $100 wait for office hours' });
  });

  it('lets the same refund through at 08:00 Berlin time, a small one at 07:30, and another action', () => {
    expect(decide(p, req(), {}, Date.UTC(2026, 10, 27, 7, 0)).decision).toBe('allow');
    expect(decide(p, req({ params: { amount: 100 } })).decision).toBe('allow');
    expect(decide(p, req({ action: 'payment.send' })).decision).toBe('allow');
  });
});

describe('custom guard variables', () => {
  const holds = (expression: string, r: EvaluationRequest = req(), extra: Record<string, unknown> = {}) => decide(policy([guard(expression, extra)]), r).decision === 'deny';

  it('action, agent and cost_usd (0 when absent)', () => {
    expect(holds('action == "refund.issue" && agent == "bot"')).toBe(true);
    expect(holds('agent == "other"')).toBe(false);
    expect(holds('cost_usd == 0.0')).toBe(true);
    expect(holds('cost_usd > 2.5', req({ cost_usd: 3 }))).toBe(true);
    expect(holds('cost_usd > 2.5', req({ cost_usd: 2 }))).toBe(false);
  });

  it('params and context, nested maps and lists, and has() for an optional key', () => {
    const r = req({ params: { order: { vendor: 'acme', lines: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 5 }] } }, context: { user: { role: 'intern' } } });
    expect(holds('params.order.vendor == "acme"', r)).toBe(true);
    expect(holds('params.order.lines.exists(l, l.qty > 4)', r)).toBe(true);
    expect(holds('params.order.lines.all(l, l.qty > 4)', r)).toBe(false);
    expect(holds('size(params.order.lines) == 2', r)).toBe(true);
    expect(holds('context.user.role == "intern"', r)).toBe(true);
    expect(holds('has(params.order.coupon) && params.order.coupon != ""', r)).toBe(false);
  });

  it('time in the guard zone: hour, minute, weekday, date and tz', () => {
    expect(holds('time.hour == 7 && time.minute == 30 && time.weekday == "fri" && time.date == "2026-11-27" && time.tz == "Europe/Berlin"', req(), { tz: 'Europe/Berlin' })).toBe(true);
    expect(holds('time.hour == 6 && time.tz == "UTC"')).toBe(true);
    // In Los Angeles it is still Thursday evening.
    expect(holds('time.weekday == "thu" && time.hour == 22', req(), { tz: 'America/Los_Angeles' })).toBe(true);
    expect(holds('time.weekday == "fri"', req(), { tz: 'America/Los_Angeles' })).toBe(false);
  });

  it('matchesRe2 runs a literal RE2 pattern', () => {
    expect(holds('params.email.matchesRe2("@corp\\\\.example$")', req({ params: { email: 'a@corp.example' } }))).toBe(true);
    expect(holds('params.email.matchesRe2("@corp\\\\.example$")', req({ params: { email: 'a@corpXexample' } }))).toBe(false);
  });
});

describe('custom guard counters', () => {
  const p = policy([
    guard('counters.refunds_1h >= 3', { counters: { refunds_1h: { window_seconds: 3600, action: 'refund.*' } } }),
    { name: 'tenant-wide', expression: 'counters.all_calls > 100', decision: 'require_approval', counters: { all_calls: { window_seconds: 60, per: 'tenant' } } },
  ]);

  it('asks the edge for each declared counter, per agent (normalised) or per tenant', () => {
    expect(counterQueries(p, req({ agent_id: 'BOT' }), NOW)).toEqual([
      { kind: 'window', key: 'cg:g:refunds_1h:a:bot', window_ms: 3_600_000 },
      { kind: 'window', key: 'cg:tenant-wide:all_calls:t', window_ms: 60_000 },
    ]);
  });

  it('reads the count before this call: the fourth refund in the hour is denied, the third is not', () => {
    const third = decide(p, req(), { 'cg:g:refunds_1h:a:bot': 2 });
    expect(third.decision).toBe('allow');
    expect(third.ops).toEqual([
      { kind: 'hit', key: 'cg:g:refunds_1h:a:bot', window_ms: 3_600_000, amount: 1 },
      { kind: 'hit', key: 'cg:tenant-wide:all_calls:t', window_ms: 60_000, amount: 1 },
    ]);
    const fourth = decide(p, req(), { 'cg:g:refunds_1h:a:bot': 3 });
    expect(fourth.decision).toBe('deny');
    // A refused call is not counted.
    expect(fourth.ops).toEqual([]);
  });

  it('a call to another action reads the counter but does not count in it', () => {
    const r = decide(p, req({ action: 'email.send' }), { 'cg:tenant-wide:all_calls:t': 101 });
    expect(r.decision).toBe('require_approval');
    expect(r.ops).toEqual([{ kind: 'hit', key: 'cg:tenant-wide:all_calls:t', window_ms: 60_000, amount: 1 }]);
  });

  it('without counters a guard that declares them fails closed; one that declares none still runs', () => {
    const mixed = policy([guard('counters.n > 1', { name: 'counted', counters: { n: { window_seconds: 60 } } }), guard('params.amount > 100', { name: 'plain' })]);
    const r = decide(mixed, req({ params: { amount: 1 } }), COUNTERS_UNAVAILABLE);
    expect(r.decision).toBe('deny');
    expect(r.reasons).toEqual([{ source: 'engine', guard: 'custom', decision: 'deny', message: 'denied because the custom guard failed (fail closed): custom guard counted: counters unavailable' }]);
  });
});

describe('custom guard failures', () => {
  const fails = (expression: string, r: EvaluationRequest, extra: Record<string, unknown> = {}) => decide(policy([guard(expression, { decision: 'require_approval' })], extra), r);

  it('a missing params key fails the guard closed, naming the key', () => {
    const r = fails('params.amount > 100', req({ params: {} }));
    expect(r.decision).toBe('deny');
    expect(r.reasons[0]!.message).toBe('denied because the custom guard failed (fail closed): custom guard g: No such key: amount');
  });

  it('a type mismatch the agent chose (a string amount) fails closed', () => {
    const r = fails('params.amount > 100', req({ params: { amount: '5000' } }));
    expect(r.decision).toBe('deny');
    expect(r.reasons[0]!.message).toContain('no such overload');
  });

  it('a result that is not a bool fails closed', () => {
    const r = fails('params.amount', req());
    expect(r.decision).toBe('deny');
    expect(r.reasons[0]!.message).toContain('the expression gave number, not a bool');
  });

  it('with fail_mode: open a failing guard lets the call through and says so', () => {
    const r = fails('params.amount > 100', req({ params: {} }), { fail_mode: 'open' });
    expect(r.decision).toBe('allow');
    expect(r.failed_open).toBe(true);
    expect(r.reasons.map((x) => x.message)).toContainEqual(expect.stringContaining('let through because fail_mode is open: custom guard g: No such key: amount'));
  });

  it('an error on one side of || that the other side decides is not a failure (CEL semantics)', () => {
    expect(fails('params.amount > 100 || params.flag == true', req({ params: { flag: true } })).decision).toBe('require_approval');
    expect(fails('params.amount > 100 && params.flag == true', req({ params: { flag: false } })).decision).toBe('allow');
  });
});

describe('custom guard on hostile input', () => {
  const hostile = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"toString":"t","amount":5}') as Record<string, unknown>;

  it('keys like __proto__, constructor and toString are plain data, and own keys only are visible', () => {
    const holds = (expression: string) => decide(policy([guard(expression)]), req({ params: hostile })).decision;
    expect(holds('params["__proto__"].polluted == true')).toBe('deny');
    expect(holds('params.constructor["prototype"].x == 1')).toBe('deny');
    expect(holds('params.toString == "t"')).toBe('deny');
    expect(holds('size(params) == 4')).toBe('deny');
    // A key that is only on Object.prototype is not there.
    expect(decide(policy([guard('params.hasOwnProperty == 1')]), req()).reasons[0]!.message).toContain('No such key: hasOwnProperty');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('converts only plain JSON: non-finite numbers and odd objects become null', () => {
    expect(toCelValue({ a: Number.NaN, b: new Date(0), c: [Number.POSITIVE_INFINITY, 'x'] })).toEqual(new Map<string, unknown>([['a', null], ['b', null], ['c', [null, 'x']]]));
  });

  it('params nested deeper than the limit fail the guard closed instead of being half read', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_VALUE_DEPTH + 5; i++) deep = { d: deep };
    const r = decide(policy([guard('has(params.x)')]), req({ params: { deep } as Record<string, unknown> }));
    expect(r.decision).toBe('deny');
    expect(r.reasons[0]!.message).toContain(`nested deeper than ${MAX_VALUE_DEPTH} levels`);
  });

  it('the time budget is asked while converting params, so a huge list runs out of budget instead of running on', () => {
    const p = policy([guard('params.items.exists(i, i.qty == -1)')], { evaluation_budget_ms: 50 });
    // A fake clock that advances 1 ms each time it is asked.
    const ticking = () => {
      let t = 0;
      return () => ++t;
    };
    const items = Array.from({ length: 100_000 }, (_, i) => ({ qty: i }));
    const huge = evaluateRequest(p, req({ params: { items } }), { counters: {}, now: NOW, elapsed: ticking() });
    expect(huge.decision).toBe('deny');
    expect(huge.reasons[0]!.message).toBe('denied because evaluation exceeded its time budget of 50 ms (fail closed)');
    const small = evaluateRequest(p, req({ params: { items: items.slice(0, 10) } }), { counters: {}, now: NOW, elapsed: ticking() });
    expect(small.decision).toBe('allow');
  });

  it('a comprehension over a 100,000-element list is evaluated (linearly) to the right answer', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => ({ qty: i }));
    expect(decide(policy([guard('params.items.exists(i, i.qty == 99999)')]), req({ params: { items } })).decision).toBe('deny');
    expect(decide(policy([guard('params.items.all(i, i.qty < 99999)')]), req({ params: { items } })).decision).toBe('allow');
  });
});

describe('custom guard validation at PUT', () => {
  it('a syntax error is a problem at guards.custom.N.expression', () => {
    const ps = problems([guard('params.amount >'), guard('true', { name: 'ok' })]);
    expect(ps).toEqual([{ path: 'guards.custom.0.expression', message: expect.stringMatching(/^does not parse: /) }]);
  });

  it('a type error and a non-bool expression are refused', () => {
    expect(problems([guard('action + 1 > 2')])[0]!.message).toMatch(/^does not type-check: /);
    expect(problems([guard('size(action)')])[0]!.message).toBe('must be a bool expression (this one is int)');
    expect(problems([guard('unknown_var == 1')])[0]!.message).toMatch(/^does not type-check: /);
  });

  it('refuses an expression longer than 2,000 characters and one nested too deep', () => {
    expect(problems([guard(`${'true && '.repeat(250)}true`)])[0]!.path).toBe('guards.custom.0.expression');
    expect(problems([guard(`${'('.repeat(40)}true${')'.repeat(40)}`)])[0]!.message).toContain('maxDepth');
  });

  it('refuses a comprehension inside another, and params read inside a comprehension body', () => {
    expect(problems([guard('params.a.exists(x, params.b.exists(y, y == x))')])[0]!.message).toContain('inside another');
    expect(problems([guard('params.a.exists(x, [1, 2].exists(y, y == x))')])[0]!.message).toContain('inside another');
    expect(problems([guard('params.a.exists(x, params.text.contains(x))')])[0]!.message).toContain('not "params"');
    // Chaining is not nesting: each list is walked once.
    expect(compile('params.a.filter(x, x > 1).exists(y, y == 3 && time.hour > 1)').problems).toEqual([]);
  });

  it('refuses matches() (backtracking), a non-RE2 matchesRe2 pattern, cel.bind, and undeclared counters', () => {
    expect(problems([guard('params.s.matches("(a+)+$")')])[0]!.message).toContain('use matchesRe2');
    expect(problems([guard('params.s.matchesRe2("(?=a)b")')])[0]!.message).toContain('lookahead');
    expect(problems([guard('params.s.matchesRe2(params.p)')])[0]!.message).toContain('string literal');
    expect(problems([guard('cel.bind(x, params.s, x == "a")')])[0]!.message).toContain('cel.bind');
    expect(problems([guard('counters.nope > 1')])[0]!.message).toContain('counters.nope is not declared');
  });

  it('refuses duplicate names, an unknown time zone and a bad decision, each at its path', () => {
    expect(problems([guard('true'), guard('false')]).map((p) => p.path)).toEqual(['guards.custom.1.name']);
    expect(problems([guard('true', { tz: 'Nowhere/Land' })]).map((p) => p.path)).toEqual(['guards.custom.0.tz']);
    expect(problems([guard('true', { decision: 'allow' })]).map((p) => p.path)).toEqual(['guards.custom.0.decision']);
  });

  it('compiles each expression once and serves it from the cache after', () => {
    const a = compile('params.amount > 7');
    expect(compile('params.amount > 7')).toBe(a);
    expect(a.program).toBeTypeOf('function');
  });
});

describe('custom guard: risk (issue 13)', () => {
  const outside = { name: 'business-hours', expression: 'time.hour < 9', decision: 'require_approval', reason: 'Outside business hours', risk: 0.6 };

  it("a match scores the guard's own risk, as AgentHalt's require_approval(risk_score=0.6)", () => {
    const r = decide(policy([outside]));
    expect(r.decision).toBe('require_approval');
    expect(r.risk_score).toBeCloseTo(0.6, 10);
  });

  it('without risk a match scores as a rule does: 0.5 for require_approval, 1 for deny', () => {
    const { risk: _, ...plain } = outside;
    expect(decide(policy([plain])).risk_score).toBeCloseTo(0.5, 10);
    expect(decide(policy([{ ...plain, decision: 'deny' }])).risk_score).toBe(1);
  });

  it('risk changes the score, never the decision: a low-risk deny still denies', () => {
    const r = decide(policy([{ ...outside, decision: 'deny', risk: 0.2 }]));
    expect(r.decision).toBe('deny');
    expect(r.risk_score).toBeCloseTo(0.2, 10);
  });

  it('combines with the other votes, and says nothing when the expression is false', () => {
    const withRule = policy([outside], { rules: [{ name: 'ask', match: { action: 'refund.*' }, decision: 'require_approval' }] });
    expect(decide(withRule).risk_score).toBeCloseTo(1 - 0.4 * 0.5, 10);
    expect(decide(policy([outside]), req(), {}, Date.UTC(2026, 10, 27, 10, 0)).risk_score).toBe(0);
  });

  it('refuses a risk outside [0, 1] or not a number, at its path', () => {
    for (const risk of [1.5, -0.1, '0.6']) {
      expect(problems([{ ...outside, risk }]).map((p) => p.path)).toContain('guards.custom.0.risk');
    }
  });
});
