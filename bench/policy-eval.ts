// Pure policy evaluation: decisions per second for a 50-rule policy with every
// guard on (budget, rate_limit, sensitive_data, scope), over varied requests
// with fake counters; then the hostile section: how long one evaluation takes
// for the ReDoS shapes an admin might write and an agent would feed (a nested
// `matches` quantifier, a many-star glob, a backtracking custom sensitive
// pattern, a custom CEL guard's comprehension over a params list of n
// elements), at growing input sizes, and the worst of them. Prints; asserts nothing.
//   npx tsx bench/policy-eval.ts [evaluations]
//   HOSTILE_ONLY=1 HOSTILE_SIZES=20,25 npx tsx bench/policy-eval.ts   (small sizes: to time the old backtracking code)
import { evaluateRequest, type EvaluationRequest } from '../src/policy/evaluate.ts';
import { counterQueries } from '../src/policy/guards/index.ts';
import { parsePolicy, type PolicyInput } from '../src/policy/schema.ts';

const N = Number(process.argv[2] ?? 200_000);
const HOSTILE_ONLY = process.env.HOSTILE_ONLY === '1';
const HOSTILE_SIZES = (process.env.HOSTILE_SIZES ?? '30,45,1000,10000,100000').split(',').map(Number);
const BATCH = 1_000;

const domains = ['payment', 'email', 'crm', 'db', 'kb', 'search', 'deploy', 'file', 'llm', 'admin'];
const verbs = ['send', 'get', 'list', 'update', 'delete', 'create'];

const rules: NonNullable<PolicyInput['rules']> = [];
for (let i = 0; i < 50; i++) {
  const d = domains[i % domains.length]!;
  const kind = i % 5;
  rules.push({
    name: `rule-${i}`,
    match: {
      action: kind === 0 ? `${d}.*` : `${d}.${verbs[i % verbs.length]}`,
      ...(kind === 1 ? { agent: ['agent-1*', 'agent-2?'] } : {}),
      ...(kind === 2 ? { when: { 'params.amount': { gt: 100 * i } } } : {}),
      ...(kind === 3 ? { when: { 'params.to': { matches: '@example\\.com$' }, 'context.env': { in: ['prod', 'staging'] } } } : {}),
    },
    decision: i % 7 === 0 ? 'deny' : i % 3 === 0 ? 'require_approval' : 'allow',
  });
}

const parsed = parsePolicy({
  defaults: { decision: 'allow' },
  rules,
  guards: {
    budget: { cost_table: { 'llm.*': 0.01, 'payment.*': 0.5 }, per_agent: { session: 5, day: 50, month: 500 }, per_tenant: { day: 1000, month: 10000 }, warn_threshold: 0.8 },
    rate_limit: {
      per_agent: { per_minute: 60 },
      per_action: { per_minute: 100 },
      per_agent_action: { per_minute: 10 },
      burst: { max: 20, window_seconds: 10, cooldown_seconds: 60 },
      max_identical_calls: { count: 3, window_seconds: 300 },
    },
    sensitive_data: { custom: [{ name: 'employee_id', pattern: 'EMP-\\d{6}' }], per_detector: { credit_card: 'deny', private_key: 'deny' } },
    scope: { deny: ['admin.*'], require_approval: ['deploy.*'], agents: { 'agent-9*': { read_only: true } } },
  },
});
if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
const policy = parsed.policy;

const texts = [
  'please summarise the quarterly numbers for the board',
  'send the invoice to jane.doe@example.com by friday',
  'card 4111 1111 1111 1111 exp 12/29',
  'call me on +14155552671 about EMP-123456',
  'nothing sensitive here, just a longer message body that goes on for a while to look like real text',
  'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123def456',
];

function request(i: number): EvaluationRequest {
  const d = domains[i % domains.length]!;
  return {
    action: `${d}.${verbs[(i >> 2) % verbs.length]}`,
    agent_id: `agent-${i % 97}`,
    params: { amount: (i * 37) % 5000, to: i % 3 === 0 ? 'ops@example.com' : 'x@corp.io', body: texts[i % texts.length], items: [{ id: i, note: texts[(i + 1) % texts.length] }] },
    context: { env: i % 2 ? 'prod' : 'dev', session_id: `s-${i % 13}` },
    ...(i % 4 === 0 ? { cost_usd: (i % 10) / 10 } : {}),
  };
}

const REQS = 10_000;
const reqs = Array.from({ length: REQS }, (_, i) => request(i));
const now = Date.UTC(2025, 5, 15, 12);
// Mostly quiet counters, now and then one near or past its limit.
function counterValue(key: string, i: number): number {
  if (key.startsWith('bud:tenant:')) return ((i * 7) % 53) * 10;
  if (key.startsWith('bud:')) return ((i * 7) % 53) * 0.1;
  if (key.startsWith('rl:cool:')) return i % 50 === 0 ? 1 : 0;
  if (key.startsWith('rl:same:')) return i % 4;
  return (i * 3) % 11;
}

if (!HOSTILE_ONLY) throughput();
hostile();

function throughput() {
  // Warm up the JIT and the regex caches.
  for (let i = 0; i < 5_000; i++) {
    const r = reqs[i % REQS]!;
    const counters = Object.fromEntries(counterQueries(policy, r, now).map((q) => [q.key, counterValue(q.key, i)]));
    evaluateRequest(policy, r, { counters, now });
  }

  const counts: Record<string, number> = {};
  const perEval: number[] = [];
  let total = 0;
  for (let start = 0; start < N; start += BATCH) {
    const n = Math.min(BATCH, N - start);
    // Fake counters are built outside the timed section: the edge reads them from Redis.
    const inputs = Array.from({ length: n }, (_, j) => {
      const i = start + j;
      const r = reqs[i % REQS]!;
      return { r, i };
    });
    const t0 = performance.now();
    for (const { r, i } of inputs) {
      const qs = counterQueries(policy, r, now);
      const counters: Record<string, number> = {};
      for (const q of qs) counters[q.key] = counterValue(q.key, i);
      const e = evaluateRequest(policy, r, { counters, now });
      counts[e.decision] = (counts[e.decision] ?? 0) + 1;
    }
    const ms = performance.now() - t0;
    total += ms;
    perEval.push((ms * 1000) / n);
  }

  perEval.sort((a, b) => a - b);
  const pct = (p: number) => perEval[Math.min(perEval.length - 1, Math.floor((p / 100) * perEval.length))]!;
  console.log(`policy-eval: ${N} evaluations, 50 rules, guards: budget rate_limit sensitive_data scope`);
  console.log(`  decisions/second: ${Math.round(N / (total / 1000)).toLocaleString('en-US')}`);
  console.log(`  µs per evaluation (per batch of ${BATCH}): p50 ${pct(50).toFixed(2)}  p99 ${pct(99).toFixed(2)}  mean ${((total * 1000) / N).toFixed(2)}`);
  console.log(`  decisions: ${Object.entries(counts).map(([d, c]) => `${d} ${c}`).join(', ')}`);
}

// One evaluation per hostile shape and size, timed on its own (after one warm-up
// at a small size, so the pattern compile is not counted).
function hostile() {
  const shapes: { name: string; unit?: string; policy: PolicyInput; request: (n: number) => EvaluationRequest }[] = [
    {
      name: 'matches ^(c+)+$ on c…c!',
      policy: { defaults: { decision: 'allow' }, rules: [{ name: 'cs', match: { when: { 'params.q': { matches: '^(c+)+$' } } }, decision: 'deny' }] },
      request: (n) => ({ action: 'x.y', agent_id: 'bot', params: { q: `${'c'.repeat(n)}!` }, context: {} }),
    },
    {
      name: 'glob *a*a*a*a*a*a*a*a*b on a…a',
      policy: { defaults: { decision: 'allow' }, rules: [{ name: 'stars', match: { action: '*a*a*a*a*a*a*a*a*b' }, decision: 'deny' }] },
      request: (n) => ({ action: 'a'.repeat(n), agent_id: 'bot', params: {}, context: {} }),
    },
    {
      name: 'custom (\\w+\\s?)+$ on a…a!',
      policy: { defaults: { decision: 'allow' }, guards: { sensitive_data: { detectors: [], custom: [{ name: 'words', pattern: '(\\w+\\s?)+$' }], on_finding: 'deny' } } },
      request: (n) => ({ action: 'x.y', agent_id: 'bot', params: { text: `${'a'.repeat(n)}!` }, context: {} }),
    },
    {
      // The conversion of params to CEL values is counted: it is part of every evaluation.
      name: 'CEL items.exists(i, …) over n items',
      unit: 'items',
      policy: {
        defaults: { decision: 'allow' },
        guards: { custom: [{ name: 'scan', expression: 'params.items.exists(i, i.qty < 0 || i.note.contains("zz"))', decision: 'deny' }] },
      },
      request: (n) => ({ action: 'x.y', agent_id: 'bot', params: { items: Array.from({ length: n }, (_, i) => ({ qty: i, note: 'line' })) }, context: {} }),
    },
  ];
  console.log('hostile patterns: ms for one evaluation (no time budget applied)');
  let worst = { ms: 0, what: '' };
  for (const shape of shapes) {
    const parsedHostile = parsePolicy(shape.policy);
    if (!parsedHostile.ok) throw new Error(JSON.stringify(parsedHostile.problems));
    const p = parsedHostile.policy;
    evaluateRequest(p, shape.request(5), { counters: {}, now });
    const cells: string[] = [];
    for (const n of HOSTILE_SIZES) {
      const r = shape.request(n);
      const t0 = performance.now();
      const e = evaluateRequest(p, r, { counters: {}, now });
      const ms = performance.now() - t0;
      cells.push(`${n}: ${ms.toFixed(2)} (${e.decision})`);
      if (ms > worst.ms) worst = { ms, what: `${shape.name}, ${n} ${shape.unit ?? 'chars'}` };
    }
    console.log(`  ${shape.name.padEnd(36)} ${cells.join('  ')}`);
  }
  console.log(`  worst: ${worst.ms.toFixed(2)} ms (${worst.what}); the default evaluation budget is 50 ms`);
}
