// Human-oversight records (GET /v1/approvals/{id}/oversight and the export):
// what was shown, who could decide, when, the outcome, override / stop, and
// the proof from the tenant's hash chain — and that the proof fails on a
// doctored copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyApprovalChain } from '../../src/approvals/oversight.ts';
import { createOversight } from '../../src/services/oversight.ts';
import { parseCsv } from '../helpers/csv.ts';
import { createHarness, type Harness, type TenantKeys } from '../helpers/harness.ts';

let h: Harness;
let t: TenantKeys;
let n = 0;
const key = () => `o-${++n}`;

const POLICY = {
  defaults: { decision: 'allow', min_timeout_seconds: 1 },
  guards: { sensitive_data: { on_finding: 'redact' } },
  rules: [
    { name: 'pay', match: { action: 'pay.*' }, decision: 'require_approval', reason: 'payments need two people', approval: { required_approvals: 2, approvers: { identities: ['alice', 'bob'] }, slack_channel: '#payments' } },
    { name: 'wire', match: { action: 'wire.*' }, decision: 'require_approval' },
    { name: 'lenient', match: { action: 'lenient.*' }, decision: 'require_approval', approval: { timeout_seconds: 1, on_timeout: 'approve', required_approvals: 2 } },
  ],
};

beforeAll(async () => {
  h = await createHarness();
  t = await h.tenant();
  await h.setPolicy(t, POLICY);
});
afterAll(() => h.close());

const park = async (action: string, params: Record<string, unknown> = {}) => {
  const g = await h.call('POST', '/v1/guard', t.agent, { action, agent_id: 'bot', params, idempotency_key: key() });
  expect(g.status).toBe(202);
  return g.body.approval.id as string;
};
const oversight = (id: string, k = t.approver) => h.call('GET', `/v1/approvals/${id}/oversight`, k);

describe('the oversight record', () => {
  it('an approval decided by a 2-of-2 quorum: shown, who could decide, each vote, not overridden, chain intact', async () => {
    const id = await park('pay.send', { amount: 900, note: 'for jane@example.com' });
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve', reason: 'invoice checked' });
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'bob'), { decision: 'approve' });
    await h.as(t, 'carol'); // an approver who was not named
    const r = await oversight(id);
    expect(r.status).toBe(200);
    const o = r.body;
    expect(o.shown).toMatchObject({
      params: { amount: 900, note: 'for [REDACTED:email]' },
      redacted_paths: ['params.note'],
      edited_params: null,
      unredacted_kept: false,
      engine_recommendation: 'require_approval',
      channels: { slack: { channel: '#payments' }, inbox: true, api: true },
    });
    expect(JSON.stringify(o)).not.toContain('jane@example.com');
    expect(o.shown.reasons[0]).toMatchObject({ rule: 'pay', decision: 'require_approval' });
    expect(typeof o.shown.risk_score).toBe('number');
    expect(o.could_decide).toMatchObject({ rule: 'named_identities', identities: ['alice', 'bob'], unresolved: [], required_approvals: 2, on_timeout: 'reject', excluded: ['bot'] });
    expect(o.could_decide.resolved.map((p: { name: string }) => p.name)).toEqual(['alice', 'bob']);
    expect(o.when.votes.map((v: { approver: string; vote: string; channel: string }) => [v.approver, v.vote, v.channel])).toEqual([
      ['alice', 'approve', 'api'],
      ['bob', 'approve', 'api'],
    ]);
    expect(o.when.votes[0].reason).toBe('invoice checked');
    expect(o.when.decided_at).not.toBeNull();
    expect(o.outcome).toMatchObject({ status: 'approved', decided_by: 'bob', human_decided: true, overridden: false, override: null, stopped: false, stopped_by: null });
    expect(o.chain.events.map((e: { type: string }) => e.type)).toEqual(['requested', 'voted', 'voted', 'approved']);
    for (const e of o.chain.events) expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(o.chain.verification).toMatchObject({ intact: true, checked: 4, unchained: 0 });
  });

  it('a rejected approval was stopped by an approver; with any approver eligible, the people who existed are listed', async () => {
    const id = await park('wire.out');
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'reject', reason: 'unknown payee' });
    const o = (await oversight(id)).body;
    expect(o.could_decide.rule).toBe('any_approver');
    expect(o.could_decide.resolved.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['alice', 'bob', 'carol']));
    expect(o.outcome).toMatchObject({ status: 'rejected', decision_reason: 'unknown payee', human_decided: true, overridden: false, stopped: true, stopped_by: 'approver' });
    expect(o.chain.verification.intact).toBe(true);
  });

  it('a route limited to Slack users names the approvers behind them', async () => {
    const own = await h.tenant();
    await h.setPolicy(own, { defaults: { decision: 'require_approval', approvers: { slack_user_ids: ['U0ERIN'] } } });
    await h.as(own, 'erin', { slack_user_id: 'U0ERIN' });
    await h.as(own, 'frank', { slack_user_id: 'U0FRANK' });
    const g = await h.call('POST', '/v1/guard', own.agent, { action: 'x.y', agent_id: 'bot', idempotency_key: key() });
    const o = (await oversight(g.body.approval.id, own.approver)).body;
    expect(o.could_decide).toMatchObject({ rule: 'any_approver', slack_user_ids: ['U0ERIN'], slack_resolved: ['erin'] });
  });

  it('a person rejecting what the policy alone would have allowed is an override', async () => {
    // require_human: the caller asked for a person where the policy allows (HumanLayer function calls).
    const g = await h.rt.service.guard(t.tenant_id, { action: 'report.send', agent_id: 'bot', params: {}, context: {}, idempotency_key: key(), require_human: true });
    const id = g.approval!.id;
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'bob'), { decision: 'reject' });
    const o = (await oversight(id)).body;
    expect(o.shown.engine_recommendation).toBe('allow');
    expect(o.outcome).toMatchObject({ overridden: true, override: { kind: 'rejected_what_policy_allowed' }, stopped: true, stopped_by: 'approver' });
  });

  it('approved by on_timeout: approve with one of two votes: no human decided, overridden, not stopped', async () => {
    const id = await park('lenient.sync');
    await h.call('POST', `/v1/approvals/${id}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    const { expires_at } = (await h.call('GET', `/v1/approvals/${id}`, t.approver)).body;
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(expires_at).getTime() - Date.now()) + 50));
    expect((await h.rt.service.expire(id)).status).toBe('approved');
    const o = (await oversight(id)).body;
    expect(o.could_decide).toMatchObject({ on_timeout: 'approve', required_approvals: 2, timeout_seconds: 1 });
    expect(o.outcome).toMatchObject({
      status: 'approved',
      decided_by: 'system',
      decision_channel: 'timeout',
      human_decided: false,
      overridden: true,
      override: { kind: 'approved_on_timeout_without_human' },
      stopped: false,
    });
    expect(o.chain.events.map((e: { type: string }) => e.type)).toEqual(['requested', 'voted', 'expired']);
    expect(o.chain.verification.intact).toBe(true);
  });

  it('a cancelled approval was stopped by the agent', async () => {
    const id = await park('wire.out');
    expect((await h.call('POST', `/v1/approvals/${id}/cancel`, t.agent, {})).status).toBe(200);
    const o = (await oversight(id)).body;
    expect(o.outcome).toMatchObject({ status: 'cancelled', human_decided: false, overridden: false, stopped: true, stopped_by: 'agent' });
    expect(o.chain.verification.intact).toBe(true);
  });

  it('approvers and admins read it; an agent key is refused; another tenant gets 404', async () => {
    const id = await park('wire.out');
    expect((await oversight(id, t.agent)).status).toBe(403);
    expect((await oversight(id, t.admin)).status).toBe(200);
    const other = await h.tenant();
    const r = await oversight(id, other.approver);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    expect((await oversight('00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

describe('the chain proof', () => {
  it('holds on the stored events and fails on a doctored copy: changed content, a forged link, a missing link', async () => {
    // Two approvals interleave, so the second's events link to the first's in the tenant chain.
    const a = await park('wire.a');
    const b = await park('wire.b');
    await h.call('POST', `/v1/approvals/${a}/decision`, await h.as(t, 'alice'), { decision: 'approve' });
    await h.call('POST', `/v1/approvals/${b}/decision`, await h.as(t, 'alice'), { decision: 'reject' });
    const proofOf = (await oversight(b)).body.chain.verification;
    expect(proofOf).toMatchObject({ intact: true, checked: 3 });
    expect(proofOf.links_checked).toBeGreaterThan(0);

    const material = (await createOversight({ sql: h.rt.sql }).chainMaterial(t.tenant_id, [b])).get(b)!;
    expect(verifyApprovalChain(material.events, material.links).intact).toBe(true);
    const copy = () => structuredClone(material);

    const content = copy();
    content.events[1]!.data = { vote: 'approve', reason: null };
    expect(verifyApprovalChain(content.events, content.links)).toMatchObject({ intact: false, broken_at: content.events[1]!.id, why: 'hash does not match the content' });

    const forged = copy();
    const link = forged.links[0]!;
    link.actor = 'mallory';
    expect(verifyApprovalChain(forged.events, forged.links)).toMatchObject({ intact: false, why: 'the tenant chain event before it does not match its content' });

    const missing = copy();
    expect(verifyApprovalChain(missing.events, [])).toMatchObject({ intact: false, why: expect.stringMatching(/is missing/) });

    const reordered = copy();
    reordered.events.reverse();
    [reordered.events[0]!.seq, reordered.events[2]!.seq] = [reordered.events[2]!.seq, reordered.events[0]!.seq];
    expect(verifyApprovalChain(reordered.events, reordered.links).intact).toBe(false);
  });
});

describe('GET /v1/oversight/export', () => {
  it('one row per approval requested in the period, in CSV with the override and stop columns, or nested in JSON Lines', async () => {
    const own = await h.tenant();
    await h.setPolicy(own, POLICY);
    const g = async (action: string) => (await h.call('POST', '/v1/guard', own.agent, { action, agent_id: 'bot', idempotency_key: key() })).body.approval.id as string;
    const rejected = await g('wire.x');
    await h.call('POST', `/v1/approvals/${rejected}/decision`, await h.as(own, 'dana'), { decision: 'reject' });
    const cancelled = await g('wire.y');
    await h.call('POST', `/v1/approvals/${cancelled}/cancel`, own.agent, {});
    const pending = await g('wire.z');

    const csv = await h.app.request('/v1/oversight/export?format=csv', { headers: { authorization: `Bearer ${own.approver}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="oversight-.*\.csv"$/);
    const lines = parseCsv(await csv.text());
    const header = lines[0]!;
    for (const col of ['approval_id', 'shown_params', 'could_decide', 'votes', 'human_decided', 'overridden', 'stopped', 'stopped_by', 'chain_intact']) expect(header).toContain(col);
    expect(lines).toHaveLength(4);
    const at = (line: string[], col: string) => line[header.indexOf(col)];
    expect([rejected, cancelled, pending].map((id, i) => [at(lines[i + 1]!, 'approval_id'), at(lines[i + 1]!, 'stopped_by'), at(lines[i + 1]!, 'chain_intact')])).toEqual([
      [rejected, 'approver', 'true'],
      [cancelled, 'agent', 'true'],
      [pending, '', 'true'],
    ]);

    const jsonl = await h.app.request('/v1/oversight/export?format=jsonl', { headers: { authorization: `Bearer ${own.approver}` } });
    const records = (await jsonl.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.approval_id)).toEqual([rejected, cancelled, pending]);
    expect(records[0]).toMatchObject({ outcome: { stopped: true, stopped_by: 'approver' }, chain: { verification: { intact: true } } });

    const none = await h.app.request('/v1/oversight/export?format=jsonl&until=2020-01-01T00:00:00Z', { headers: { authorization: `Bearer ${own.approver}` } });
    expect(await none.text()).toBe('');
    expect((await h.app.request('/v1/oversight/export', { headers: { authorization: `Bearer ${own.agent}` } })).status).toBe(403);
  });
});
