// Policy evaluation at the edge cannot be stalled or dodged: patterns RE2
// cannot run are refused when the policy is PUT, numbers JSON cannot carry are
// refused before any route sees them, dry runs are for admins, and one
// tenant's hostile policy does not stop another tenant's checks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});

afterAll(async () => {
  await h.close();
});

const problemsOf = (r: { body: any }): { path: string; message: string }[] => r.body.error.details.problems;

describe('patterns RE2 cannot run are refused at PUT /v1/policy', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('re2');
  });

  it('a backtracking-only `matches` pattern (lookahead) is refused at PUT /v1/policy with its path and the construct named, and the active policy stays', async () => {
    const { version } = await h.setPolicy(t, { defaults: { decision: 'allow' } });
    const r = await h.call('PUT', '/v1/policy', t.admin, {
      rules: [{ name: 'admins', decision: 'deny', match: { when: { 'params.q': { matches: '^(?=.*admin)(a|aa)+$' } } } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(problemsOf(r)).toEqual([{ path: 'rules.0.match.when.params.q.matches', message: expect.stringMatching(/lookahead "\(\?=".*RE2/) }]);
    expect((await h.call('GET', '/v1/policy', t.admin)).body).toMatchObject({ version, document: { rules: [], defaults: { decision: 'allow' } } });
  });

  it('a custom sensitive pattern with a backreference is refused at PUT /v1/policy with its path', async () => {
    const r = await h.call('PUT', '/v1/policy', t.admin, { guards: { sensitive_data: { custom: [{ name: 'twice', pattern: '(\\w+) \\1' }] } } });
    expect(r.status).toBe(400);
    expect(problemsOf(r)).toEqual([{ path: 'guards.sensitive_data.custom.0.pattern', message: expect.stringMatching(/backreference/) }]);
  });
});

describe('POST /v1/policy/test is admin-only', () => {
  it('an approver key cannot dry-run policies against live counters: POST /v1/policy/test is 403', async () => {
    const t = await h.tenant('dry');
    for (const key of [t.approver, t.agent]) {
      const r = await h.call('POST', '/v1/policy/test', key, { request: { action: 'payment.send' } });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    expect((await h.call('POST', '/v1/policy/test', t.admin, { request: { action: 'payment.send' } })).status).toBe(200);
  });
});

describe('numbers JSON cannot carry', () => {
  let t: TenantKeys;
  beforeAll(async () => {
    t = await h.tenant('numbers');
    await h.setPolicy(t, { defaults: { decision: 'allow' }, rules: [{ name: 'big', match: { when: { 'params.amount': { gt: 1000 } } }, decision: 'deny' }] });
  });

  const raw = (method: string, path: string, key: string, body: string) => h.call(method, path, key, body);
  const expect422 = (r: { status: number; body: any }, path: string) => {
    expect(r.status, JSON.stringify(r.body)).toBe(422);
    expect(r.body.error.code).toBe('invalid_number');
    expect(r.body.error.details).toEqual({ path });
  };

  it('an amount of 1e309 (Infinity once parsed) is refused with 422 invalid_number and its path on check and guard, and nothing is stored', async () => {
    const decisions = async () => (await h.rt.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM decisions`)[0]!.count;
    const before = await decisions();
    expect422(await raw('POST', '/v1/check', t.agent, '{"action":"payment.send","params":{"amount":1e309}}'), 'params.amount');
    expect422(await raw('POST', '/v1/guard', t.agent, `{"action":"payment.send","idempotency_key":"${randomUUID()}","params":{"lines":[{"amount":-1e400}]}}`), 'params.lines.0.amount');
    expect422(await raw('POST', '/v1/check', t.agent, '{"action":"a","context":{"risk":1e999}}'), 'context.risk');
    expect(await decisions()).toBe(before);
  });

  it('a non-finite number is refused on the policy dry run, the policy PUT and the HumanLayer API too', async () => {
    expect422(await raw('POST', '/v1/policy/test', t.admin, '{"request":{"action":"a","params":{"n":1e309}}}'), 'request.params.n');
    expect422(await raw('PUT', '/v1/policy', t.admin, '{"rules":[{"name":"x","decision":"deny","match":{"when":{"params.n":{"gt":1e309}}}}]}'), 'rules.0.match.when.params.n.gt');
    expect422(
      await raw('POST', '/humanlayer/v1/function_calls', t.agent, `{"run_id":"r","call_id":"${randomUUID()}","spec":{"fn":"pay","kwargs":{"amount":1e309}}}`),
      'spec.kwargs.amount',
    );
  });

  it('large finite numbers and malformed JSON answer as before', async () => {
    const ok = await raw('POST', '/v1/check', t.agent, '{"action":"a","params":{"amount":1e308}}');
    expect(ok.status).toBe(200);
    expect(ok.body.decision).toBe('deny');
    const bad = await raw('POST', '/v1/check', t.agent, '{"action":"a","params":{"amount":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('malformed_json');
  });
});

describe('one tenant\'s hostile policy does not stall another tenant', () => {
  it('while tenant A\'s hostile patterns are evaluated on hostile input, a concurrent check from tenant B still answers', async () => {
    const a = await h.tenant('hostile');
    const b = await h.tenant('bystander');
    await h.setPolicy(a, {
      defaults: { decision: 'allow' },
      rules: [
        { name: 'regex', match: { when: { 'params.q': { matches: '^(c+)+$' } } }, decision: 'deny' },
        { name: 'glob', match: { action: '*a*a*a*a*a*a*a*a*b' }, decision: 'deny' },
      ],
      guards: { sensitive_data: { detectors: [], custom: [{ name: 'words', pattern: '(\\w+\\s?)+$' }], on_finding: 'deny' } },
    });
    await h.setPolicy(b, { defaults: { decision: 'allow' }, rules: [{ name: 'no-drop', match: { action: 'db.drop*' }, decision: 'deny' }] });
    const hostile = (i: number) =>
      h.call('POST', '/v1/check', a.agent, { action: 'a'.repeat(180) + i, params: { q: `${'c'.repeat(400)}!`, text: `${'a'.repeat(1_500)}!` } });
    const [ra1, rb, ra2, rb2] = await Promise.all([
      hostile(1),
      h.call('POST', '/v1/check', b.agent, { action: 'db.drop_table' }),
      hostile(2),
      h.call('POST', '/v1/check', b.agent, { action: 'kb.get' }),
    ]);
    expect(rb.status).toBe(200);
    expect(rb.body).toMatchObject({ decision: 'deny', matched_rules: ['no-drop'] });
    expect(rb2.body.decision).toBe('allow');
    // A answers too: allow (nothing matches), or, on a machine slow enough to
    // pass the 50 ms budget, a deny that says so — never a hang.
    for (const r of [ra1, ra2]) {
      expect(r.status).toBe(200);
      if (r.body.decision !== 'allow') expect(r.body.reasons[0].message).toMatch(/time budget/);
    }
  });
});
