// Property: the agent controls the request, not its meaning. For generated
// policies whose rules deny or require approval on string and numeric params
// (and context), and on action globs, no rewriting of the request that an agent
// can do — case, surrounding whitespace, zero-width characters, fullwidth
// forms, numbers as strings with units, commas or currency signs, wrapping a
// value in an array or object, extra params and context — turns a deny or a
// require_approval into an allow. (It never lowers the decision at all.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECISION_RANK, evaluateRequest, type EvaluationRequest } from '../../src/policy/evaluate.ts';
import { globMatchRaw } from '../../src/policy/glob.ts';
import { parsePolicy, type PolicyInput } from '../../src/policy/schema.ts';

const word = fc.stringMatching(/^[a-z0-9_]{1,8}$/);
const STRING_KEYS = ['params.account', 'params.to', 'context.env'] as const;
const NUMBER_KEYS = ['params.amount', 'params.count', 'context.risk'] as const;

const stringCondition = fc.oneof(
  word.map((eq) => ({ eq })),
  word.map((ne) => ({ ne })),
  fc.array(word, { minLength: 1, maxLength: 4 }).map((xs) => ({ in: xs })),
  fc.array(word, { minLength: 1, maxLength: 4 }).map((xs) => ({ not_in: xs })),
);
const bound = fc.integer({ min: -10_000, max: 10_000 });
const numberCondition = fc.oneof(
  bound.map((gt) => ({ gt })),
  bound.map((gte) => ({ gte })),
  bound.map((lt) => ({ lt })),
  bound.map((lte) => ({ lte })),
  fc.tuple(bound, bound).map(([a, b]) => ({ gt: Math.min(a, b), lt: Math.max(a, b) })),
);
const actionGlob = fc.oneof(
  fc.constantFrom('payment.*', '*.send', 'db.drop*', 'crm.contacts.update', '*', 'email.?end'),
  word.map((w) => `${w}.*`),
);

const rule = fc.record({
  action: fc.option(actionGlob, { nil: undefined }),
  strings: fc.dictionary(fc.constantFrom(...STRING_KEYS), stringCondition, { maxKeys: 2 }),
  numbers: fc.dictionary(fc.constantFrom(...NUMBER_KEYS), numberCondition, { maxKeys: 2 }),
  decision: fc.constantFrom('deny' as const, 'require_approval' as const),
});

const policyDoc = fc.record({
  rules: fc.array(rule, { minLength: 1, maxLength: 5 }),
  defaults: fc.constantFrom('allow' as const, 'require_approval' as const),
  scopeDeny: fc.array(actionGlob, { maxLength: 2 }),
}).map(({ rules, defaults, scopeDeny }): PolicyInput => ({
  defaults: { decision: defaults },
  rules: rules.map((r, i) => ({
    name: `r${i}`,
    match: { ...(r.action ? { action: r.action } : {}), when: { ...r.strings, ...r.numbers } },
    decision: r.decision,
  })),
  ...(scopeDeny.length > 0 ? { guards: { scope: { deny: scopeDeny } } } : {}),
}));

const request = fc.record({
  action: fc.constantFrom('payment.send', 'email.send', 'db.drop_table', 'crm.contacts.update', 'kb.get', 'x.y'),
  account: word,
  to: word,
  env: word,
  amount: fc.integer({ min: -20_000, max: 20_000 }),
  count: fc.integer({ min: -20_000, max: 20_000 }),
  risk: fc.integer({ min: -20_000, max: 20_000 }),
});

// ---- What the agent may do to its own request.

const FULLWIDTH = (s: string) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'];

const stringTransform = fc.oneof(
  fc.constant((s: string) => s.toUpperCase()),
  fc.constant((s: string) => s.replace(/./g, (c, i: number) => (i % 2 ? c.toUpperCase() : c))),
  fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u3000').map((ws) => (s: string) => `${ws}${s}${ws}`),
  fc.tuple(fc.constantFrom(...INVISIBLE), fc.nat()).map(([z, at]) => (s: string) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + z + s.slice(i);
  }),
  fc.constant(FULLWIDTH),
);

type Wrap = (v: unknown) => unknown;
const wrap: fc.Arbitrary<Wrap> = fc.constantFrom<Wrap>(
  (v) => v,
  (v) => [v],
  (v) => ({ value: v }),
  (v) => [{ v: [v] }],
);

const numberTransform = fc.oneof(
  fc.constant((n: number) => String(n)), // a plain numeric string: still a number
  fc.constant((n: number) => `${n} USD`),
  fc.constant((n: number) => `$${n}`),
  fc.constant((n: number) => n.toLocaleString('en-US')),
  fc.constant((n: number) => FULLWIDTH(String(n))),
  fc.constant((n: number) => `${n}\u200b`),
  fc.constant((n: number) => ` ${n} `),
);

const agentRewrite = fc.record({
  action: fc.option(stringTransform, { nil: undefined }),
  strings: fc.dictionary(fc.constantFrom('account', 'to', 'env'), fc.tuple(fc.array(stringTransform, { maxLength: 3 }), wrap)),
  numbers: fc.dictionary(fc.constantFrom('amount', 'count', 'risk'), fc.tuple(fc.option(numberTransform, { nil: undefined }), wrap)),
  extraParams: fc.dictionary(fc.stringMatching(/^x_[a-z]{1,5}$/), fc.jsonValue(), { maxKeys: 3 }),
  extraContext: fc.dictionary(fc.stringMatching(/^x_[a-z]{1,5}$/), fc.jsonValue(), { maxKeys: 3 }),
});

type Req = { action: string; account: string; to: string; env: string; amount: number; count: number; risk: number };
type Rewrite = {
  action: ((s: string) => string) | undefined;
  strings: Partial<Record<'account' | 'to' | 'env', [((s: string) => string)[], Wrap]>>;
  numbers: Partial<Record<'amount' | 'count' | 'risk', [((n: number) => string) | undefined, Wrap]>>;
  extraParams: Record<string, unknown>;
  extraContext: Record<string, unknown>;
};

function build(r: Req, rewrite?: Rewrite): EvaluationRequest {
  const s = (k: 'account' | 'to' | 'env'): unknown => {
    const t = rewrite?.strings[k];
    if (!t) return r[k];
    const [fs, w] = t;
    return w(fs.reduce((v, f) => f(v), r[k]));
  };
  const n = (k: 'amount' | 'count' | 'risk'): unknown => {
    const t = rewrite?.numbers[k];
    if (!t) return r[k];
    const [f, w] = t;
    return w(f ? f(r[k]) : r[k]);
  };
  return {
    action: rewrite?.action ? rewrite.action(r.action) : r.action,
    agent_id: 'bot',
    params: { account: s('account'), to: s('to'), amount: n('amount'), count: n('count'), ...(rewrite?.extraParams ?? {}) },
    context: { env: s('env'), risk: n('risk'), ...(rewrite?.extraContext ?? {}) },
  };
}
describe('an agent cannot rewrite its way out of a deny', () => {
  it('no agent-side rewriting of the request turns a deny or a require_approval into an allow, or lowers the decision at all', () => {
    fc.assert(
      fc.property(policyDoc, request, agentRewrite, (doc, r, rewrite) => {
        const parsed = parsePolicy(doc);
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
        const ctx = { counters: {}, now: 0 };
        const before = evaluateRequest(parsed.policy, build(r), ctx).decision;
        fc.pre(before !== 'allow');
        const after = evaluateRequest(parsed.policy, build(r, rewrite as Rewrite), ctx).decision;
        expect(after).not.toBe('allow');
        expect(DECISION_RANK[after]).toBeGreaterThanOrEqual(DECISION_RANK[before]);
      }),
      { numRuns: 2_000 },
    );
  }, 120_000); // thousands of evaluations: a property, not a speed test (a busy machine takes longer)
});

describe('the linear glob matcher', () => {
  // The old translation to a backtracking RegExp, as the reference semantics.
  const reference = (glob: string, value: string) =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's').test(value);

  it('agrees with the old RegExp translation on every glob and value', () => {
    const glob = fc.stringMatching(/^[ab*?.]{0,8}$/);
    const value = fc.stringMatching(/^[ab.]{0,10}$/);
    fc.assert(fc.property(glob, value, (g, v) => globMatchRaw(g, v) === reference(g, v)), { numRuns: 5_000 });
  }, 60_000);
});
