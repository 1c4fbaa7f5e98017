// The agent writes action, agent_id, params and context; the policy is
// evaluated on them. These tests are named for the attack each stops: a
// pattern or glob that stalls the process, a value shaped to dodge a rule, an
// override that lifts a deny. Hostile inputs that took seconds to forever on
// the old backtracking code must answer here; the only clock bound is a
// liveness one (LIVENESS_MS, orders of magnitude above the real cost), so a
// regression fails instead of hanging the suite.
import { describe, expect, it } from 'vitest';
import { conditionHolds, evaluate, evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { globMatch, globMatchRaw } from '../../src/policy/glob.ts';
import { counterQueries } from '../../src/policy/guards/index.ts';
import * as scope from '../../src/policy/guards/scope.ts';
import { normalizeText, plainNumber } from '../../src/policy/normalize.ts';
import { re2Spans, withoutCaptures } from '../../src/policy/regex.ts';
import { parsePolicy, type Policy, type PolicyInput } from '../../src/policy/schema.ts';
import { createEvaluator } from '../../src/services/evaluator.ts';
import { silentLogger } from '../../src/log.ts';

const LIVENESS_MS = 5_000;

function policy(doc: PolicyInput): Policy {
  const r = parsePolicy(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
}

function problems(doc: unknown) {
  const r = parsePolicy(doc);
  return r.ok ? [] : r.problems;
}

const req = (r: Partial<EvaluationRequest> = {}): EvaluationRequest => ({ action: 'payment.send', agent_id: 'bot', params: {}, context: {}, ...r });
const NOW = Date.UTC(2026, 0, 1);
const run = (p: Policy, r: Partial<EvaluationRequest>, elapsed?: () => number) =>
  evaluateRequest(p, req(r), { counters: {}, now: NOW, ...(elapsed ? { elapsed } : {}) });

/** Runs fn and says how long it took; only ever compared against LIVENESS_MS. */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

describe('regexes from policies run on RE2', () => {
  it('a catastrophic-backtracking `matches` pattern (^(c+)+$) answers on hostile input instead of stalling the process', () => {
    const p = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'cs', match: { when: { 'params.q': { matches: '^(c+)+$' } } }, decision: 'deny' }] });
    const { value, ms } = timed(() => run(p, { params: { q: `${'c'.repeat(5_000)}!` } }));
    expect(value.decision).toBe('allow');
    expect(run(p, { params: { q: 'ccc' } }).decision).toBe('deny');
    expect(ms).toBeLessThan(LIVENESS_MS);
  });

  it('a custom sensitive pattern that backtracks catastrophically ((\\w+\\s?)+$) scans hostile params without freezing', () => {
    const p = policy({
      defaults: { decision: 'allow' },
      guards: { sensitive_data: { detectors: [], custom: [{ name: 'words', pattern: '(\\w+\\s?)+$' }], on_finding: 'deny' } },
    });
    const { value, ms } = timed(() => run(p, { params: { text: `${'a'.repeat(20_000)}!` } }));
    expect(value.decision).toBe('allow');
    expect(run(p, { params: { text: 'hello world' } }).decision).toBe('deny');
    expect(ms).toBeLessThan(LIVENESS_MS);
  });

  it('a `matches` pattern with lookahead, lookbehind or a backreference is refused, naming the path and the construct', () => {
    const at = (pattern: string) => problems({ rules: [{ name: 'r', match: { when: { 'params.x': { matches: pattern } } }, decision: 'deny' }] });
    expect(at('^(?=.*admin).*$')).toEqual([{ path: 'rules.0.match.when.params.x.matches', message: expect.stringMatching(/lookahead "\(\?="/) }]);
    expect(at('(?<!x)y')[0]!.message).toMatch(/lookbehind/);
    expect(at('(a)\\1')[0]!.message).toMatch(/backreference/);
    expect(at('(a)\\1')[0]!.message).toMatch(/RE2/);
    expect(at('^(c+)+$')).toEqual([]);
  });

  it('a custom sensitive pattern RE2 cannot run is refused at its path', () => {
    const bad = problems({ guards: { sensitive_data: { custom: [{ name: 'emp', pattern: '(?<=EMP-)\\d{6}' }] } } });
    expect(bad).toEqual([{ path: 'guards.sensitive_data.custom.0.pattern', message: expect.stringMatching(/lookbehind/) }]);
  });

  it('custom patterns still find and redact what they match, Unicode included', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: { detectors: [], custom: [{ name: 'emp', pattern: 'EMP-\\d{6}' }, { name: 'greek', pattern: '\\p{Greek}+' }] } } });
    const e = run(p, { params: { note: 'é EMP-123456 and αβγ' } });
    expect(e.decision).toBe('modify');
    expect(e.params).toEqual({ note: 'é [REDACTED:emp] and [REDACTED:greek]' });
  });
});

describe('sensitive field names', () => {
  it('a sensitive field name is not hidden by zero-width characters, fullwidth letters or case in the key', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: { detectors: [], on_finding: 'deny' } } });
    for (const key of ['pass\u200bword', 'ＰＡＳＳＷＯＲＤ', 'Api-Key', ' token ']) {
      expect(run(p, { params: { [key]: 'hunter2' } }).decision, JSON.stringify(key)).toBe('deny');
    }
    expect(run(p, { params: { passage: 'x' } }).decision).toBe('allow');
  });
});

describe('RE2 spans', () => {
  it('drops capturing groups without touching classes, escapes or \\Q…\\E, and finds the same spans', () => {
    expect(withoutCaptures('(a)(?:b)(?P<n>c)(?<m>d)')).toBe('(?:a)(?:b)(?:c)(?:d)');
    expect(withoutCaptures('[(]\\(\\Q(x)\\E(y)')).toBe('[(]\\(\\Q(x)\\E(?:y)');
    expect(withoutCaptures('[]()](z)')).toBe('[]()](?:z)');
    expect(re2Spans('(ab)+', 'xababyab')).toEqual([{ start: 1, end: 5 }, { start: 6, end: 8 }]);
    expect(re2Spans('(?i)(emp)-(\\d+)', 'a EMP-12 b emp-3')).toEqual([{ start: 2, end: 8 }, { start: 11, end: 16 }]);
  });
});

describe('globs are matched without backtracking', () => {
  it('a many-star glob (*a*a*a*a*a*a*a*a*b) against a long action answers instead of stalling the process', () => {
    const p = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'stars', match: { action: '*a*a*a*a*a*a*a*a*b' }, decision: 'deny' }] });
    const { value, ms } = timed(() => run(p, { action: 'a'.repeat(5_000) }));
    expect(value.decision).toBe('allow');
    expect(run(p, { action: `${'a'.repeat(100)}b` }).decision).toBe('deny');
    expect(ms).toBeLessThan(LIVENESS_MS);
  });

  it('keeps glob semantics: * any run including dots, ? one character, everything else literal', () => {
    expect(globMatchRaw('*', '')).toBe(true);
    expect(globMatchRaw('a*', 'a.b.c')).toBe(true);
    expect(globMatchRaw('*.send', 'email.send')).toBe(true);
    expect(globMatchRaw('*.send', 'email.sender')).toBe(false);
    expect(globMatchRaw('a?c', 'abc')).toBe(true);
    expect(globMatchRaw('a?c', 'ac')).toBe(false);
    expect(globMatchRaw('a*b*c', 'aXbYbZc')).toBe(true);
    expect(globMatchRaw('a*b*c', 'aXbYbZ')).toBe(false);
    expect(globMatchRaw('**x', 'yyx')).toBe(true);
    expect(globMatchRaw('.*', 'xy')).toBe(false);
    expect(globMatchRaw('[ab]', 'a')).toBe(false);
  });
});

describe('the evaluation time budget', () => {
  const rules = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, match: { action: `other${i}.*` }, decision: 'allow' as const }));
  /** An elapsed() that reports `over` ms once it has been asked `calls` times. */
  const clockAfter = (calls: number, over = 1_000) => {
    let n = 0;
    return () => (++n > calls ? over : 0);
  };

  it('an evaluation that outlasts its time budget is denied, and the reason says the budget was exceeded (fail closed)', () => {
    const p = policy({ defaults: { decision: 'allow' }, rules });
    const e = run(p, {}, clockAfter(3));
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]).toMatchObject({ source: 'engine', decision: 'deny' });
    expect(e.reasons[0]!.message).toMatch(/time budget of 50 ms/);
    expect(e.failed_open).toBeUndefined();
  });

  it('with fail_mode open an over-budget evaluation is allowed and flagged failed_open', () => {
    const p = policy({ fail_mode: 'open', defaults: { decision: 'deny' }, rules });
    const e = run(p, {}, clockAfter(3));
    expect(e.decision).toBe('allow');
    expect(e.failed_open).toBe(true);
    expect(e.reasons.some((r) => r.source === 'engine' && /time budget/.test(r.message))).toBe(true);
  });

  it('a deny found before the budget ran out still denies under fail_mode open', () => {
    const p = policy({ fail_mode: 'open', defaults: { decision: 'allow' }, rules: [{ name: 'no', match: { action: 'payment.*' }, decision: 'deny' }, ...rules] });
    const e = run(p, {}, clockAfter(2));
    expect(e.decision).toBe('deny');
    expect(e.matched_rules).toEqual(['no']);
  });

  it('the budget is asked in the guards too, between guards and between scanned strings', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { sensitive_data: {}, scope: { deny: ['nothing.*'] } } });
    const e = run(p, { params: { a: 'x', b: 'y', c: 'z' } }, clockAfter(3));
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]!.message).toMatch(/time budget/);
  });

  it('evaluation_budget_ms sets the budget; within it nothing changes', () => {
    const p = policy({ evaluation_budget_ms: 5_000, defaults: { decision: 'allow' }, rules });
    expect(run(p, {}, () => 4_999).decision).toBe('allow');
    const over = run(p, {}, () => 5_001);
    expect(over.decision).toBe('deny');
    expect(over.reasons[0]!.message).toMatch(/time budget of 5000 ms/);
    expect(problems({ evaluation_budget_ms: 0 })[0]!.path).toBe('evaluation_budget_ms');
  });

  it('the edge times the evaluation: a policy that outlasts evaluation_budget_ms is denied by the evaluator', async () => {
    const big = 'x'.repeat(200_000);
    const p = policy({
      evaluation_budget_ms: 1,
      defaults: { decision: 'allow' },
      rules: Array.from({ length: 200 }, (_, i) => ({ name: `m${i}`, match: { when: { 'params.q': { matches: `y${i}$` } } }, decision: 'deny' as const })),
    });
    const evaluator = createEvaluator({
      policies: { current: async () => ({ version: 1, policy: p }) } as never,
      counters: {} as never,
      log: silentLogger,
      clock: () => new Date(NOW),
    });
    const { evaluation } = await evaluator.evaluate('t', req({ params: { q: big } }), 'r', { dryRun: true });
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.reasons[0]!.message).toMatch(/time budget of 1 ms/);
  });
});

describe('numeric comparisons fail closed', () => {
  const p = policy({
    defaults: { decision: 'allow' },
    rules: [{ name: 'big-payments', match: { action: 'payment.*', when: { 'params.amount': { gt: 1000 } } }, decision: 'deny' }],
  });

  it('a deny on params.amount > 1000 is not dodged by "5,000", "$5000", "5000 USD", [5000], {"value": 5000} or fullwidth digits', () => {
    for (const amount of ['5,000', '$5000', '5000 USD', [5000], { value: 5000 }, '５０００', '0x1388', 'Infinity', '5000\u200b', null, true]) {
      const e = run(p, { params: { amount } });
      expect(e.decision, JSON.stringify(amount)).toBe('deny');
      expect(e.reasons[0]!.message).toBe('rule big-payments matched: params.amount is not a plain number');
    }
  });

  it('plain numbers and plain numeric strings still compare as numbers; an absent value does not match', () => {
    expect(run(p, { params: { amount: 5000 } }).decision).toBe('deny');
    expect(run(p, { params: { amount: ' 5000 ' } }).decision).toBe('deny');
    expect(run(p, { params: { amount: '1e4' } }).decision).toBe('deny');
    expect(run(p, { params: { amount: '-3.5' } }).decision).toBe('allow');
    expect(run(p, { params: { amount: 999 } }).decision).toBe('allow');
    expect(run(p, { params: {} }).decision).toBe('allow');
    expect(run(p, { params: { amount: 5000 } }).reasons[0]!.message).toBe('rule big-payments matched');
  });

  it('a require_approval rule fails closed too, and a rule reason keeps its text with the note appended', () => {
    const q = policy({
      defaults: { decision: 'allow' },
      rules: [{ name: 'ask', match: { when: { 'params.amount': { gte: 100 } } }, decision: 'require_approval', reason: 'big spend' }],
    });
    const e = run(q, { params: { amount: '100 EUR' } });
    expect(e.decision).toBe('require_approval');
    expect(e.reasons[0]!.message).toBe('big spend (params.amount is not a plain number)');
  });

  it('an allow rule on a numeric comparison is not earned by a value that is not a number', () => {
    const q = policy({ defaults: { decision: 'deny' }, rules: [{ name: 'small', match: { when: { 'params.amount': { lt: 100 } } }, decision: 'allow' }] });
    expect(run(q, { params: { amount: 5 } }).decision).toBe('allow');
    expect(run(q, { params: { amount: '5 USD' } }).decision).toBe('deny');
    expect(run(q, { params: { amount: [5] } }).decision).toBe('deny');
  });

  it('plainNumber accepts only finite plain numbers', () => {
    expect(['5000', ' -3.5 ', '1e3', '.5', '+2'].map(plainNumber)).toEqual([5000, -3.5, 1000, 0.5, 2]);
    expect(['', '5,000', '1e999', 'NaN', '0x10', '1_000', '５'].map(plainNumber)).toEqual(Array(7).fill(undefined));
  });
});

describe('string comparisons normalise what the agent wrote', () => {
  const deny = (cond: Record<string, unknown>) =>
    policy({ defaults: { decision: 'allow' }, rules: [{ name: 'evil', match: { when: { 'params.account': cond } }, decision: 'deny' }] });
  const variants = ['ACCT_EVIL', ' acct_evil', 'acct_evil\t', 'acct\u200b_evil', '\ufeffacct_evil\u00ad', 'ａｃｃｔ＿ｅｖｉｌ', 'Acct_Evil\u2060'];

  it('an eq / in deny on acct_evil is not dodged by case, surrounding whitespace, zero-width characters or fullwidth letters', () => {
    for (const p of [deny({ eq: 'acct_evil' }), deny({ in: ['acct_good', 'acct_evil'] })]) {
      for (const account of variants) expect(run(p, { params: { account } }).decision, JSON.stringify(account)).toBe('deny');
      expect(run(p, { params: { account: 'acct_fine' } }).decision).toBe('allow');
    }
  });

  it('an eq deny is not dodged by wrapping the value in an array or object', () => {
    const p = deny({ eq: 'acct_evil' });
    expect(run(p, { params: { account: ['acct_evil'] } }).decision).toBe('deny');
    expect(run(p, { params: { account: { id: 'ACCT_EVIL' } } }).decision).toBe('deny');
  });

  it('case_sensitive: true keeps case but still removes invisible characters and whitespace', () => {
    const p = deny({ eq: 'acct_evil', case_sensitive: true });
    expect(run(p, { params: { account: 'ACCT_EVIL' } }).decision).toBe('allow');
    expect(run(p, { params: { account: ' acct\u200b_evil ' } }).decision).toBe('deny');
  });

  it('a not_in / ne allow rule does not let a variant of a listed value through', () => {
    for (const cond of [{ not_in: ['acct_evil'] }, { ne: 'acct_evil' }]) {
      const p = policy({ defaults: { decision: 'deny' }, rules: [{ name: 'ok', match: { when: { 'params.account': cond } }, decision: 'allow' }] });
      for (const account of variants) expect(run(p, { params: { account } }).decision, JSON.stringify(account)).toBe('deny');
      expect(run(p, { params: { account: 'acct_fine' } }).decision).toBe('allow');
    }
  });

  it('a variant never earns an allow: eq / in on an allow rule compare exactly', () => {
    const p = policy({ defaults: { decision: 'deny' }, rules: [{ name: 'ok', match: { when: { 'params.account': { in: ['acct_safe'] } } }, decision: 'allow' }] });
    expect(run(p, { params: { account: 'acct_safe' } }).decision).toBe('allow');
    expect(run(p, { params: { account: 'ACCT_SAFE' } }).decision).toBe('deny');
  });

  it('a ne / not_in deny rule reads the value exactly: a variant of the exception is denied', () => {
    const p = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'only-main', match: { when: { 'params.account': { ne: 'acct_main' } } }, decision: 'deny' }] });
    expect(run(p, { params: { account: 'acct_main' } }).decision).toBe('allow');
    expect(run(p, { params: { account: 'ACCT_MAIN' } }).decision).toBe('deny');
  });

  it('an action glob deny is not dodged by case, fullwidth, surrounding spaces or zero-width characters in the action', () => {
    const p = policy({ defaults: { decision: 'allow' }, rules: [{ name: 'no-drop', match: { action: 'database.drop*' }, decision: 'deny' }] });
    for (const action of ['DATABASE.DROP_TABLE', 'database.dr\u200bop', ' database.drop ', 'ｄａｔａｂａｓｅ.drop']) {
      expect(run(p, { action }).decision, JSON.stringify(action)).toBe('deny');
    }
  });

  it('an agent glob and the scope lists normalise the same way', () => {
    expect(globMatch('untrusted-*', 'UNTRUSTED-1')).toBe(true);
    const p = policy({ defaults: { decision: 'allow' }, guards: { scope: { deny: ['admin.*'], agents: { 'intern-*': { read_only: true } } } } });
    expect(run(p, { action: 'ADMIN.delete' }).decision).toBe('deny');
    expect(run(p, { action: 'crm.update', agent_id: 'Intern-\u200b7' }).decision).toBe('deny');
  });

  it('normalizeText folds NFKC, drops invisible characters, trims and folds case', () => {
    expect(normalizeText(' ＡＢＣ\u200d\u00ad ')).toBe('abc');
    expect(normalizeText(' ＡＢＣ ', true)).toBe('ABC');
    expect(conditionHolds('ＡＣＣＴ', { eq: 'acct' }, 'restrict')).toBe(true);
    expect(conditionHolds('ＡＣＣＴ', { eq: 'acct' }, 'allow')).toBe(false);
  });
});

describe('rate limits count spellings together', () => {
  it('an agent cannot spread calls over spellings of its action to dodge a per-action rate limit', () => {
    const p = policy({ defaults: { decision: 'allow' }, guards: { rate_limit: { per_agent_action: { per_minute: 2 } } } });
    const keys = (action: string) => counterQueries(p, req({ action, agent_id: 'Bot' }), NOW).map((q) => q.key);
    expect(keys('PAYMENT.send')).toEqual(keys('payment.send'));
    expect(keys('ｐａｙｍｅｎｔ.se\u200bnd')).toEqual(keys('payment.send'));
    const [key] = keys('payment.send');
    const e = evaluateRequest(p, req({ action: 'Payment.Send', agent_id: 'bot' }), { counters: { [key!]: 2 }, now: NOW });
    expect(e.decision).toBe('deny');
  });
});

describe('per-agent scope overrides only add restrictions', () => {
  const cfg = (c: Record<string, unknown>) => policy({ guards: { scope: c } } as PolicyInput).guards!.scope!;
  const decisions = (c: ReturnType<typeof cfg>, action: string, agent_id: string) => scope.evaluate(c, req({ action, agent_id })).findings.map((f) => f.decision);

  it('an agent override with its own deny list cannot lift the tenant deny (a ported deny_by_agent)', () => {
    const c = cfg({ deny: ['drop_*'], agents: { untrusted_agent: { deny: ['send_*'] } } });
    expect(decisions(c, 'drop_table', 'untrusted_agent')).toEqual(['deny']);
    expect(decisions(c, 'send_email', 'untrusted_agent')).toEqual(['deny']);
    expect(decisions(c, 'send_email', 'other')).toEqual([]);
  });

  it('require_approval is a union, read_only an OR, otherwise the stricter, and an override allow list narrows the tenant one', () => {
    const c = cfg({
      allow: ['kb.*', 'crm.*'],
      otherwise: 'require_approval',
      require_approval: ['crm.export'],
      agents: { 'bot-*': { allow: ['kb.*', 'email.*'], require_approval: ['kb.write'], otherwise: 'deny' }, 'bot-ro': { read_only: false, otherwise: 'require_approval' } },
    });
    expect(decisions(c, 'kb.write', 'bot-1')).toEqual(['require_approval']);
    expect(decisions(c, 'crm.get', 'bot-1')).toEqual(['deny']); // not in the override's allow list; its otherwise is deny
    expect(decisions(c, 'email.send', 'bot-1')).toEqual(['deny']); // not in the tenant's allow list: an override cannot widen it
    expect(decisions(c, 'email.send', 'human')).toEqual(['require_approval']);
    expect(decisions(c, 'crm.export', 'bot-ro')).toContain('require_approval');
    const ro = cfg({ read_only: true, agents: { 'bot-*': { read_only: false } } });
    expect(decisions(ro, 'crm.update', 'bot-1')).toEqual(['deny']);
  });
});

describe('default read patterns', () => {
  const ro = policy({ guards: { scope: { read_only: true } } }).guards!.scope!;
  const isRead = (action: string) => scope.isReadAction(ro, action);

  it('recognise snake_case, camelCase, kebab-case and dotted reads', () => {
    for (const a of ['get_user', 'listUsers', 'read_file', 'searchDocs', 'fetch_url', 'find-contact', 'queryOrders', 'crm.contacts.list', 'db.get', 'files.read_file', 'github.getRepo', 'getHTTPHeaders', 'search.web']) {
      expect(isRead(a), a).toBe(true);
    }
  });

  it('do not take non-reads for reads: getaway.book, list_delete, getOrCreate, target, settings.update', () => {
    for (const a of ['getaway.book', 'getaway', 'list_delete', 'getOrCreateUser', 'get_and_delete', 'fetchAndSend', 'target', 'gettext_write', 'settings.update', 'lister', 'readme.publish', 'get$user', 'delete_user', 'user_get']) {
      expect(isRead(a), a).toBe(false);
    }
  });

  it('read-only denies what is not a read, and read_verbs: [] leaves only the globs', () => {
    expect(scope.evaluate(ro, req({ action: 'list_delete' })).findings.map((f) => f.decision)).toEqual(['deny']);
    expect(scope.evaluate(ro, req({ action: 'listUsers' })).findings).toEqual([]);
    const globsOnly = policy({ guards: { scope: { read_only: true, read_verbs: [] } } }).guards!.scope!;
    expect(scope.isReadAction(globsOnly, 'get_user')).toBe(false);
    expect(scope.isReadAction(globsOnly, 'users.get')).toBe(true);
  });
});

describe('the rules-only evaluate() agrees', () => {
  it('fails closed on a non-number and normalises strings the same way', () => {
    const p = policy({
      defaults: { decision: 'allow' },
      rules: [
        { name: 'big', match: { when: { 'params.amount': { gt: 10 } } }, decision: 'deny' },
        { name: 'evil', match: { when: { 'params.to': { eq: 'acct_evil' } } }, decision: 'deny' },
      ],
    });
    expect(evaluate(p, req({ params: { amount: '11 USD' } })).reasons[0]!.message).toBe('rule big matched: params.amount is not a plain number');
    expect(evaluate(p, req({ params: { to: 'ACCT_EVIL' } })).decision).toBe('deny');
  });
});
