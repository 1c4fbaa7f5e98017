// The trust boundary, tried the way an attacker would: one key posing as
// several approvers or as the engine, an agent naming itself after an approver,
// shortening its own review or sending it to a channel its operator watches.
// Each test is named for the attack it stops.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';
import { runCli } from '../helpers/processes.ts';

let h: Harness;
let t: TenantKeys;
let n = 0;
const key = () => `tb-${++n}-${randomUUID().slice(0, 8)}`;

const POLICY = {
  defaults: { decision: 'allow', slack_channel: '#approvals' },
  rules: [
    { name: 'pair', match: { action: 'wire.*' }, decision: 'require_approval', approval: { required_approvals: 2, approvers: { identities: ['alice', 'bob'] } } },
    { name: 'two-anyone', match: { action: 'transfer.*' }, decision: 'require_approval', approval: { required_approvals: 2 } },
    { name: 'lenient', match: { action: 'lenient.*' }, decision: 'require_approval', approval: { timeout_seconds: 600, on_timeout: 'approve' } },
    { name: 'strict', match: { action: 'strict.*' }, decision: 'require_approval', approval: { timeout_seconds: 600, min_timeout_seconds: 120 } },
    {
      name: 'routable',
      match: { action: 'routable.*' },
      decision: 'require_approval',
      approval: { slack_channel: '#payments', agent_may_route_to: ['#payments-eu', '#payments-us'] },
    },
    { name: 'never', match: { action: 'db.drop*' }, decision: 'deny', reason: 'never' },
  ],
};

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant('trust');
  await h.setPolicy(t, POLICY);
});

afterAll(async () => {
  await h.close();
});

async function park(action: string, extra: Record<string, unknown> = {}) {
  const r = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot-1', params: { amount: 5 }, idempotency_key: key(), ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.approval as { id: string; expires_at: string; created_at: string; routing: any };
}

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
}

const decide = (id: string, k: string, body: Record<string, unknown>) => h.call('POST', `/v1/approvals/${id}/decision`, k, body);
const get = async (id: string) => (await h.call('GET', `/v1/approvals/${id}`, t.agent)).body;

describe('who approved is who authenticated', () => {
  it('one approver key cannot meet a 2-of-[alice, bob] quorum by naming alice and then bob', async () => {
    await h.as(t, 'alice');
    await h.as(t, 'bob');
    const a = await park('wire.send');
    expectError(await decide(a.id, t.approver, { decision: 'approve', approver: 'alice' }), 403, 'forbidden');
    expectError(await decide(a.id, t.approver, { decision: 'approve', approver: 'bob' }), 403, 'forbidden');
    expect(await get(a.id)).toMatchObject({ status: 'pending', votes: [] });
    // The people themselves, each with their own key, do meet it.
    await decide(a.id, await h.as(t, 'alice'), { decision: 'approve' });
    const done = await decide(a.id, await h.as(t, 'bob'), { decision: 'approve' });
    expect(done.body).toMatchObject({ status: 'approved', decided_by: 'bob' });
    expect(done.body.votes.map((v: { approver: string }) => v.approver).sort()).toEqual(['alice', 'bob']);
  });

  it('no key can decide as a name the engine writes (slack:U0CEO, system, timeout, key:…, web:…)', async () => {
    const a = await park('transfer.send');
    const asserter = await assertingKey();
    for (const name of ['slack:U0CEO', 'system', 'timeout', 'key:hp_approver_abcd', 'web:alice', 'email:ceo@example.com']) {
      for (const k of [t.approver, t.admin, asserter]) expectError(await decide(a.id, k, { decision: 'approve', approver: name }), 403, 'forbidden');
    }
    expect(await get(a.id)).toMatchObject({ status: 'pending', votes: [], decided_by: null });
  });

  it('an unbound approver key is one voice, key:<prefix>: approving twice does not meet a quorum of 2', async () => {
    const a = await park('transfer.send');
    const first = await decide(a.id, t.approver, { decision: 'approve' });
    expect(first.body.votes).toEqual([expect.objectContaining({ approver: expect.stringMatching(/^key:hp_approver_/), vote: 'approve' })]);
    await decide(a.id, t.approver, { decision: 'approve' });
    expect(await get(a.id)).toMatchObject({ status: 'pending' });
    expect((await get(a.id)).votes).toHaveLength(1);
  });

  it('an unbound approver key cannot satisfy a route that names approvers.identities', async () => {
    const a = await park('wire.send');
    expectError(await decide(a.id, t.approver, { decision: 'approve' }), 403, 'not_an_approver');
    expectError(await decide(a.id, t.admin, { decision: 'approve' }), 403, 'not_an_approver');
    expect(await get(a.id)).toMatchObject({ status: 'pending', votes: [] });
  });

  it('a policy cannot list an engine name as an approver identity', async () => {
    for (const name of ['key:hp_approver_abcd', 'slack:U0CEO', 'system']) {
      const r = await h.call('PUT', '/v1/policy', t.admin, { rules: [{ name: 'x', decision: 'require_approval', approval: { approvers: { identities: [name] } } }] });
      expectError(r, 400, 'validation_failed');
      expect(JSON.stringify(r.body.error.details)).toContain('rules.0.approval.approvers.identities.0');
    }
  });

  it('only a key with assert_identity may name the approver; the event records the person and the key', async () => {
    await h.as(t, 'carol');
    const k = await assertingKey();
    const a = await park('transfer.send');
    const r = await decide(a.id, k, { decision: 'approve', approver: 'carol', reason: 'checked in our portal' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.votes).toEqual([expect.objectContaining({ approver: 'carol' })]);
    const events = (await h.call('GET', `/v1/approvals/${a.id}/events`, t.agent)).body.events;
    const voted = events.find((e: { type: string }) => e.type === 'voted');
    expect(voted).toMatchObject({ actor: 'carol', data: { vote: 'approve', asserted_by: expect.stringMatching(/^key:hp_approver_/) } });
    // …and naming someone who is not an approver of the tenant is refused.
    expectError(await decide(a.id, k, { decision: 'approve', approver: 'mallory' }), 422, 'unknown_approver');
    expect((await get(a.id)).votes).toHaveLength(1);
  });

  it('assert_identity is refused on agent keys, and a key cannot be bound to a person who is not an approver', async () => {
    expectError(await h.call('POST', '/v1/api-keys', t.admin, { role: 'agent', permissions: ['assert_identity'] }), 400, 'validation_failed');
    expectError(await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', approver: 'nobody-here' }), 422, 'unknown_approver');
    expectError(await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', permissions: ['impersonate'] }), 400, 'validation_failed');
  });

  it('an agent_id equal to an approver name is refused at guard, instead of silently blocking that person as self-approval', async () => {
    await h.as(t, 'alice');
    for (const agent_id of ['alice', 'ALICE']) {
      const r = await h.call('POST', '/v1/guard', t.agent, { action: 'wire.send', agent_id, idempotency_key: key() });
      expectError(r, 422, 'agent_id_conflict');
    }
    for (const agent_id of ['system', 'slack:U0CEO', 'key:hp_approver_abcd']) {
      expectError(await h.call('POST', '/v1/guard', t.agent, { action: 'wire.send', agent_id, idempotency_key: key() }), 422, 'agent_id_conflict');
    }
    const [row] = await h.rt.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM approvals WHERE tenant_id = ${t.tenant_id} AND agent_id IN ('alice', 'ALICE', 'system')`;
    expect(row!.count).toBe(0);
  });
});

describe('approvers', () => {
  it('POST /v1/approvers adds a person with a key bound to them; the name, e-mail and Slack user are unique', async () => {
    const r = await h.call('POST', '/v1/approvers', t.admin, { name: 'dana', email: 'Dana@Example.com', slack_user_id: 'UDANA' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.approver).toMatchObject({ name: 'dana', email: 'dana@example.com', slack_user_id: 'UDANA' });
    expect(r.body.api_key).toMatch(/^hp_approver_/);
    const keys = (await h.call('GET', '/v1/api-keys', t.admin)).body.data;
    expect(keys.filter((k: { approver: string }) => k.approver === 'dana')).toHaveLength(1);
    for (const dup of [{ name: 'dana' }, { name: 'dana2', email: 'dana@example.com' }, { name: 'dana3', slack_user_id: 'UDANA' }]) {
      expectError(await h.call('POST', '/v1/approvers', t.admin, dup), 409, 'conflict');
    }
    expectError(await h.call('POST', '/v1/approvers', t.admin, { name: 'slack:UX' }), 400, 'validation_failed');
    expectError(await h.call('POST', '/v1/approvers', t.admin, { name: 'system' }), 400, 'validation_failed');
    expectError(await h.call('POST', '/v1/approvers', t.approver, { name: 'eve' }), 403, 'forbidden');
    const list = (await h.call('GET', '/v1/approvers', t.admin)).body.data.map((a: { name: string }) => a.name);
    expect(list).toContain('dana');
  });

  it('removing an approver revokes their keys at once', async () => {
    const r = await h.call('POST', '/v1/approvers', t.admin, { name: 'erin' });
    const a = await park('transfer.send');
    const del = await h.call('DELETE', '/v1/approvers/erin', t.admin);
    expect(del.body).toMatchObject({ approver: { name: 'erin' }, revoked_keys: 1 });
    expectError(await decide(a.id, r.body.api_key, { decision: 'approve' }), 401, 'unauthorized');
    expectError(await h.call('DELETE', '/v1/approvers/erin', t.admin), 404, 'not_found');
  });
});

describe('holdpoint approver', () => {
  const env = () => ({ DATABASE_URL: h.config.DATABASE_URL, REDIS_URL: h.config.REDIS_URL, LOG_LEVEL: 'silent' });

  it('approver add prints the identity and a key bound to it, which then decides as that person', async () => {
    const r = await runCli(['approver', 'add', 'hank', '--tenant', t.tenant_id, '--email', 'hank@example.com', '--slack-user', 'UHANK', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.approver).toMatchObject({ name: 'hank', email: 'hank@example.com', slack_user_id: 'UHANK', created_by: 'cli' });
    expect(out.api_key).toMatch(/^hp_approver_/);
    const a = await park('transfer.send');
    expect((await decide(a.id, out.api_key, { decision: 'approve' })).body.votes).toEqual([expect.objectContaining({ approver: 'hank' })]);
    const list = await runCli(['approver', 'list', '--tenant', t.tenant_id, '--json'], env());
    expect(JSON.parse(list.stdout).map((x: { name: string }) => x.name)).toContain('hank');
  });

  it('approver add refuses an engine name, a taken name and a bad Slack id, with exit 2 or 1 and one clear line', async () => {
    const engine = await runCli(['approver', 'add', 'slack:U0CEO', '--tenant', t.tenant_id], env());
    expect(engine.code).toBe(2);
    expect(engine.stderr).toMatch(/NAME: .*engine writes/);
    const slack = await runCli(['approver', 'add', 'ivy', '--tenant', t.tenant_id, '--slack-user', 'not-an-id'], env());
    expect(slack.code).toBe(2);
    expect(slack.stderr).toMatch(/--slack-user: a Slack user id/);
    await runCli(['approver', 'add', 'jo', '--tenant', t.tenant_id], env());
    const dup = await runCli(['approver', 'add', 'jo', '--tenant', t.tenant_id], env());
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/another approver already has this name/);
    const gone = await runCli(['approver', 'remove', 'jo', '--tenant', t.tenant_id], env());
    expect(gone.stdout).toMatch(/removed jo; revoked 1 key/);
  });

  it('tenant create still gives keys and says how to add approvers', async () => {
    const r = await runCli(['tenant', 'create', 'cli-co'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/approver key:\s+hp_approver_/);
    expect(r.stdout).toMatch(/holdpoint approver add alice --tenant [0-9a-f-]{36}/);
  });

  it('key create --permission assert_identity makes an integration key; agents cannot get one', async () => {
    const ok = await runCli(['key', 'create', '--tenant', t.tenant_id, '--role', 'approver', '--permission', 'assert_identity', '--json'], env());
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).permissions).toEqual(['assert_identity']);
    const agent = await runCli(['key', 'create', '--tenant', t.tenant_id, '--role', 'agent', '--permission', 'assert_identity'], env());
    expect(agent.code).toBe(2);
    const unknown = await runCli(['key', 'create', '--tenant', t.tenant_id, '--role', 'approver', '--approver', 'nobody'], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no approver named "nobody"/);
  });
});

describe('the agent cannot shorten or reroute its own review', () => {
  it('an agent cannot shorten the deadline of a route that approves on timeout (today: approved by system in a second)', async () => {
    const r = await h.call('POST', '/v1/guard', t.agent, { action: 'lenient.op', idempotency_key: key(), timeout_seconds: 1 });
    expectError(r, 422, 'timeout_not_allowed');
    expect(r.body.error.details).toMatchObject({ field: 'timeout_seconds', on_timeout: 'approve' });
    // Without the request it parks with the route's full deadline.
    const a = await park('lenient.op');
    expect(Date.parse(a.expires_at) - Date.parse(a.created_at)).toBe(600_000);
  });

  it('no deadline goes below the route minimum, even where a timeout rejects', async () => {
    expectError(await h.call('POST', '/v1/guard', t.agent, { action: 'strict.op', idempotency_key: key(), timeout_seconds: 119 }), 422, 'timeout_not_allowed');
    // The default floor is 60 s.
    expectError(await h.call('POST', '/v1/guard', t.agent, { action: 'transfer.x', idempotency_key: key(), timeout_seconds: 59 }), 422, 'timeout_not_allowed');
    const a = await park('strict.op', { timeout_seconds: 120 });
    expect(Date.parse(a.expires_at) - Date.parse(a.created_at)).toBe(120_000);
    // Asking for longer than the route gives never lengthens it.
    const b = await park('strict.op', { timeout_seconds: 10_000 });
    expect(Date.parse(b.expires_at) - Date.parse(b.created_at)).toBe(600_000);
  });

  it("a policy's own deadline cannot sit below its floor", async () => {
    const r = await h.call('PUT', '/v1/policy', t.admin, { defaults: { timeout_seconds: 10 } });
    expectError(r, 400, 'validation_failed');
    expect(JSON.stringify(r.body.error.details)).toContain('below min_timeout_seconds');
  });

  it("a HumanLayer channel cannot move an approval to the agent operator's own DM", async () => {
    const r = await h.call('POST', '/humanlayer/v1/function_calls', t.agent, {
      run_id: 'run-1',
      call_id: key(),
      spec: { fn: 'transfer.send', kwargs: { amount: 5 }, channel: { slack: { channel_or_user_id: 'U0OPERATOR' } } },
    });
    expectError(r, 422, 'channel_not_allowed');
    const [row] = await h.rt.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM approvals WHERE tenant_id = ${t.tenant_id} AND routing->>'slack_channel' = 'U0OPERATOR'`;
    expect(row!.count).toBe(0);
  });

  it('a HumanLayer contact request cannot pick its channel either', async () => {
    const r = await h.call('POST', '/humanlayer/v1/contact_requests', t.agent, {
      run_id: 'run-1',
      call_id: key(),
      spec: { msg: 'which account?', channel: { slack: { channel_or_user_id: 'U0OPERATOR' } } },
    });
    expectError(r, 422, 'channel_not_allowed');
  });

  it('the agent may pick among the channels the route lists in agent_may_route_to, and only those', async () => {
    const fc1 = await h.call('POST', '/humanlayer/v1/function_calls', t.agent, {
      run_id: 'run-2',
      call_id: key(),
      spec: { fn: 'routable.pay', kwargs: {}, channel: { slack: { channel_or_user_id: '#payments-eu' } } },
    });
    expect(fc1.status, JSON.stringify(fc1.body)).toBe(200);
    const a = (await h.call('GET', `/v1/approvals/by-key/${fc1.body.call_id}`, t.agent)).body;
    expect(a.routing.slack_channel).toBe('#payments-eu');
    const bad = await h.call('POST', '/humanlayer/v1/function_calls', t.agent, {
      run_id: 'run-2',
      call_id: key(),
      spec: { fn: 'routable.pay', kwargs: {}, channel: { slack: { channel_or_user_id: '#random' } } },
    });
    expectError(bad, 422, 'channel_not_allowed');
    expect(bad.body.error.details.allowed).toEqual(['#payments-eu', '#payments-us']);
  });
});

describe('property: no agent-controlled field turns a deny into an allow or a pending into an approval', () => {
  // Every field an agent controls, with hostile values mixed in: names of
  // approvers and of the engine, tiny and huge deadlines, channels, junk params.
  const hostileString = fc.oneof(
    fc.constantFrom('alice', 'bob', 'system', 'timeout', 'slack:U0CEO', 'key:hp_approver_x', '#ops', 'U0OPERATOR', ' db.drop ', ''),
    fc.string({ maxLength: 20 }),
  );
  const request = fc.record({
    action: fc.constantFrom('db.drop_table', 'db.drop', 'wire.send', 'lenient.op', 'strict.op'),
    agent_id: hostileString.filter((s) => s.trim().length > 0),
    params: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    context: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    timeout_seconds: fc.option(fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 30 * 86_400 })), { nil: undefined }),
    channel: fc.option(hostileString, { nil: undefined }),
    header: fc.option(fc.constantFrom('x-holdpoint-approver', 'x-approver', 'x-forwarded-user', 'slack-user'), { nil: undefined }),
  });

  it('holds for 60 generated requests through guard and the HumanLayer surface', async () => {
    await h.as(t, 'alice');
    await fc.assert(
      fc.asyncProperty(request, async (q) => {
        const headers: Record<string, string> = q.header ? { [q.header]: 'alice' } : {};
        const body = { action: q.action, agent_id: q.agent_id, params: q.params, context: q.context, idempotency_key: key(), ...(q.timeout_seconds ? { timeout_seconds: q.timeout_seconds } : {}) };
        const viaHumanLayer = q.channel !== undefined;
        const r = viaHumanLayer
          ? await h.call('POST', '/humanlayer/v1/function_calls', t.agent, { run_id: q.agent_id, call_id: body.idempotency_key, spec: { fn: q.action, kwargs: q.params, channel: { slack: { channel_or_user_id: q.channel || 'x' } } } }, headers)
          : await h.call('POST', '/v1/guard', t.agent, body, headers);
        if (r.status >= 400) return; // refused outright: nothing was parked or allowed
        const approval = viaHumanLayer ? (await h.call('GET', `/v1/approvals/by-key/${body.idempotency_key}`, t.agent)).body : r.body.approval;
        if (q.action.startsWith('db.drop')) {
          // A deny stays a deny (HumanLayer function calls turn nothing into an allow either).
          expect(viaHumanLayer ? r.status : r.body.status).toBe(viaHumanLayer ? 200 : 'denied');
          expect(approval?.status ?? 'none').not.toMatch(/approved|allowed/);
          if (!viaHumanLayer) expect(approval).toBeNull();
          return;
        }
        expect(approval.status).toBe('pending');
        expect(approval.votes).toEqual([]);
        const span = (Date.parse(approval.expires_at) - Date.parse(approval.created_at)) / 1000;
        if (q.action === 'lenient.op') expect(span).toBe(600); // on_timeout: approve — never shortened
        if (q.action === 'strict.op') expect(span).toBeGreaterThanOrEqual(120);
        expect(span).toBeGreaterThanOrEqual(60);
        expect(['#approvals', '#payments']).toContain(approval.routing.slack_channel);
      }),
      { numRuns: 60 },
    );
  });
});

async function assertingKey(): Promise<string> {
  const r = await h.call('POST', '/v1/api-keys', t.admin, { role: 'approver', name: 'portal integration', permissions: ['assert_identity'] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.permissions).toEqual(['assert_identity']);
  return r.body.key;
}
